"""The ``accounts:`` of a campaign file: each account's channel, credential references and settings, checked.

Credentials are references only (environment variable names or secret files), and only those the operator's
allow-list permits (:class:`campaign.secrets.SecretPolicy`); destination settings are checked at load time
(:func:`campaign.http.destinations.check_account_urls`). Every problem is one ConfigError naming
``file:line``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign import channels
from campaign.http.destinations import check_account_urls
from campaign.secrets import Credentials, SecretPolicy, SecretRef, parse_ref
from campaign.source.checker import _KEY, Checker, check_zone, did_you_mean
from campaign.source.yamlfile import Node

if TYPE_CHECKING:
    from campaign.channels.base import Account

ACCOUNT_KEYS = {"channel", "credentials", "zone", "slots", "threads", "limit"}


#: Settings every account may have, whatever its adapter (kept in the account's settings for the dispatcher).
GENERIC_SETTINGS = {
    "daily_quota": "at most this many posts on this account in any 24 hours",
    "private_network": "true to allow destinations in private address ranges (an intranet webhook)",
    "language": "BCP 47 tag of the account's posts, e.g. en or zh-Hant (one of the campaign's languages)",
}


@dataclass(frozen=True)
class AccountConfig:
    """One account as written in the campaign file (settings hold everything that is not structural)."""

    name: str
    channel: str
    settings: Mapping[str, Any]
    credentials: Mapping[str, SecretRef]
    zone: str | None
    slots: Mapping[str, Any] | None
    threads: bool | None
    line: int
    #: ``language:`` as written (canonical BCP 47), None when the account has none: in a campaign with
    #: ``languages:`` it then posts every language, and its ``language`` setting is the default language.
    language: str | None = None

    def to_account(
        self, *, environ: Mapping[str, str] | None = None, placeholder: bool = False, allow_http: bool = False
    ) -> Account:
        """The runtime :class:`campaign.channels.base.Account` (imports the adapter layer)."""
        from campaign.channels.base import Account

        creds = Credentials(self.credentials, account=self.name, environ=environ, placeholder=placeholder)
        return Account(self.name, self.channel, self.settings, creds, allow_http=allow_http)


def load_accounts(
    check: Checker, root: Node, base: Path, policy: SecretPolicy, *, languages: tuple[str, ...] = ()
) -> dict[str, AccountConfig]:
    """The campaign's accounts; each ``language:`` must be one of ``languages`` when the campaign has some."""
    raw = root.get("accounts")
    if not raw:
        raise check.fail("the campaign needs 'accounts'", root.line)
    raw = check.mapping(raw, "'accounts'", root.line_of("accounts"))
    known = channels.names()
    accounts = {
        name: _load_account(check, name, body, raw.line_of(name), known, base, policy)
        for name, body in raw.items()
    }
    return {name: _with_language(check, account, raw[name], languages) for name, account in accounts.items()}


def _with_language(
    check: Checker, account: AccountConfig, body: Node, languages: tuple[str, ...]
) -> AccountConfig:
    """``account`` with its ``language:`` checked (a BCP 47 tag; one of ``languages`` when there are some).

    Adapters read the ``language`` setting (Mastodon ``language``, Bluesky ``langs``); an account without one
    in a campaign with ``languages`` gets the default language there (its posts in other languages carry
    their own, :attr:`campaign.channels.base.Part.language`).
    """
    from dataclasses import replace

    from campaign.source.languages import check_tag, declared

    what = f"'language' of account {account.name!r}"
    line = body.line_of("language")
    raw = account.settings.get("language")
    if raw is None:
        if not languages:
            return account
        return replace(account, settings={**account.settings, "language": languages[0]})
    tag = declared(check, raw, languages, what, line) if languages else check_tag(check, raw, what, line)
    return replace(account, settings={**account.settings, "language": tag}, language=tag)


