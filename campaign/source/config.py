"""Campaign files (``schedules/*.yaml``): loading and validating them into plain, typed values.

Every problem is a :class:`~campaign.errors.ConfigError` naming ``file:line``. Validation needs no network and
no credentials; channel names are checked against the installed adapters (entry points) and credentials
only as *references* (environment variable names or secret files, never values). See README
"Campaign files" for the full schema; ``campaign init --from-release`` writes a complete example.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign import channels
from campaign.secrets import SecretPolicy
from campaign.source import languages
from campaign.source.accounts import AccountConfig, load_accounts
from campaign.source.checker import _KEY, Checker, check_zone, did_you_mean, parse_duration
from campaign.source.media_config import with_media
from campaign.source.paths import Kind, confine_campaign_file, find_project_root, resolve_inside
from campaign.source.yamlfile import Node, NodeList, load_yaml

if TYPE_CHECKING:
    from campaign.source.media_config import MediaSpec

#: When a sent post's counts are read back unless the campaign says otherwise: 1 hour, 1 day, 1 week.
DEFAULT_METRICS = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))
MAX_METRICS_AFTER = timedelta(days=365)
#: The shortest ``late_window``: a running daemon notices a due post within its 3 s tick, and the clocks of
#: the machine that applies and the one that sends may disagree by seconds; below a minute, posts would be
#: missed with nothing wrong. A short window is a marketer's choice ("live now" posts that make no sense
#: later); it also misses what a ``daemon --once`` from cron, or a crashed daemon's 5-minute lease, delays
#: beyond it, which README's row for ``late_window`` says.
MIN_LATE_WINDOW = timedelta(minutes=1)
#: The longest: a post a year late is better written ``send_late: true`` (and the queue keeps the window in
#: a 32-bit count of seconds on PostgreSQL, ~68 years, which parse_duration's 100 years would overflow).
MAX_LATE_WINDOW = timedelta(days=365)

CAMPAIGN_KEYS = {
    "campaign": "campaign name (its identity in the queue)",
    "languages": "BCP 47 tags of the campaign's languages, the default first (e.g. [en, zh-Hant])",
    "release": "press release file, relative to this file (or a map language -> file)",
    "templates": "template folder, relative to this file (default ../templates/<campaign>)",
    "zone": "IANA time zone of the campaign (e.g. Asia/Hong_Kong)",
    "start": "campaign start, local time in `zone` (offsets like +2d 09:00 count from it)",
    "hashtags": "default hashtags for every post (or a map language -> hashtags)",
    "link": "default link featured by posts (or a map language -> link)",
    "link_title": "title of the link card (default: the release title)",
    "link_description": "description of the link card (default: the release subtitle or lead)",
    "utm": "add utm_source/utm_medium/utm_campaign to links (default true)",
    "late_window": "how late a post may still go out (default 24h)",
    "embargo": "no post before this local time (ISO 8601; default: the release's EMBARGOED UNTIL, if any)",
    "metrics": "when to read sent posts' counts back, after publication (default [1h, 24h, 7d]; false)",
    "threads": "channels or accounts on which long posts may become threads",
    "alerts": "account that receives failure alerts",
    "vars": "extra values for templates",
    "accounts": "the accounts posts go to",
    "posts": "the posts",
    "media_base_url": "public https URL serving the media store's files (platforms that fetch media by URL)",
}
POST_KEYS = {
    "key",
    "template",
    "text",
    "when",
    "accounts",
    "channels",
    "link",
    "link_title",
    "link_description",
    "hashtags",
    "send_late",
    "zone",
    "vars",
    "overrides",
    "threads",
    "media",
    "link_image",
}
OVERRIDE_KEYS = {
    "template", "text", "when", "hashtags", "link", "zone", "skip", "vars", "send_late", "media", "link_image"
}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """What may differ per channel or account: an override block."""

    template: str | None = None
    text: str | None = None
    when: Any = None
    hashtags: tuple[str, ...] | None = None
    link: str | None = None
    zone: str | None = None
    skip: bool = False
    send_late: bool | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    #: Replaces the post's ``media`` list on this channel or account (None: the post's list).
    media: tuple[MediaSpec, ...] | None = None
    link_image: MediaSpec | None = None


@dataclass(frozen=True)
class PostConfig:
    """One post of the campaign as written: what, when, where."""

    key: str
    template: str | None
    text: str | None
    when: Any
    accounts: tuple[str, ...]
    link: str | None
    link_title: str | None
    link_description: str | None
    hashtags: tuple[str, ...]
    send_late: bool
    zone: str | None
    vars: Mapping[str, Any]
    overrides: Mapping[str, Variant]
    threads: bool | None
    line: int
    media: tuple[MediaSpec, ...] = ()
    #: Thumbnail of the link card, where the platform builds the card from an uploaded image.
    link_image: MediaSpec | None = None
    #: ``hashtags:`` given per language (added to ``hashtags`` for posts in that language).
    language_hashtags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Campaign:
    """A validated campaign file."""

    name: str
    path: Path
    display: str
    release: Path | None
    templates: Path
    zone: str
    start: str
    hashtags: tuple[str, ...]
    link: str | None
    link_title: str | None
    link_description: str | None
    utm: bool
    late_window: timedelta
    threads: frozenset[str]
    alerts: str | None
    vars: Mapping[str, Any]
    accounts: Mapping[str, AccountConfig]
    #: When each sent post's counts are read back, after its publication (empty: never).
    posts: tuple[PostConfig, ...]
    metrics: tuple[timedelta, ...] = DEFAULT_METRICS
    #: The project root every file of the campaign must resolve inside (:mod:`campaign.source.paths`).
    root: Path | None = None
    #: ``embargo:`` as written (local time in ``zone`` unless it has an offset); compile resolves it.
    embargo: str | None = None
    #: Public https URL serving the media store's files (``<url>/<sha256>.<ext>``), for URL-only platforms.
    media_base_url: str | None = None
    #: ``languages:`` (BCP 47, the default first); empty for a campaign in one language.
    languages: tuple[str, ...] = ()
    #: The release of each language when ``release:`` is a map (``release`` is then the default's).
    releases: Mapping[str, Path] = field(default_factory=dict)
    #: ``hashtags:`` given per language (added to ``hashtags`` for posts in that language).
    language_hashtags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``link:`` given per language (``link`` is then None).
    language_links: Mapping[str, str] = field(default_factory=dict)
    #: The line of each top-level key in the file (1-based), for errors found after loading.
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``FILE:LINE`` of the top-level ``key``, or ``FILE`` when the file does not write it."""
        line = self.key_lines.get(key)
        return f"{self.display}:{line}" if line else self.display

    @property
    def default_language(self) -> str | None:
        """The first of ``languages`` (None for a campaign that declares none)."""
        return self.languages[0] if self.languages else None

    def languages_of(self, account: AccountConfig) -> tuple[str | None, ...]:
        """The languages ``account`` posts in, one post per language: its own ``language``, else every
        language of the campaign. ``(None,)`` when the campaign declares no ``languages``."""
        if not self.languages:
            return (None,)
        return (account.language,) if account.language else self.languages

    def release_for(self, language: str | None) -> Path | None:
        """The release file posts in ``language`` read (the one ``release`` unless given per language)."""
        return self.releases.get(language, self.release) if language else self.release

    def threads_allowed(self, post: PostConfig, account: AccountConfig) -> bool:
        """Whether a too-long text may become a thread for this post on this account."""
        if post.threads is not None:
            return post.threads
        if account.threads is not None:
            return account.threads
        return account.channel in self.threads or account.name in self.threads


