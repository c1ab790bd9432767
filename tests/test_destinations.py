"""Destinations are checked at check time: schemes, addresses, look-alikes, secrets in URLs (issue 11).

Table-driven: each row is a URL and the phrase its refusal must contain (or None: accepted). No DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from campaign.errors import ConfigError, CredentialsInFileError
from campaign.http.destinations import (
    check_account_urls,
    check_destination,
    classify_address,
    parse_ipv4_loose,
)
from campaign.plan.destinations import changed_pairs, credential_destinations, describe_changes

ACCEPTED = [
    "https://mastodon.social",
    "https://mastodon.social/",
    "https://bsky.social/xrpc",
    "https://example.com:8443/hooks/in?utm_source=x&page=2",
    "https://93.184.216.34/",  # a public address
    "https://[2606:4700:4700::1111]/",  # a public IPv6 address
    "https://xn--bcher-kva.example/",  # IDNA
    "https://bücher.example/",  # Unicode, checked in its IDNA form
    "http://127.0.0.1:8080/api",  # loopback over http: tests against local fakes
    "http://localhost:2583/xrpc",
    "http://[::1]:9000/",
    "https://1.2.3.4.example.com/",  # embeds a public address: fine
]

REFUSED = [
    # schemes
    ("file:///etc/passwd", "only https:// URLs are allowed, not file"),
    ("gopher://127.0.0.1:6379/_INFO", "not gopher"),
    ("ftp://example.com/x", "not ftp"),
    ("data:text/plain,hi", "not data"),
    ("javascript:alert(1)", "not javascript"),
    ("//example.com/x", "not a relative"),
    ("mastodon.social", "not a relative"),
    ("http://example.com/", "http:// only to loopback"),
    ("HTTP://example.com/", "http:// only to loopback"),
    # link-local and metadata
    ("https://169.254.169.254/latest/meta-data/", "link-local, metadata or reserved"),
    ("https://169.254.0.1/", "link-local, metadata or reserved"),
    ("http://169.254.169.254/", "link-local, metadata or reserved"),
    ("https://[fe80::1]/", "link-local, metadata or reserved"),
    ("https://[fd00:ec2::254]/", "link-local, metadata or reserved"),
    ("https://[fd12:3456::1]/", "link-local, metadata or reserved"),
    ("https://100.100.100.200/", "link-local, metadata or reserved"),
    ("https://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ("https://metadata/", "cloud metadata service"),
    ("https://0.0.0.0/", "link-local, metadata or reserved"),
    ("https://[::]/", "link-local, metadata or reserved"),
    ("https://224.0.0.1/", "link-local, metadata or reserved"),
    ("https://255.255.255.255/", "link-local, metadata or reserved"),
    # other IPv4 forms, whatever they denote
    ("http://2852039166/", "this is 169.254.169.254 written another way"),
    ("https://0xA9FEA9FE/", "this is 169.254.169.254 written another way"),
    ("https://0xa9.0xfe.0xa9.0xfe/", "this is 169.254.169.254 written another way"),
    ("https://0251.0376.0251.0376/", "this is 169.254.169.254 written another way"),
    ("https://169.254.43518/", "this is 169.254.169.254 written another way"),
    ("http://127.1/", "this is 127.0.0.1 written another way"),
    ("https://016.0.0.1/", "this is 14.0.0.1 written another way"),
    ("https://1.2.3.4.5/", "cannot end in a number"),
    ("https://example.0x10/", "cannot end in a number"),
    # IPv6 embedding IPv4
    ("https://[::ffff:169.254.169.254]/", "link-local, metadata or reserved"),
    ("https://[::ffff:a9fe:a9fe]/", "link-local, metadata or reserved"),
    ("https://[::ffff:10.0.0.1]/", "private network address"),
    ("https://[2002:a9fe:a9fe::1]/", "link-local, metadata or reserved"),  # 6to4
    ("https://[64:ff9b::a9fe:a9fe]/", "link-local, metadata or reserved"),  # NAT64
    # private ranges (no opt-in)
    ("https://10.0.0.1/", "private network address"),
    ("https://172.16.5.4/", "private network address"),
    ("https://192.168.1.1/", "private network address"),
    ("https://100.64.0.1/", "private network address"),
    ("https://intranet/", "single-label host name"),
    ("https://wiki.corp/", "internal host name"),
    ("https://printer.local/", "internal host name"),
    ("https://db.internal/", "internal host name"),
    # localhost look-alikes and odd hosts
    ("https://evil.localhost/", "look-alike of localhost"),
    ("http://evil.localhost:8080/", "look-alike of localhost"),
    ("https://localhost./", "trailing dot"),
    ("https://mastodon.social./", "trailing dot"),
    ("https://localhost.example.com/", "look-alike of localhost"),
    # Full-width letters: IDNA 2003 would map them to "localhost"; httpx (IDNA 2008) refuses them, and so does
    # the check, which encodes hosts as httpx does.
    ("https://ｌｏｃａｌｈｏｓｔ.evil.com/", "invalid international host name"),
    ("https://ｍastodon.social/", "invalid international host name"),
    ("https://a\u200db.example/", "invalid international host name"),  # a zero-width joiner
    ("https://%6c%6fcalhost/", "percent-encoded host"),
    ("https://exa mple.com/", "without spaces or control characters"),
    ("https://example.com/\n", "without spaces or control characters"),
    ("https:///path", "has no host"),
    ("https://ex_ample..com/", "invalid host name"),
    ("https://example.com:99999/", "is not a valid URL"),
    ("https://example.com:0/", "port 0"),
    # names that embed internal addresses (wildcard DNS)
    ("https://169.254.169.254.nip.io/", "embeds the non-public address 169.254.169.254"),
    ("https://10-0-0-1.sslip.io/", "embeds the non-public address 10.0.0.1"),
    ("https://app.127.0.0.1.nip.io/", "embeds the non-public address 127.0.0.1"),
]

SECRETS_IN_URLS = [
    ("https://user:pass@example.com/", "user name or password in a URL"),
    ("https://token@example.com/", "user name or password in a URL"),
    ("https://example.com/hook?token=abc123", "query parameter 'token' carries a secret"),
    ("https://example.com/hook?access_token=abc", "'access_token'"),
    ("https://example.com/hook?KEY=abc", "'KEY'"),
    ("https://example.com/hook?api-key=abc", "'api-key'"),
    ("https://example.com/hook?page=1&api_key=abc", "'api_key'"),
    ("https://example.com/hook?secret=", "'secret'"),
    ("https://example.com/hook?password=x", "'password'"),
    ("https://example.com/hook?sig=x&se=2030", "'sig'"),
    ("https://s3.example.com/o?X-Amz-Signature=ab", "'X-Amz-Signature'"),
    ("https://hooks.slack.com/services/T000/B000/XXXX", "is itself a secret"),
    ("https://discord.com/api/webhooks/1/abc", "is itself a secret"),
    ("https://api.telegram.org/bot123:abc/sendMessage", "is itself a secret"),
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url: str) -> None:
    check_destination(url)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_destination(url, what="setting 'instance' of account 'm'", file="c.yaml", line=9)
    message = str(info.value)
    assert message.startswith("c.yaml:9: setting 'instance' of account 'm': ")
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(("url", "reason"), SECRETS_IN_URLS)
def test_secrets_in_urls_are_refused_like_inline_credentials(url: str, reason: str) -> None:
    with pytest.raises(CredentialsInFileError) as info:
        check_destination(url, what="setting 'url' of account 'hook'", file="c.yaml", line=4)
    message = str(info.value)
    assert reason in message
    for secret in ("pass", "abc123", "XXXX", "bot123:abc", "=ab"):
        assert secret not in message.replace("password", "").replace("carries", "")


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/",
        "https://192.168.1.20:8443/",
        "https://[::ffff:10.0.0.1]/",
        "https://intranet/",
        "https://wiki.corp/",
        "https://10-0-0-1.sslip.io/",
    ],
)
def test_private_ranges_need_the_accounts_opt_in(url: str) -> None:
    with pytest.raises(ConfigError):
        check_destination(url)
    check_destination(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/",
        "https://[fd00:ec2::254]/",
        "https://metadata.google.internal/",
        "http://2852039166/",
        "https://evil.localhost/",
        "file:///etc/passwd",
        "http://10.0.0.1/",  # http stays loopback-only
    ],
)
def test_the_opt_in_never_reaches_metadata_link_local_or_lookalikes(url: str) -> None:
    with pytest.raises(ConfigError):
        check_destination(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "https://localhost/", "https://[::1]/"])
def test_loopback_is_only_for_tests(url: str) -> None:
    check_destination(url)
    with pytest.raises(ConfigError, match="only for tests"):
        check_destination(url, allow_loopback_http=False)


def test_no_dns_is_ever_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("check_destination must not resolve names")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(socket, "gethostbyname", no_dns)
    for url in ACCEPTED:
        check_destination(url)


def test_loose_ipv4_parsing_agrees_with_inet_aton() -> None:
    for text in [
        "2852039166",
        "0xA9FEA9FE".lower(),
        "0251.0376.0251.0376",
        "169.254.43518",
        "127.1",
        "10.1.2",
    ]:
        assert parse_ipv4_loose(text) == ipaddress.IPv4Address(socket.inet_aton(text))
    for text in ["256.1.1.1", "1.2.3.4.5", "08.1.1.1", "example", "4294967296", ""]:
        assert parse_ipv4_loose(text) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", "public"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "blocked"),
        ("fd00:ec2::254", "blocked"),
        ("240.0.0.1", "blocked"),
    ],
)
def test_address_classes(address: str, kind: str) -> None:
    assert classify_address(ipaddress.ip_address(address)) == kind


def test_account_settings_are_checked_by_key_with_lines() -> None:
    lines = {"instance": 12, "verify_url": 14}
    check_account_urls({"instance": "https://mastodon.social", "language": "en"}, account="m")
    with pytest.raises(ConfigError, match=r"^c.yaml:14: setting 'verify_url' of account 'w': "):
        check_account_urls(
            {"url": "https://hooks.example.com/in", "verify_url": "file:///etc/passwd"},
            account="w",
            file="c.yaml",
            line_of=lines.get,
        )
    with pytest.raises(ConfigError, match=r"c\.yaml:12: setting 'instance'"):
        check_account_urls({"instance": "https://10.0.0.5"}, account="m", file="c.yaml", line_of=lines.get)
    check_account_urls({"instance": "https://10.0.0.5", "private_network": True}, account="m")
    with pytest.raises(ConfigError, match="not a relative"):
        check_account_urls({"service": "bsky.social"}, account="b")  # named like a destination
    for value in (12, 1.5, ["https://a.example"], {"url": "https://a.example"}, None, True):
        with pytest.raises(ConfigError, match=r"c\.yaml:12: setting 'instance' of account 'm': must be a U"):
            check_account_urls({"instance": value}, account="m", file="c.yaml", line_of=lines.get)


@pytest.mark.parametrize(
    "host", ["bücher.example", "faß.de", "MÜNCHEN.de", "mastodon｡social", "ｍastodon.social", "a\u200db.ex"]
)
def test_the_host_checked_is_the_host_httpx_connects_to(host: str) -> None:
    """IDNA as httpx applies it when the request is built: ``faß.de`` is ``xn--fa-hia.de`` there, not
    ``fass.de`` (IDNA 2003), so the check sees the same host, or refuses what httpx would refuse."""
    import httpx

    from campaign.http.destinations import _normalise_host

    try:
        sent = httpx.URL(f"https://{host}/").raw_host.decode("ascii")
    except httpx.InvalidURL:
        with pytest.raises(ValueError, match="invalid international host name"):
            _normalise_host(host.lower())
        return
    assert _normalise_host(host.lower()) == sent
    check_destination(f"https://{host}/")


# -- (credential, destination) pairs -------------------------------------------------------------------


CAMPAIGN = """\
campaign: pairs
release: release.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
accounts:
  m:
    channel: mastodon
    instance: {instance}
    credentials:
      token: CAMPAIGN_MASTODON_TOKEN
  x:
    channel: x
    credentials:
      token: CAMPAIGN_X_TOKEN
  s:
    channel: slack
    credentials:
      webhook_url: CAMPAIGN_SLACK_WEBHOOK_URL
