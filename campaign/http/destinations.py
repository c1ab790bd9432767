"""Where a campaign may send requests, checked when the campaign file is checked, not only at send time.

Every URL a campaign file names (an account's ``instance``, ``service``, ``url``, ``verify_url``...) goes
through :func:`check_destination`, a pure function: no DNS, because ``check`` and CI previews must give the
same answer on every machine and must not depend on (or leak to) the network. Refused, with one
:class:`~campaign.errors.ConfigError` line naming the file, line and key (never a secret):

* schemes other than ``https`` (``file:``, ``gopher:``, ``ftp:``, ``data:``...); ``http://`` only to a
  loopback host, for tests against local fakes (``allow_loopback_http``);
* link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00::/8 (AWS's fd00:ec2::254),
  100.100.100.200, ``metadata``, ``metadata.google.internal``), unspecified, multicast, broadcast and
  reserved addresses, 0.0.0.0/8: always;
* private and other non-global addresses (10/8, 172.16/12, 192.168/16, 100.64/10 shared address space,
  fc00::/8, benchmarking and documentation ranges), single-label names (resolved through search domains)
  and internal suffixes (``.internal``, ``.local``, ``.lan``, ``.home.arpa``...) unless the account opts in
  (``allow_private``);
* loopback (127/8, ::1, exactly ``localhost``) unless ``allow_loopback_http`` (tests);
* every IPv4 form other than canonical dotted decimal (``2852039166``, ``0xA9FEA9FE``,
  ``0251.0376.0251.0376``, ``169.254.43518``, ``127.1``), whatever it denotes; IPv6 addresses embedding an
  IPv4 one (mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64 ``64:ff9b::/96``) are judged by that address;
* ``localhost`` lookalikes (``evil.localhost``, ``localhost.``, ``localhost.example.com``), any trailing dot,
  percent-encoded or otherwise invalid host names (Unicode names are checked in their IDNA form, so
  fullwidth ``ｌｏｃａｌｈｏｓｔ`` is ``localhost``);
* names that embed a non-global IPv4 address for wildcard DNS services (``169.254.169.254.nip.io``,
  ``10-0-0-1.sslip.io``): a heuristic. A name that merely *resolves* to an internal address (its own DNS
  record, DNS rebinding) cannot be recognised without DNS; the transport must check the address it
  connects to for that;
* ``user:password@`` in the URL, and query parameters that carry secrets (``token``, ``access_token``,
  ``key``, ``api_key``, ``secret``, ``password``, ``sig``...), refused like inline credentials
  (:class:`~campaign.errors.CredentialsInFileError`); well-known webhook URLs, which are secrets themselves
  (Slack, Discord, Teams, Telegram bot URLs), belong under ``credentials``.

:func:`credential_destinations` lists the (credential reference, destination host) pairs of a campaign and
:func:`changed_pairs` / :func:`describe_changes` the difference between two versions, so ``plan`` can put
"``$X_TOKEN`` is now also sent to evil.example" on a line of its own for the reviewer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from campaign.errors import ConfigError, CredentialsInFileError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Query parameter names that carry secrets (compared lower-case, with ``-`` read as ``_``).
SECRET_PARAMS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "auth", "auth_token", "authorization",
        "bearer", "jwt", "key", "api_key", "apikey", "app_key", "secret", "client_secret", "password",
        "passwd", "pwd", "pass", "sig", "signature", "x_amz_signature", "x_amz_credential",
        "x_amz_security_token", "x_goog_signature", "x_goog_credential", "sv", "se", "sp", "session",
        "sessionid", "session_id", "private_token", "credential", "credentials",
    }
)  # fmt: skip
# (Azure SAS tokens are sv/se/sp/sig; GitLab's private_token; S3 and GCS pre-signed URLs.)

#: Always refused, opt-in or not: link-local, cloud metadata, unusable addresses.
_ALWAYS_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
        "169.254.0.0/16",  # link-local, including the metadata service 169.254.169.254
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including the broadcast address
        "::/128",
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "fd00::/8",  # unique local, including AWS's metadata fd00:ec2::254
        "ff00::/8",  # multicast
    )
)
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
)
_INTERNAL_SUFFIXES = (
    ".internal", ".local", ".localdomain", ".lan", ".home.arpa", ".intranet", ".corp", ".home",
    ".private",
)  # fmt: skip
#: URLs that are secrets themselves: they must be credentials, never settings (path prefixes after the host).
_SECRET_URLS = (
    ("hooks.slack.com", "/services/"),
    ("discord.com", "/api/webhooks/"),
    ("discordapp.com", "/api/webhooks/"),
    ("api.telegram.org", "/bot"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_EMBEDDED_V4 = re.compile(r"(?<![0-9])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?![0-9])")


def _fail(message: str, what: str, file: str | None, line: int | None) -> ConfigError:
    return ConfigError(f"{what}: {message}", file=file, line=line)


def _safe_display(url: str) -> str:
    """The URL with user info and query removed, for messages (either may hold a secret)."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else host + parts.path
    except ValueError:
        return "the URL"


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """The address ``host`` denotes under inet_aton rules (1-4 parts; decimal, 0x hex, 0-octal), or None.

    Browsers and many resolvers accept these forms (``http://2852039166/`` is 169.254.169.254).
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_LABEL.match(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part.startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if any(c in "89" for c in part):
                return None
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for index, value in enumerate(head):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify_address(address: IPAddress) -> str:
    """``"blocked"``, ``"loopback"``, ``"private"`` (non-global) or ``"public"``."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return classify_address(inner)
    if any(address in net for net in _ALWAYS_BLOCKED if net.version == address.version):
        return "blocked"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified or address.is_multicast or address.is_link_local or address.is_reserved:
        return "blocked"
    if not address.is_global:
        return "private"
    return "public"


