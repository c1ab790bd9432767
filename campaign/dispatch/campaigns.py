"""Accounts from campaign files: the dispatcher's :class:`~campaign.dispatch.ports.AccountDirectory` for
the daemon and ``simulate``.

The only module of :mod:`campaign.dispatch` that reads campaign files (:mod:`campaign.source.config`); the
dispatch core sees accounts only through the directory protocol. :mod:`campaign.source.config` is imported
where it is used, so importing this module stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from campaign.channels.base import Adapter
from campaign.errors import CampaignError, ConfigError

if TYPE_CHECKING:
    from campaign.source.config import AccountConfig, Campaign

logger = logging.getLogger(__name__)


def load_campaign_file(path: str | Path) -> Campaign:
    """The campaign defined by ``path`` (:func:`campaign.source.config.load_campaign`; ConfigError etc.)."""
    from campaign.source.config import load_campaign

    return load_campaign(path)


class CampaignDirectory:
    """Accounts from campaign files: built from loaded campaigns or every ``*.yaml`` of a folder.

    One adapter instance per (campaign, account) for the life of the directory (adapters may cache a
    session); :meth:`refresh` re-reads the folder and keeps the adapters whose account block is unchanged.
    ``placeholder`` credentials (dry runs) never read the environment.
    """

    def __init__(
        self,
        campaigns: Iterable[Campaign] = (),
        *,
        folder: Path | None = None,
        placeholder: bool = False,
        clock: Callable[[], datetime] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.placeholder = placeholder
        self.clock = clock
        self.environ = environ
        self.campaigns: dict[str, Campaign] = {c.name: c for c in campaigns}
        self._adapters: dict[tuple[str, str], tuple[AccountConfig, Adapter]] = {}
        #: Files that could not be loaded at the last refresh, with the error.
        self.errors: dict[str, str] = {}
        if folder is not None:
            self.refresh()

    def refresh(self) -> None:
        """Re-read every ``*.yaml`` campaign file of the folder (no-op without a folder)."""
        if self.folder is None:
            return
        found: dict[str, Campaign] = {}
        errors: dict[str, str] = {}
        for path in sorted(self.folder.glob("*.yaml")) + sorted(self.folder.glob("*.yml")):
            try:
                campaign = load_campaign_file(path)
            except CampaignError as exc:
                errors[str(path)] = str(exc)
                if self.errors.get(str(path)) != str(exc):
                    logger.error("campaign file skipped: %s", exc, extra={"action": "load"})
                continue
            if campaign.name in found:
                logger.warning(
                    "campaign %r is defined by more than one file; using %s",
                    campaign.name, found[campaign.name].path, extra={"action": "load"},
                )
                continue
            found[campaign.name] = campaign
        self.campaigns, self.errors = found, errors

    def _config(self, campaign: str, account: str) -> AccountConfig:
        camp = self.campaigns.get(campaign)
        if camp is None:
            where = f" in {self.folder}" if self.folder is not None else ""
            raise ConfigError(f"campaign {campaign!r} is queued but no campaign file{where} defines it")
        config = camp.accounts.get(account)
        if config is None:
            raise ConfigError(f"campaign {campaign!r} ({camp.display}) has no account {account!r}")
        return config

    def adapter(self, campaign: str, account: str) -> Adapter:
        config = self._config(campaign, account)
        cached = self._adapters.get((campaign, account))
        if cached is not None and cached[0] == config:
            return cached[1]
        from campaign import channels

        runtime = config.to_account(environ=self.environ, placeholder=self.placeholder)
        made = channels.load(config.channel)(runtime, clock=self.clock)
        self._adapters[(campaign, account)] = (config, made)
        return made

    def alert_adapter(self, campaign: str) -> Adapter | None:
        camp = self.campaigns.get(campaign)
        if camp is None or camp.alerts is None:
            return None
        return self.adapter(campaign, camp.alerts)

    def zone(self, campaign: str) -> str:
        camp = self.campaigns.get(campaign)
        return camp.zone if camp is not None else "UTC"

    def metrics_offsets(self, campaign: str) -> tuple[int, ...]:
        """Seconds after publication of each metrics reading of ``campaign`` (its ``metrics:``; the default
        schedule when its file is gone, so a post already sent is still measured)."""
        from campaign.source.config import DEFAULT_METRICS

        camp = self.campaigns.get(campaign)
        offsets = camp.metrics if camp is not None else DEFAULT_METRICS
        return tuple(int(o.total_seconds()) for o in offsets)