@dataclass(frozen=True)
class _Header:
    """The campaign's own scalar keys, validated (everything but accounts, posts, threads and alerts)."""

    name: str
    release: Path | None
    templates: Path
    zone: str
    start: str
    late_window: timedelta
    utm: bool
    vars: Mapping[str, Any]
    languages: tuple[str, ...] = ()
    releases: Mapping[str, Path] = field(default_factory=dict)


def load_campaign(
    path: str | Path, *, root: str | Path | None = None, policy: SecretPolicy | None = None
) -> Campaign:
    """Load and validate a campaign file. Raises ConfigError (or CredentialsInFileError) naming file:line.

    Untrusted input: ``release`` and ``templates`` must resolve inside the project root (``root``, else the
    file's git work tree, else its parent's parent); credentials may only name what the operator's
    ``policy`` allows (default: :meth:`SecretPolicy.from_environ`); destination settings are checked
    (:func:`campaign.http.destinations.check_account_urls`).
    """
    path = Path(path)
    display = str(path)
    check = Checker(display)
    project = confine_campaign_file(find_project_root(path, root), path, display)
    doc = load_yaml(path, display=display)
    if doc is None:
        raise check.fail("the file is empty", None)
    doc = check.mapping(doc, "a campaign file", 1)
    check.keys(doc, CAMPAIGN_KEYS, "the campaign")
    head = _load_header(check, doc, path, project)
    accounts = load_accounts(
        check, doc, path.parent, policy or SecretPolicy.from_environ(), languages=head.languages
    )
    threads = _load_threads(check, doc, accounts)
    alerts = check.string(doc, "alerts", "the campaign")
    if alerts is not None and alerts not in accounts:
        typo = did_you_mean(alerts, accounts)
        raise check.fail(f"'alerts' names unknown account {alerts!r}{typo}", doc.line_of("alerts"))
    posts = _load_posts(check, doc, accounts, head.languages)
    tags, language_tags = languages.hashtags(check, doc, "the campaign", head.languages)
    link, language_links = languages.links(check, doc, head.languages)
    campaign = Campaign(
        name=head.name,
        path=path,
        display=display,
        release=head.release,
        templates=head.templates,
        zone=head.zone,
        start=head.start,
        hashtags=tags,
        link=link,
        link_title=check.string(doc, "link_title", "the campaign"),
        link_description=check.string(doc, "link_description", "the campaign"),
        utm=head.utm,
        late_window=head.late_window,
        threads=frozenset(threads),
        alerts=alerts,
        vars=head.vars,
        accounts=accounts,
        posts=posts,
        metrics=_load_metrics(check, doc),
        embargo=check.string(doc, "embargo", "the campaign"),
        root=project,
        languages=head.languages,
        releases=head.releases,
        language_hashtags=language_tags,
        language_links=language_links,
        key_lines=dict(doc.key_lines),
    )
    return with_media(check, doc, campaign, path.parent)