def _normalise_host(raw: str) -> str:
    """The host as it will be looked up: lower-cased and, when not ASCII, IDNA-encoded exactly as httpx
    encodes it when the request is built (IDNA 2008 through the ``idna`` package, no UTS #46 mapping), so
    the host checked is the host connected to. ValueError(reason) if invalid.

    Python's own ``"idna"`` codec (IDNA 2003) is not used: it maps ``faß.de`` to ``fass.de`` and a
    full-width ``ｍ`` to ``m``, where httpx sends to ``xn--fa-hia.de`` and refuses the ``ｍ``."""
    if not raw:
        raise ValueError("has no host")
    if "%" in raw:
        raise ValueError("has a percent-encoded host")
    if raw.isascii():
        return raw.lower()
    import idna

    try:
        return str(idna.encode(raw.lower()).decode("ascii"))
    except idna.IDNAError as exc:
        raise ValueError(f"has an invalid international host name ({exc})") from None


def _check_host(host: str, *, allow_private: bool, allow_loopback: bool) -> str | None:
    """Why ``host`` (from a URL, brackets removed) is refused, or None. ``host`` is already normalised."""
    try:
        address: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None:
        if host.endswith("."):
            return "a host name with a trailing dot is refused (write it without the dot)"
        loose = parse_ipv4_loose(host)
        if loose is not None:
            return f"an IPv4 address must be written in dotted decimal (this is {loose} written another way)"
        labels = host.split(".")
        if _NUMERIC_LABEL.match(labels[-1]):
            return "a host name cannot end in a number"
        if not all(_LABEL.match(label) for label in labels):
            return "has an invalid host name"
        if host == "localhost":
            return None if allow_loopback else "loopback hosts are only for tests"
        if "localhost" in labels:
            return "a look-alike of localhost is refused (use localhost or 127.0.0.1)"
        if host in _METADATA_NAMES:
            return "a cloud metadata service is never a destination"
        for match in _EMBEDDED_V4.finditer(host):
            if any(int(group) > 255 for group in match.groups()):
                continue
            embedded = ipaddress.IPv4Address(".".join(str(int(group)) for group in match.groups()))
            kind = classify_address(embedded)
            if kind == "blocked" or kind == "loopback" or (kind == "private" and not allow_private):
                return f"the name embeds the non-public address {embedded} (a wildcard DNS name)"
        if allow_private:
            return None
        if len(labels) == 1:
            return "a single-label host name is a private network name (the account may set private_network)"
        if host.endswith(_INTERNAL_SUFFIXES):
            return "an internal host name is a private network name (the account may set private_network)"
        return None
    kind = classify_address(address)
    if kind == "blocked":
        return f"{address} is a link-local, metadata or reserved address"
    if kind == "loopback":
        return None if allow_loopback else "loopback addresses are only for tests"
    if kind == "private" and not allow_private:
        return f"{address} is a private network address (the account may set private_network: true)"
    return None


