"""Mastodon accounts on a fake platform, as the dispatcher's account directory (tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign.channels.base import Account, Adapter
from campaign.channels.mastodon import MastodonAdapter
from campaign.plan.posts import PlannedPost
from campaign.secrets import Credentials, SecretRef


def token(account: str) -> str:
    """The bearer token account ``account`` authenticates with (the fake platform's account key)."""
    return f"token-{account}"


class FakeDirectory:
    """Every account is a Mastodon account on ``url`` (with ``settings`` besides its instance, such as a
    ``daily_quota``); one adapter per account, built on first use.

    Satisfies :class:`campaign.dispatch.dispatcher.AccountDirectory`; campaigns have no alert account.
    """

    def __init__(
        self, url: str, clock: Callable[[], datetime] | None = None, *,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.clock = clock or (lambda: datetime.now(UTC))
        self.settings = dict(settings or {})
        self._adapters: dict[str, Adapter] = {}

    def adapter(self, campaign: str, account: str) -> Adapter:
        made = self._adapters.get(account)
        if made is None:
            credentials = Credentials(
                {"token": SecretRef(env="TOKEN")}, account=account, environ={"TOKEN": token(account)}
            )
            settings = {"instance": self.url, **self.settings}
            made = MastodonAdapter(Account(account, "mastodon", settings, credentials), clock=self.clock)
            self._adapters[account] = made
        return made

    def alert_adapter(self, campaign: str) -> Adapter | None:
        return None


def mastodon_posts(
    n: int, *, accounts: int, at: datetime, campaign: str = "bench", text: str = "Post {i} #bench"
) -> list[PlannedPost]:
    """``n`` one-part Mastodon posts spread round-robin over accounts ``acct0`` .. ``acct<accounts-1>``."""
    return [
        PlannedPost(
            campaign=campaign,
            post_key=f"p{i}",
            occurrence="",
            channel="mastodon",
            account=f"acct{i % accounts}",
            scheduled_at=at,
            zone="UTC",
            parts=(text.format(i=i),),
        )
        for i in range(n)
    ]


def write_campaign(folder: Path, url: str, *, name: str, accounts: int, release: Path) -> Path:
    """A valid campaign file in ``folder`` whose accounts ``acct0`` .. are Mastodon accounts on ``url``.

    Account ``acctN`` reads its token from ``$CAMPAIGN_FAKE_TOKEN_N`` (see :func:`token_env`; the name follows
    the default credential allow-list). The file's own single post is never applied: tests and benchmarks
    queue posts through the store, and the daemon only needs the file to find each queued post's account.
    """
    (folder / "release.txt").write_bytes(release.read_bytes())
    templates = folder / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "launch.j2").write_text("{{ release.title | shorten(200) }}\n", encoding="utf-8")
    blocks = "".join(
        f"  acct{i}:\n    channel: mastodon\n    instance: {url}\n"
        f"    credentials:\n      token: CAMPAIGN_FAKE_TOKEN_{i}\n"
        for i in range(accounts)
    )
    path = folder / f"{name}.yaml"
    path.write_text(
        f"campaign: {name}\nrelease: release.txt\ntemplates: templates\nzone: UTC\n"
        f'start: "2030-03-02 09:00"\naccounts:\n{blocks}posts:\n  - key: launch\n    when: "+0d 09:00"\n',
        encoding="utf-8",
    )
    return path


def token_env(accounts: int) -> dict[str, str]:
    """The environment variables holding the tokens of the accounts :func:`write_campaign` configures."""
    return {f"CAMPAIGN_FAKE_TOKEN_{i}": token(f"acct{i}") for i in range(accounts)}
