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
    from campaign.source.accounts import AccountConfig
    from campaign.source.config import Campaign

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
        self._seen: tuple[tuple[str, int, int], ...] = ()
        if folder is not None:
            self.refresh()

    def refresh(self) -> None:
        """Re-read every ``*.yaml`` campaign file of the folder (no-op without a folder).

        A file that cannot be loaded is skipped and logged once (as an error) until it changes: the other
        campaigns keep their accounts, and its own queued posts wait (deferred, never dropped). A campaign
        name declared by two files is an error naming both, and neither is used: posts are never routed
        to the accounts of a file that merely reuses a name.
        """
        if self.folder is None:
            return
        from campaign.source.names import campaign_files, clash_error

        self._seen = self._signature()
        loaded: dict[str, list[Campaign]] = {}
        errors: dict[str, str] = {}
        for path in campaign_files(self.folder):
            try:
                campaign = load_campaign_file(path)
            except CampaignError as exc:
                errors[str(path)] = str(exc)
                continue
            except Exception as exc:  # a bug met on one file: that file is skipped, the others still load
                logger.debug("campaign file %s could not be loaded", path, exc_info=True)
                errors[str(path)] = f"{path}: internal error ({type(exc).__name__}); please report it"
                continue
            loaded.setdefault(campaign.name, []).append(campaign)
        found: dict[str, Campaign] = {}
        for name, same in loaded.items():
            if len(same) == 1:
                found[name] = same[0]
                continue
            clash = str(clash_error(name, [c.path for c in same]))
            errors.update({str(c.path): clash for c in same})
        for file, error in errors.items():
            if self.errors.get(file) != error:
                logger.error("campaign file skipped: %s", error, extra={"action": "load", "file": file})
        for file in self.errors.keys() - errors.keys():
            logger.info("campaign file loaded again: %s", file, extra={"action": "load", "file": file})
        self.campaigns, self.errors = found, errors
        # Adapters of campaigns and accounts no file defines any more (or defines otherwise) cannot be used
        # again (:meth:`adapter` checks the file first): drop them, so a daemon that sees campaigns come and
        # go for months keeps only the current ones.
        self._adapters = {
            key: (config, made) for key, (config, made) in self._adapters.items()
            if key[0] in found and found[key[0]].accounts.get(key[1]) == config
        }

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        """(name, mtime_ns, size) of every campaign file: what :meth:`refresh_if_changed` compares."""
        from campaign.source.names import campaign_files

        if self.folder is None:
            return ()
        out = []
        for path in campaign_files(self.folder):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def refresh_if_changed(self) -> bool:
        """Re-read the folder when a campaign file was added, removed or changed; True when it did.

        The daemon calls this on its safety tick, so a fixed file is picked up without a queue change.
        """
        if self.folder is None or self._signature() == self._seen:
            return False
        self.refresh()
        return True

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