def _load_header(check: Checker, root: Node, path: Path, project: Path) -> _Header:
    """Name, release, templates, zone, start, late_window, utm and vars, checked in that order."""
    name = check.string(root, "campaign", "the campaign", required=True)
    assert name is not None
    if not _KEY.match(name):
        raise check.fail(
            f"campaign name {name!r} may use letters, digits, '.', '_' and '-'", root.line_of("campaign")
        )
    langs = languages.load_languages(check, root)
    per_language = languages.release_files(check, root, langs)
    release_raw = None if per_language else check.string(root, "release", "the campaign")
    templates_raw = check.string(root, "templates", "the campaign")
    zone = check.string(root, "zone", "the campaign", required=True)
    assert zone is not None
    check_zone(check, zone, root.line_of("zone"))
    start = check.string(root, "start", "the campaign", required=True)
    assert start is not None
    late_raw = check.string(root, "late_window", "the campaign")
    try:
        late_window = parse_duration(late_raw) if late_raw else timedelta(hours=24)
    except ValueError as exc:
        raise check.fail(str(exc), root.line_of("late_window")) from None
    if not MIN_LATE_WINDOW <= late_window <= MAX_LATE_WINDOW:
        raise check.fail(
            f"late_window {late_raw!r} must be from 1m to 365d (shorter, posts a moment late would be "
            "missed; for no limit, give the posts send_late: true)",
            root.line_of("late_window"),
        )
    utm = check.boolean(root, "utm", "the campaign")
    vars_ = root.get("vars") or {}
    if not isinstance(vars_, dict):
        raise check.fail("'vars' must be a mapping", root.line_of("vars"))
    base = path.parent
    # Files are confined to the project root when they exist; a missing one is reported when it is needed
    # (compile), so the daemon, which needs neither, can still load the file.
    release_line = root.line_of("release")
    release = _confined(check, project, base, release_raw, "release", release_line, "file")
    releases = {
        tag: _confined(check, project, base, raw, "release", release_line, "file")
        for tag, raw in (per_language or {}).items()
    }
    if releases:
        release = releases[langs[0]]
    templates_as_written = templates_raw or f"../templates/{name}"
    line = root.line_of("templates") if templates_raw else None
    templates = _confined(check, project, base, templates_as_written, "templates", line, "dir")
    return _Header(
        name=name,
        release=release,
        templates=templates,
        zone=zone,
        start=start,
        late_window=late_window,
        utm=True if utm is None else utm,
        vars=dict(vars_),
        languages=langs,
        releases=releases,
    )