def _load_account(
    check: Checker, name: str, body: Any, line: int, known: list[str], base: Path, policy: SecretPolicy
) -> AccountConfig:
    """One account block; checks run in a fixed order, so the first problem in the block is the one named."""
    if not _KEY.match(name):
        raise check.fail(f"account name {name!r} may use letters, digits, '.', '_' and '-'", line)
    body = check.mapping(body, f"account {name!r}", line)
    channel = check.string(body, "channel", f"account {name!r}", required=True)
    assert channel is not None
    if channel not in known:
        raise check.fail(
            f"account {name!r}: unknown channel {channel!r}{did_you_mean(channel, known)} "
            f"(installed: {', '.join(known)})",
            body.line_of("channel"),
        )
    credentials = _account_credentials(check, name, channel, body, base, policy)
    settings = _account_settings(check, name, channel, body)
    zone = check.string(body, "zone", f"account {name!r}")
    if zone:
        check_zone(check, zone, body.line_of("zone"))
    for key in ("daily_quota", "limit"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise check.fail(f"{key!r} of account {name!r} must be a positive number", body.line_of(key))
    if body.get("limit") is not None:
        settings["limit"] = body["limit"]
    slots = body.get("slots")
    if slots is not None:
        slots = check.mapping(slots, f"'slots' of account {name!r}", body.line_of("slots"))
    return AccountConfig(
        name=name,
        channel=channel,
        settings=settings,
        credentials=credentials,
        zone=zone,
        slots=slots,
        threads=check.boolean(body, "threads", f"account {name!r}"),
        line=line,
    )


def _account_credentials(
    check: Checker, name: str, channel: str, body: Node, base: Path, policy: SecretPolicy
) -> dict[str, SecretRef]:
    """The account's credential references: each one the adapter reads, and none it requires missing."""
    creds_raw = body.get("credentials") or {}
    creds_node = (
        check.mapping(creds_raw, f"credentials of {name!r}", body.line_of("credentials"))
        if creds_raw
        else Node()
    )
    credentials = {
        cname: parse_ref(cname, value, base_dir=base, file=check.display, line=creds_node.line_of(cname))
        for cname, value in creds_node.items()
    }
    for cname, ref in credentials.items():  # the operator's allow-list, never the campaign file's
        policy.check(ref, credential=cname, account=name, file=check.display, line=creds_node.line_of(cname))
    adapter = channels.load(channel)  # (cached) after the references, so a secret in the file is named first
    unknown_creds = [c for c in credentials if c not in adapter.credential_names]
    if unknown_creds:
        raise check.fail(
            f"account {name!r} ({channel}): unknown credential {unknown_creds[0]!r}"
            f"{did_you_mean(unknown_creds[0], adapter.credential_names)} "
            f"(expected: {', '.join(adapter.credential_names)})",
            creds_node.line_of(unknown_creds[0]),
        )
    missing = [
        c for c in adapter.credential_names if c not in credentials and c not in adapter.optional_credentials
    ]
    if missing:
        raise check.fail(
            f"account {name!r} ({channel}) needs credentials: {', '.join(missing)}"
            " (each an environment variable name)",
            body.line,
        )
    return credentials


def _account_settings(check: Checker, name: str, channel: str, body: Node) -> dict[str, Any]:
    """The account's non-structural keys: the adapter's required ones present, none unknown, none a secret."""
    adapter = channels.load(channel)
    settings = {k: v for k, v in body.items() if k not in ACCOUNT_KEYS}
    for key in adapter.required_settings:
        if key not in settings:
            typo, about = did_you_mean(key, settings), adapter.required_settings[key]
            raise check.fail(
                f"account {name!r} ({channel}) needs setting {key!r}"
                + (f"{typo} ({about})" if typo else f": {about}"),
                body.line,
            )
    allowed = set(adapter.required_settings) | set(adapter.optional_settings) | set(GENERIC_SETTINGS)
    for key in settings:
        if allowed and key not in allowed:
            raise check.fail(
                f"unknown setting {key!r} for {channel} account {name!r}"
                f"{did_you_mean(key, allowed | ACCOUNT_KEYS)} "
                f"(expected: {', '.join(sorted(allowed | ACCOUNT_KEYS))})",
                body.line_of(key),
            )
        if isinstance(settings[key], str) and _looks_secret(key):
            raise check.fail(
                f"setting {key!r} looks like a secret: put it under credentials", body.line_of(key)
            )
    # Destinations are checked now (`check` time), not only at send: schemes, metadata and private addresses,
    # look-alikes, credentials or tokens in URLs.
    check_account_urls(settings, account=name, file=check.display, line_of=body.line_of)
    return settings


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("token", "secret", "password", "api_key", "apikey"))