# Long because the checks are a fixed sequence (scheme, credentials in the URL, host form, address class),
# each a few lines, and the first that fails must be the one reported.
def check_destination(
    url: str,
    *,
    allow_private: bool = False,
    allow_loopback_http: bool = True,
    what: str = "URL",
    file: str | None = None,
    line: int | None = None,
) -> None:
    """Refuse ``url`` as a destination unless it passes every rule in the module docstring.

    ``what`` names the key in messages (``"setting 'instance' of account 'm'"``); ``file``/``line`` locate
    it. Raises :class:`ConfigError` (or :class:`CredentialsInFileError` for a secret in the URL). Loopback
    hosts are allowed, over http too, only with ``allow_loopback_http`` (tests against local fakes).
    """
    if not isinstance(url, str) or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _fail("must be a URL without spaces or control characters", what, file, line)
    shown = _safe_display(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _fail(f"{shown} is not a valid URL ({exc})", what, file, line) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _fail(
            f"{shown}: only https:// URLs are allowed, not {scheme or 'a relative'} URL", what, file, line
        )
    if "@" in parts.netloc:
        raise CredentialsInFileError(
            f"{what}: {shown}: user name or password in a URL is refused; put secrets under credentials",
            file=file,
            line=line,
        )
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower().replace("-", "_") in SECRET_PARAMS:
            raise CredentialsInFileError(
                f"{what}: {shown}: query parameter {name!r} carries a secret; put it under credentials",
                file=file,
                line=line,
            )
    try:
        host = _normalise_host(parts.hostname or "")
    except ValueError as exc:
        raise _fail(f"{shown} {exc}", what, file, line) from None
    if port == 0:
        raise _fail(f"{shown}: port 0 is not a destination", what, file, line)
    for secret_host, prefix in _SECRET_URLS:
        if host == secret_host and parts.path.startswith(prefix):
            raise CredentialsInFileError(
                f"{what}: a {secret_host} URL is itself a secret; put it under credentials",
                file=file,
                line=line,
            )
    reason = _check_host(host, allow_private=allow_private, allow_loopback=allow_loopback_http)
    if reason is not None:
        raise _fail(f"{shown}: {reason}", what, file, line)
    if scheme == "http" and not _is_loopback(host):
        raise _fail(
            f"{shown}: only https:// URLs are allowed (http:// only to loopback, for tests)", what, file, line
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return classify_address(ipaddress.ip_address(host)) == "loopback"
    except ValueError:
        return False


def url_settings(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (key, value) pairs of account settings that are destinations.

    Any string containing ``://``, and any key named like a destination (``url``, ``*_url``, ``instance``,
    ``service``, ``endpoint``, ``server``, ``host``, ``base_url``).
    """
    return [
        (key, value)
        for key, value in settings.items()
        if isinstance(value, str) and (_named_destination(key) or "://" in value)
    ]


#: Account settings that are destinations by their name, whatever they hold.
_DESTINATION_KEYS = frozenset({"url", "instance", "service", "endpoint", "server", "host", "base_url"})
#: How a YAML value that is not text is named in a message.
_KINDS = {type(None): "empty", bool: "true/false", int: "a number", float: "a number", list: "a list"}


def _named_destination(key: str) -> bool:
    return key in _DESTINATION_KEYS or key.endswith("_url")


def check_account_urls(
    settings: Mapping[str, Any],
    *,
    account: str,
    file: str | None = None,
    line_of: Any = None,
    allow_loopback_http: bool = True,
) -> None:
    """Check every destination setting of one account (``private_network: true`` opts in to private ranges).

    ``line_of(key)`` (a :class:`~campaign.source.yamlfile.Node`'s) gives each key's line for messages.
    """
    allow_private = settings.get("private_network") is True
    for key, value in settings.items():  # a number or a list where a URL belongs is not skipped
        if _named_destination(key) and not isinstance(value, str):
            line = line_of(key) if line_of is not None else None
            what = f"setting {key!r} of account {account!r}"
            raise _fail(f"must be a URL, not {_KINDS.get(type(value), 'a mapping')}", what, file, line)
    for key, value in url_settings(settings):
        check_destination(
            value,
            allow_private=allow_private,
            allow_loopback_http=allow_loopback_http,
            what=f"setting {key!r} of account {account!r}",
            file=file,
            line=line_of(key) if line_of is not None else None,
        )


__all__ = [
    "SECRET_PARAMS",
    "check_account_urls",
    "check_destination",
    "classify_address",
    "parse_ipv4_loose",
    "url_settings",
]