def _confined(
    check: Checker,
    project: Path,
    base: Path,
    raw: str | None,
    key: str,
    line: int | None,
    kind: Kind,
) -> Any:
    """``raw`` (relative to the campaign file) resolved inside the project root if it exists, else as is."""
    if not raw:
        return None
    path = base / raw
    if not os.path.lexists(path):
        return path
    return resolve_inside(project, raw, key, campaign_file=check.display, line=line, base=base, kind=kind)


def _load_metrics(check: Checker, root: Node) -> tuple[timedelta, ...]:
    """``metrics: [1h, 24h, 7d]`` (readings after publication, in increasing order) or ``false`` (never)."""
    raw = root.get("metrics")
    line = root.line_of("metrics")
    if raw is None:
        return DEFAULT_METRICS
    if raw is False:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str | int) for x in raw):
        raise check.fail("'metrics' must be a list of durations like [1h, 24h, 7d], or false", line)
    offsets: list[timedelta] = []
    for item in raw:
        try:
            offset = parse_duration(str(item))
        except ValueError as exc:
            raise check.fail(f"metrics: {exc}", line) from None
        if offset <= timedelta(0) or offset > MAX_METRICS_AFTER or (offsets and offset <= offsets[-1]):
            raise check.fail(
                f"metrics: {item!r} must come after publication and after the reading before it, within 365d",
                line,
            )
        offsets.append(offset)
    return tuple(offsets)


def _load_threads(check: Checker, root: Node, accounts: Mapping[str, AccountConfig]) -> tuple[str, ...]:
    """The campaign's ``threads:``: account or channel names on which long posts may become threads."""
    threads = check.strings(root, "threads", "the campaign") or ()
    for item in threads:
        if item not in accounts and item not in channels.names():
            raise check.fail(
                f"'threads' names {item!r}, which is neither an account nor a channel"
                f"{did_you_mean(item, [*accounts, *channels.names()])}",
                root.line_of("threads"),
            )
    return threads




# -- posts ----------------------------------------------------------------------------------------------


def _load_posts(
    check: Checker, root: Node, accounts: Mapping[str, AccountConfig], langs: tuple[str, ...] = ()
) -> tuple[PostConfig, ...]:
    raw = root.get("posts")
    if not raw:
        raise check.fail("the campaign needs 'posts'", root.line)
    if not isinstance(raw, NodeList):
        raise check.fail("'posts' must be a list", root.line_of("posts"))
    seen: dict[str, int] = {}  # post key -> line of its first use
    return tuple(
        _load_post(check, body, raw.line_of(index), seen, accounts, langs) for index, body in enumerate(raw)
    )


def _load_post(
    check: Checker,
    body: Any,
    line: int,
    seen: dict[str, int],
    accounts: Mapping[str, AccountConfig],
    langs: tuple[str, ...] = (),
) -> PostConfig:
    """One post; records its key in ``seen`` (a key used twice is an error naming the first line)."""
    body = check.mapping(body, "each post", line)
    key = check.string(body, "key", "a post", required=True)
    assert key is not None
    what = f"post {key!r}"
    check.keys(body, POST_KEYS, what)
    if not _KEY.match(key):
        raise check.fail(f"{what}: key may use letters, digits, '.', '_' and '-'", body.line_of("key"))
    if key in seen:
        raise check.fail(f"duplicate post key {key!r} (first at line {seen[key]})", body.line_of("key"))
    seen[key] = line
    template = check.string(body, "template", what)
    text = check.string(body, "text", what)
    if template is None and text is None:
        template = key
    if "when" not in body:
        raise check.fail(f"{what} needs 'when'", line)
    targets = _targets(check, body, what, accounts)
    overrides = _load_overrides(check, body, what, accounts)
    zone = check.string(body, "zone", what)
    if zone:
        check_zone(check, zone, body.line_of("zone"))
    vars_ = body.get("vars") or {}
    if not isinstance(vars_, dict):
        raise check.fail(f"'vars' of {what} must be a mapping", body.line_of("vars"))
    tags, language_tags = languages.hashtags(check, body, what, langs)
    return PostConfig(
        key=key,
        template=template,
        text=text,
        when=body["when"],
        accounts=targets,
        link=check.link(body, "link", what),
        link_title=check.string(body, "link_title", what),
        link_description=check.string(body, "link_description", what),
        hashtags=tags,
        send_late=bool(check.boolean(body, "send_late", what)),
        zone=zone,
        vars=dict(vars_),
        overrides=overrides,
        threads=check.boolean(body, "threads", what),
        line=line,
        language_hashtags=language_tags,
    )


