"""Which secret goes to which host: (credential, destination) pairs of a campaign, and their changes.

A pull request that points an existing credential at a new host is the one change a reviewer must not miss:
``campaign plan`` prints each new (credential, destination) pair on its own line. Pairs come from a dry run of
each account's publish (placeholder credentials; nothing is sent) plus its destination settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from campaign.http.destinations import url_settings

# -- (credential, destination) pairs ------------------------------------------------------------------------


class _Campaign(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def accounts(self) -> Mapping[str, Any]: ...


Pair = tuple[str, str]


def _host_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{host}:{port}" if port is not None and port != default else host


def account_hosts(account: Any) -> set[str]:
    """The hosts one account's requests go to: a dry run of a publish (placeholder credentials, nothing is
    sent) plus every destination setting. Hosts the campaign cannot choose (inside a webhook URL credential)
    are named ``(host in $REF)``."""
    from campaign import channels
    from campaign.channels.base import Part
    from campaign.http.exchange import Recording, run_dry

    hosts = {h for _key, value in url_settings(account.settings) if (h := _host_of(value))}
    url_refs = [ref for name, ref in account.credentials.items() if name.endswith("url")]
    try:
        adapter = channels.load(account.channel)(account.to_account(placeholder=True))
        part = Part(post_id="destinations", idempotency_key="destinations", text="destinations")
        recording = Recording()
        run_dry(adapter.publish(part), adapter, part, recording)
        recorded = {f"{r.url.host}:{r.url.port}" if r.url.port else r.url.host for r in recording.requests}
    except Exception:  # an adapter that cannot dry-run without more data: settings still count
        recorded = set()
    if url_refs:
        recorded = {f"(host in {ref.describe()})" for ref in url_refs}
    return hosts | recorded


def credential_destinations(campaign: _Campaign) -> frozenset[Pair]:
    """Every (credential reference, destination host) pair of ``campaign``: each credential of an account
    paired with each host that account sends to. References are shown as ``$NAME`` or ``file PATH``."""
    pairs: set[Pair] = set()
    for account in campaign.accounts.values():
        refs = [ref.describe() for ref in account.credentials.values()]
        for host in account_hosts(account):
            pairs.update((ref, host) for ref in refs)
    return frozenset(pairs)


def changed_pairs(old: Iterable[Pair], new: Iterable[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(added, removed) pairs between two versions of a campaign, each sorted."""
    before, after = set(old), set(new)
    return sorted(after - before), sorted(before - after)


def describe_changes(old: Iterable[Pair], new: Iterable[Pair]) -> list[str]:
    """One line per changed pair, added first: what ``plan`` prints for a reviewer."""
    added, removed = changed_pairs(old, new)
    lines = [f"credential {ref} is now sent to {host} (new destination)" for ref, host in added]
    lines += [f"credential {ref} is no longer sent to {host}" for ref, host in removed]
    return lines


__all__ = ["Pair", "account_hosts", "changed_pairs", "credential_destinations", "describe_changes"]