posts:
  - key: launch
    when: "+0d 09:00"
    text: hello
"""


def pairs_for(tmp_path: Path, instance: str) -> frozenset[tuple[str, str]]:
    from campaign.source.config import load_campaign

    path = tmp_path / f"{abs(hash(instance))}.yaml"
    path.write_text(CAMPAIGN.format(instance=instance), encoding="utf-8")
    return credential_destinations(load_campaign(path))


def test_credential_destination_pairs_and_what_plan_prints(tmp_path: Path) -> None:
    before = pairs_for(tmp_path, "https://mastodon.social")
    assert before == {
        ("$CAMPAIGN_MASTODON_TOKEN", "mastodon.social"),
        ("$CAMPAIGN_X_TOKEN", "api.x.com"),
        ("$CAMPAIGN_SLACK_WEBHOOK_URL", "(host in $CAMPAIGN_SLACK_WEBHOOK_URL)"),
    }
    after = pairs_for(tmp_path, "https://collector.evil.example:8443")
    added, removed = changed_pairs(before, after)
    assert added == [("$CAMPAIGN_MASTODON_TOKEN", "collector.evil.example:8443")]
    assert removed == [("$CAMPAIGN_MASTODON_TOKEN", "mastodon.social")]
    assert describe_changes(before, after) == [
        "credential $CAMPAIGN_MASTODON_TOKEN is now sent to collector.evil.example:8443 (new destination)",
        "credential $CAMPAIGN_MASTODON_TOKEN is no longer sent to mastodon.social",
    ]
    assert describe_changes(before, before) == []