def _load_overrides(
    check: Checker, body: Node, what: str, accounts: Mapping[str, AccountConfig]
) -> dict[str, Variant]:
    """A post's ``overrides:``, keyed by the account or channel each one is for."""
    raw_over = Node()
    if body.get("overrides"):
        raw_over = check.mapping(body["overrides"], f"'overrides' of {what}", body.line_of("overrides"))
    used = {a.channel for a in accounts.values()}
    overrides: dict[str, Variant] = {}
    for target, obody in raw_over.items():
        oline = raw_over.line_of(target)
        if target not in accounts and target not in used:
            raise check.fail(
                f"{what}: override for {target!r}, which is neither an account nor a channel "
                f"used by this campaign{did_you_mean(target, [*accounts, *used])}",
                oline,
            )
        overrides[target] = _load_override(
            check, target, check.mapping(obody, f"override {target!r} of {what}", oline), what
        )
    return overrides


def _load_override(check: Checker, target: str, obody: Node, what: str) -> Variant:
    """One override block (its errors name the post, ``what``)."""
    check.keys(obody, OVERRIDE_KEYS, f"override {target!r} of {what}")
    zone = check.string(obody, "zone", what)
    if zone:
        check_zone(check, zone, obody.line_of("zone"))
    return Variant(
        template=check.string(obody, "template", what),
        text=check.string(obody, "text", what),
        when=obody.get("when"),
        hashtags=check.hashtags(obody, "hashtags", what),
        link=check.link(obody, "link", what),
        zone=zone,
        skip=bool(check.boolean(obody, "skip", what)),
        send_late=check.boolean(obody, "send_late", what),
        vars=check.variables(obody, f"override {target!r} of {what}"),
    )


def _targets(
    check: Checker, body: Node, what: str, accounts: Mapping[str, AccountConfig]
) -> tuple[str, ...]:
    """The accounts a post goes to: ``accounts:`` by name and/or ``channels:`` (every account on them)."""
    names = check.strings(body, "accounts", what)
    chans = check.strings(body, "channels", what)
    if names is None and chans is None:
        return tuple(accounts)  # every account of the campaign
    result: list[str] = []
    for name in names or ():
        if name not in accounts:
            raise check.fail(
                f"{what}: unknown account {name!r}{did_you_mean(name, accounts)} "
                f"(defined: {', '.join(accounts)})",
                body.line_of("accounts"),
            )
        result.append(name)
    used = {a.channel for a in accounts.values()}
    for chan in chans or ():
        if chan not in used:
            known = channels.names()
            hint = (
                "no account of this campaign uses it" if chan in known else f"installed: {', '.join(known)}"
            )
            typo = "" if chan in known else did_you_mean(chan, used or known)
            raise check.fail(f"{what}: unknown channel {chan!r}{typo} ({hint})", body.line_of("channels"))
        result.extend(a.name for a in accounts.values() if a.channel == chan and a.name not in result)
    return tuple(dict.fromkeys(result))


__all__ = [
    "CAMPAIGN_KEYS",
    "DEFAULT_METRICS",
    "OVERRIDE_KEYS",
    "POST_KEYS",
    "AccountConfig",
    "Campaign",
    "PostConfig",
    "Variant",
    "load_campaign",
    "parse_duration",
]
