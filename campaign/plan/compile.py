"""Compiling a campaign file into planned posts: schedule -> render -> fit, for every post and account.

This is the middle of the data flow (release -> templates -> fitted posts) and needs no database or network.
Errors are *collected* (one per post and account at most) so that `check` and `preview` report every problem
in one run; a campaign with any error must not be applied.

The steps, in order: :func:`_prepare` (release, template folder, campaign start: an error here stops the
compile), then for every post on every account :meth:`_Compilation.render` (template -> :class:`Rendered`)
and :meth:`_Compilation.schedule` (``when`` -> occurrences -> :class:`PlannedPost`). Posts on
``next free slot`` are placed last, after every explicit time has taken its slot.

In a campaign with ``languages:`` each account posts in each of its languages
(:meth:`Campaign.languages_of`): the template looked up for that language, ``release`` the release of that
language, the hashtags given for it, and a post key that names a non-default language
(:func:`campaign.plan.posts.language_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from campaign import channels
from campaign.channels.base import LinkCard
from campaign.errors import CampaignError, FitError, ReleaseError, ScheduleError, StoreError, TemplateError
from campaign.plan.media import NO_MEDIA, PostMedia, PostMediaPlanner
from campaign.plan.posts import PlannedPost, language_key
from campaign.schedule import timespec
from campaign.schedule.recurrence import OccurrenceLimitError
from campaign.schedule.timespec import Expansion, NextSlot, Occurrence, SlotAllocator
from campaign.source.accounts import AccountConfig
from campaign.source.config import Campaign, PostConfig, Variant, load_campaign
from campaign.text.fit import Fitted, check_card, fit
from campaign.text.render import Renderer, add_utm
from campaign.text.rules import TextRules

#: How far ahead open-ended recurrences are expanded (a stored horizon keeps a second apply a no-op).
DEFAULT_HORIZON = timedelta(days=92)
#: Most posts one campaign file may plan, every occurrence of every post on every account (past ones apply
#: skips included); checked while recurrences expand, so a file of many long recurrences stays bounded.
MAX_POSTS = timespec.DEFAULT_LIMIT


class _TooManyPosts(Exception):
    """The campaign would plan over :data:`MAX_POSTS` posts: the compile stops (``compile`` reports it)."""


@dataclass
class Compiled:
    """The result of compiling a campaign: its posts in time order and every error found."""

    campaign: Campaign | None
    posts: list[PlannedPost] = field(default_factory=list)
    errors: list[CampaignError] = field(default_factory=list)
    start: datetime | None = None  # aware, campaign zone
    #: Past occurrences of recurrences that apply will not queue: (post key, account, occurrence).
    skipped: list[tuple[str, str, Occurrence]] = field(default_factory=list)
    #: What the release parser noticed (glued words, lost superscripts, ...): ``FILE:LINE:COL: ...``.
    release_warnings: list[str] = field(default_factory=list)
    #: No post may go out before this (aware UTC): the campaign's ``embargo:``, else the release's.
    embargo: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Rendered:
    """One post's text for one account, fitted to its channel, with its link card (shared by its times)."""

    fitted: Fitted
    link: LinkCard | None
    media: PostMedia = NO_MEDIA


@dataclass(frozen=True)
class _Target:
    """One post on one account, rendered, with the schedule settings in force for it."""

    post: PostConfig
    account: AccountConfig
    rendered: Rendered
    #: IANA name of the zone in force (variant, post, account, then campaign).
    zone: str
    send_late: bool
    #: ``file:line: post 'k' on account``, prefixed to its errors.
    where: str
    #: The post's language (campaigns with ``languages:``), else None.
    language: str | None = None
    #: Warnings found while rendering it (besides the fitter's and the media's).
    warnings: tuple[str, ...] = ()


def _with_warning(target: _Target, warning: str) -> _Target:
    import dataclasses

    return dataclasses.replace(target, warnings=(*target.warnings, warning))


@dataclass(frozen=True)
class _Timing:
    """The campaign-wide inputs of scheduling, fixed once the campaign start is known."""

    start: datetime  # aware, campaign zone
    now: datetime  # aware; decides what is in the past
    #: The ``now`` handed to expansion: outside apply, past times are warnings, so nothing is past there.
    expand_now: datetime
    horizon: datetime  # aware UTC
    strict_past: bool


def _located(exc: CampaignError, where: str) -> CampaignError:
    """``exc`` with ``where`` (``file:line: post 'k' on account``) in front of its message."""
    exc.args = (f"{where}: {exc}",)
    return exc


def compile_campaign(
    source: str | Campaign,
    *,
    start: str | None = None,
    now: datetime | None = None,
    strict_past: bool = False,
    horizon: timedelta = DEFAULT_HORIZON,
    only_channels: Iterable[str] = (),
    occupied: Iterable[tuple[str, datetime]] = (),
    media_root: Path | None = None,
) -> Compiled:
    """Compile a campaign file (path) or an already loaded Campaign.

    ``now`` (aware) decides which times are in the past: with ``strict_past`` (apply) a past time is an error
    unless the post says ``send_late``; otherwise (check, preview) it is a warning. ``start`` overrides the
    campaign's start (``--start``). ``occupied`` are (account, UTC time) slots already used by other
    campaigns. ``media_root`` is the media store (default: beside the queue, see
    :func:`campaign.plan.media.default_media_root`); it is written only when a post has media.
    A ConfigError in the file itself is raised, since nothing else can be checked without it.
    """
    campaign = source if not isinstance(source, str) else load_campaign(source)
    now = now or datetime.now(UTC)
    result = Compiled(campaign)
    prepared = _prepare(campaign, start, result)
    if prepared is None:
        return result
    releases, campaign_start = prepared
    result.start = campaign_start
    timing = _Timing(
        start=campaign_start,
        now=now,
        expand_now=now if strict_past else datetime(1970, 1, 1, tzinfo=UTC),
        horizon=campaign_start.astimezone(UTC) + horizon,
        strict_past=strict_past,
    )
    run = _Compilation(campaign, result, releases, timing, _slot_allocator(campaign, occupied, result))
    run.media = PostMediaPlanner(campaign, media_root)
    run.compile(set(only_channels))
    _apply_embargo(campaign, releases.get(campaign.default_language), result)
    result.posts.sort(key=lambda p: (p.scheduled_at, p.post_key, p.account, p.occurrence))
    return result


def _apply_embargo(campaign: Campaign, release: Any, result: Compiled) -> None:
    """The campaign's ``embargo:`` (else the release's): every post carries it, and one before it is an error
    whatever ``send_late`` says (the claim enforces it again, whatever the queue says)."""
    import dataclasses

    raw = campaign.embargo or (getattr(release, "embargo", None) if release is not None else None)
    if not raw:
        return
    where = f"{campaign.where('embargo')}: " + ("embargo:" if campaign.embargo else "the release's embargo")
    try:
        result.embargo = timespec.parse_instant(str(raw), campaign.zone).astimezone(UTC)
    except ValueError:
        result.errors.append(ScheduleError(f"{where} {raw!r} is not a time"))
        return
    except OverflowError:  # an offset that takes year 1 or 9999 past the calendar's end
        result.errors.append(ScheduleError(f"{where} {raw!r} is outside the calendar"))
        return
    for i, post in enumerate(result.posts):
        if post.scheduled_at < result.embargo:
            result.errors.append(
                ScheduleError(
                    f"{campaign.display}: {post.label} on {post.channel} at "
                    f"{post.scheduled_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC is before the embargo "
                    f"({result.embargo:%Y-%m-%d %H:%M} UTC)"
                )
            )
        result.posts[i] = dataclasses.replace(post, not_before=result.embargo)


def _prepare(
    campaign: Campaign, start: str | None, result: Compiled
) -> tuple[dict[str | None, Any], datetime] | None:
    """(the release of each language, None for a campaign without ``languages``; aware campaign start), or
    None after recording the error that stops the compile. A file shared by languages is parsed once."""
    display = campaign.display
    releases: dict[str | None, Any] = {}
    parsed: dict[Path, Any] = {}
    for language in campaign.languages or (None,):
        path = campaign.release_for(language)
        if path is None:
            releases[language] = None
            continue
        if path not in parsed:
            from campaign.source.release import load_release

            try:
                parsed[path] = load_release(path)
            except ReleaseError as exc:
                result.errors.append(_located(exc, display))
                return None
            result.release_warnings.extend(parsed[path].warning_lines())
        releases[language] = parsed[path]
    if not campaign.templates.is_dir() and any(p.text is None for p in campaign.posts):
        result.errors.append(TemplateError(f"{display}: template folder {campaign.templates} does not exist"))
        return None
    zone = timespec.resolve_zone(campaign.zone)
    where = f"{campaign.where('start')}: start"
    try:
        campaign_start = timespec.resolve_start(campaign.start, zone=zone)
        if start:
            where = f"{display}: --start"
            campaign_start = timespec.resolve_start(start, zone=zone, file_start=campaign_start)
    except ScheduleError as exc:
        result.errors.append(_located(exc, where))
        return None
    return releases, campaign_start


def _slot_allocator(
    campaign: Campaign, occupied: Iterable[tuple[str, datetime]], result: Compiled
) -> SlotAllocator:
    """The posting slots of every account that has ``slots:``; an invalid block is an error of its own."""
    slot_specs = {}
    for acct in campaign.accounts.values():
        if acct.slots:
            try:
                slot_specs[acct.name] = timespec.parse_slots(
                    acct.slots, default_zone=timespec.resolve_zone(acct.zone or campaign.zone)
                )
            except ScheduleError as exc:
                result.errors.append(_located(exc, f"{campaign.display}:{acct.line}: slots of {acct.name}"))
    return SlotAllocator(slot_specs, occupied=set(occupied))


class _Compilation:
    """One compile run: renders and schedules every post on every account into ``result``."""

    def __init__(
        self,
        campaign: Campaign,
        result: Compiled,
        releases: Mapping[str | None, Any],
        timing: _Timing,
        slots: SlotAllocator,
    ) -> None:
        self.campaign = campaign
        self.result = result
        self.timing = timing
        self.slots = slots
        self.renderer = Renderer(campaign.templates, loader=_confined_loader(campaign))
        #: The template context shared by every post in each language.
        self.contexts = {
            language: _campaign_context(campaign, release, timing.start, language)
            for language, release in releases.items()
        }
        #: Posts on ``next free slot``, placed after every explicit time has occupied its slot.
        self.deferred: list[tuple[_Target, NextSlot]] = []
        self.parsed_when: dict[int, tuple[Any, Any]] = {}
        self.expansions: dict[tuple[int, str, bool], tuple[Any, Expansion]] = {}
        self.media = PostMediaPlanner(campaign)
        #: Occurrences planned or skipped so far, against :data:`MAX_POSTS`.
        self.counted = 0

    def compile(self, wanted: set[str]) -> None:
        """:meth:`compile_all`; a campaign over :data:`MAX_POSTS` posts is one error and stops there."""
        try:
            self.compile_all(wanted)
        except _TooManyPosts as exc:
            self.result.errors.append(ScheduleError(str(exc)))

    def count(self, target: _Target, occurrences: int) -> None:
        """Count ``occurrences`` of ``target`` against :data:`MAX_POSTS`; raises _TooManyPosts past it."""
        self.counted += occurrences
        if self.counted > MAX_POSTS:
            raise _TooManyPosts(
                f"{target.where}: the campaign would have more than {MAX_POSTS:,} posts (every occurrence"
                " on every account); narrow its recurrences with end or count"
            ) from None

    def compile_all(self, wanted: set[str]) -> None:
        """Render and schedule each (post, account) in file order, then place the deferred slot posts."""
        for post in self.campaign.posts:
            for account_name in post.accounts:
                account = self.campaign.accounts[account_name]
                if wanted and account.channel not in wanted:
                    continue
                variant = _variant(post, account)
                if variant.skip:
                    continue
                texts: dict[tuple[str, ...], str] = {}  # an account's text in each of its languages
                for language in self.campaign.languages_of(account):
                    target = self.render(post, account, variant, language)
                    if target is None:
                        continue
                    parts = tuple(target.rendered.fitted.parts)
                    if parts in texts:  # e.g. an inline `text:` without language-specific wording
                        target = _with_warning(
                            target,
                            f"the same text as in {texts[parts]}: the platform may refuse it as a duplicate",
                        )
                    texts.setdefault(parts, language or "")
                    self.schedule(target, variant.when if variant.when is not None else post.when)
        for target, spec in self.deferred:
            self.place_in_slot(target, spec)

    def render(
        self, post: PostConfig, account: AccountConfig, variant: Variant, language: str | None = None
    ) -> _Target | None:
        """The rendered target in ``language``, or None after recording its error."""
        display = self.campaign.display
        in_language = f" in {language}" if language else ""
        where = f"{display}:{post.line}: post {post.key!r} on {account.name}{in_language}"
        try:
            rendered = _render_and_fit(
                self.renderer, self.campaign, post, account, variant, self.contexts[language], self.media
            )
        except FitError as exc:  # its message already names the post and account
            self.result.errors.append(_located(exc, f"{display}:{post.line}"))
            return None
        except StoreError:  # the media store cannot be written: one line for the run, not one per post
            raise
        except CampaignError as exc:
            self.result.errors.append(_located(exc, where))
            return None
        for error in rendered.media.errors:  # the post is still planned, so preview shows it with its errors
            self.result.errors.append(_located(error, f"{where} ({account.channel})"))
        return _Target(
            post=post,
            account=account,
            rendered=rendered,
            zone=variant.zone or post.zone or account.zone or self.campaign.zone,
            send_late=variant.send_late if variant.send_late is not None else post.send_late,
            where=where,
            language=language,
        )

    def schedule(self, target: _Target, when: Any) -> None:
        """Expand ``when`` and add a planned post per occurrence (slot posts are deferred)."""
        try:
            spec = self.parse_when(when)
            if isinstance(spec, NextSlot):
                self.deferred.append((target, spec))
                return
            expansion = self.expand(spec, target.zone, target.send_late)
        except OccurrenceLimitError as exc:
            if MAX_POSTS - self.counted < timespec.DEFAULT_LIMIT:  # the campaign's limit, not its own
                self.count(target, MAX_POSTS)  # raises
            self.result.errors.append(_located(exc, target.where))
            return
        except ScheduleError as exc:
            self.result.errors.append(_located(exc, target.where))
            return
        self.count(target, len(expansion.occurrences) + len(expansion.skipped))
        post, account = target.post, target.account
        key = language_key(post.key, target.language, self.campaign.default_language)
        self.result.skipped.extend((key, account.name, occ) for occ in expansion.skipped)
        for occ in expansion.occurrences:
            self.slots.occupy(account.name, occ.at)
            self.add(target, occ)

    def expand(self, spec: Any, zone: Any, send_late: bool) -> Expansion:
        """``spec`` (parsed, not a slot) expanded in ``zone``, once per (spec, zone, send_late): a post's
        accounts usually share all three, and the times do not depend on the account. Errors are not kept
        (each target reports its own)."""
        timing = self.timing
        # A zone or send_late of another type (a bad campaign file) is expanded uncached: expand reports it.
        key = (id(spec), zone, send_late) if type(zone) is str and type(send_late) is bool else None
        found = self.expansions.get(key) if key is not None else None
        if found is not None and found[0] is spec:  # the spec is held below, so its id is not reused
            return found[1]
        expansion = timespec.expand(
            spec,
            zone=timespec.resolve_zone(zone),
            start=timing.start,
            now=timing.expand_now,
            horizon=timing.horizon,
            send_late=send_late,
            limit=min(timespec.DEFAULT_LIMIT, MAX_POSTS - self.counted),  # (count() keeps it >= 0)
        )
        if key is not None:
            self.expansions[key] = (spec, expansion)
        return expansion

    def parse_when(self, when: Any) -> Any:
        """``when`` parsed once per value: a post's accounts share it (parsed values are frozen)."""
        found = self.parsed_when.get(id(when))
        if found is None or found[0] is not when:  # the value is held below, so its id is not reused
            found = self.parsed_when[id(when)] = (when, timespec.parse_when(when))
        return found[1]

    def place_in_slot(self, target: _Target, spec: NextSlot) -> None:
        """Give a ``next free slot`` post the account's next free slot."""
        timing = self.timing
        try:
            expansion = timespec.expand(
                spec,
                zone=timespec.resolve_zone(target.zone),
                start=timing.start,
                now=timing.expand_now,
                horizon=timing.horizon,
                slots=self.slots,
                account=target.account.name,
            )
        except ScheduleError as exc:
            self.result.errors.append(_located(exc, target.where))
            return
        self.count(target, len(expansion.occurrences))
        for occ in expansion.occurrences:
            self.add(target, occ)

    def add(self, target: _Target, occ: Occurrence) -> None:
        """Record ``target`` at ``occ`` as a planned post, with its warnings (DST move, past time)."""
        fitted = target.rendered.fitted
        media = target.rendered.media
        warnings = list(fitted.warnings) + list(media.warnings) + list(target.warnings)
        if occ.note:
            warnings.append(occ.note)
        if occ.at < self.timing.now and not self.timing.strict_past:
            # (under strict_past, timespec already refused it or moved it to now with a note)
            warnings.append(
                f"{occ.local:%Y-%m-%d %H:%M} {target.zone} is in the past: "
                + ("it would be sent at once (send_late)" if target.send_late else "apply would refuse it")
            )
        self.result.posts.append(
            PlannedPost(
                campaign=self.campaign.name,
                post_key=language_key(target.post.key, target.language, self.campaign.default_language),
                occurrence=occ.key,
                channel=target.account.channel,
                account=target.account.name,
                scheduled_at=occ.at,
                zone=target.zone,
                parts=tuple(fitted.parts),
                link=target.rendered.link,
                send_late=target.send_late,
                due_now=occ.moved_to_now,
                late_window=self.campaign.late_window,
                lengths=tuple(fitted.lengths),
                limit=fitted.limit,
                warnings=tuple(warnings),
                media=media.media,
                link_image=media.link_image if target.rendered.link is not None else None,
                media_base_url=self.campaign.media_base_url,
                language=target.language,
            )
        )


#: The variant of a post without overrides (most posts): one shared, read-only value.
_PLAIN = Variant(vars=MappingProxyType({}))


def _variant(post: PostConfig, account: AccountConfig) -> Variant:
    """Channel-level override, then account-level override on top of it."""
    if not post.overrides:
        return _PLAIN
    merged: dict[str, Any] = {}
    vars_: dict[str, Any] = {}
    for target in (account.channel, account.name):
        over = post.overrides.get(target)
        if over is None:
            continue
        for name in ("template", "text", "when", "hashtags", "link", "zone", "send_late"):
            value = getattr(over, name)
            if value is not None:
                merged[name] = value
        if over.skip:
            merged["skip"] = True
        vars_.update(over.vars)
    return Variant(vars=vars_, **merged)


def _campaign_context(
    campaign: Campaign, release: Any, start: datetime, language: str | None = None
) -> dict[str, Any]:
    """What every post in ``language`` shares: ``release`` (that language's), ``language``, ``campaign``."""
    return {
        "release": release,
        "language": language,
        "campaign": {
            "name": campaign.name,
            "zone": campaign.zone,
            "start": start,
            "hashtags": list(campaign.hashtags) + list(campaign.language_hashtags.get(language or "", ())),
            "languages": list(campaign.languages),
            "link": campaign.language_links.get(language or "", campaign.link),
        },
    }


def _render_and_fit(
    renderer: Renderer,
    campaign: Campaign,
    post: PostConfig,
    account: AccountConfig,
    variant: Variant,
    base_context: Mapping[str, Any],
    media_planner: PostMediaPlanner | None = None,
) -> Rendered:
    """Render the post's template for ``account``, prepare its media and fit the text to the channel (to the
    caption limit where the post carries media and the platform has one). Raises CampaignError."""
    adapter = channels.load(account.channel)
    limit_setting = account.settings.get("limit")
    rules = adapter.rules.with_limit(int(limit_setting) if limit_setting is not None else None)
    link_url = _link_url(campaign, post, account, variant, base_context["language"])
    context = _post_context(base_context, post, account, variant, campaign, rules, adapter.title, link_url)
    text = _render_text(renderer, campaign, post, account, variant, context, base_context["language"])
    media = NO_MEDIA
    if media_planner is not None:
        media = media_planner.plan(
            post,
            account,
            variant,
            adapter.media_rules,
            lambda alt, line: renderer.render_string(alt, context, where=f"{campaign.display}:{line}"),
        )
    caption_limit = adapter.media_rules.caption_limit
    if media.media and caption_limit is not None and caption_limit < rules.limit:
        rules = rules.with_limit(caption_limit)
    fitted = fit(
        text,
        rules,
        allow_thread=campaign.threads_allowed(post, account) and rules.threads,
        post=post.key,
        channel=f"{account.name} ({account.channel})",
    )
    card = _link_card(campaign, post, base_context["release"], link_url) if link_url else None
    if card is not None:  # its title and description are shown as text too
        check_card(card.title, card.description, post=post.key, channel=f"{account.name} ({account.channel})")
    return Rendered(fitted, card, media)


def _link_url(
    campaign: Campaign,
    post: PostConfig,
    account: AccountConfig,
    variant: Variant,
    language: str | None = None,
) -> str | None:
    """The link featured by the post (variant, post, then the campaign's for the post's language), with UTM
    parameters unless turned off."""
    raw_link = variant.link or post.link or campaign.language_links.get(language or "", campaign.link)
    if not raw_link:
        return None
    if not campaign.utm:
        return raw_link
    return add_utm(raw_link, source=account.channel, campaign=campaign.name, content=post.key)


def _post_context(
    base_context: Mapping[str, Any],
    post: PostConfig,
    account: AccountConfig,
    variant: Variant,
    campaign: Campaign,
    rules: TextRules,
    title: str,
    link_url: str | None,
) -> dict[str, Any]:
    """The template context of one post on one account (see README "Templates" for its names)."""
    language = base_context["language"] or ""
    own = post.hashtags + post.language_hashtags.get(language, ())
    tags = list(variant.hashtags if variant.hashtags is not None else own) + list(
        campaign.hashtags + campaign.language_hashtags.get(language, ())
    )
    vars_ = {**campaign.vars, **post.vars, **variant.vars}
    return {
        **base_context,
        "channel": {
            "name": account.channel,
            "title": title,
            "limit": rules.limit,
            "unit": rules.unit,
            "markup": rules.markup,
            "threads": rules.threads,
            "rules": rules,
        },
        "account": {"name": account.name, **{k: v for k, v in account.settings.items()}},
        "post": {"key": post.key, "link": link_url, "hashtags": tags, "vars": vars_},
        "link": link_url or "",
        "tags": tags,
        "vars": vars_,
    }


def _render_text(
    renderer: Renderer,
    campaign: Campaign,
    post: PostConfig,
    account: AccountConfig,
    variant: Variant,
    context: Mapping[str, Any],
    language: str | None = None,
) -> str:
    """The inline ``text:`` or the template file in force (looked up for ``language``), rendered; an empty
    result is a TemplateError."""
    text_source = (
        variant.text if variant.text is not None else (post.text if variant.template is None else None)
    )
    if text_source is not None:
        text = renderer.render_string(text_source, context, where=f"{campaign.display}:{post.line}")
    else:
        name = renderer.template_name(
            variant.template or post.template or post.key,
            account.channel,
            account.name,
            language,
            default_language=campaign.default_language,
            account_language=account.language,
        )
        text = renderer.render_file(name, context)
    if not text:
        raise TemplateError("rendered text is empty")
    return text


def _link_card(campaign: Campaign, post: PostConfig, release: Any, link_url: str) -> LinkCard:
    """The link card, from the post's or campaign's texts, else the release's title and subtitle or lead."""
    title = post.link_title or campaign.link_title or (getattr(release, "title", None) or "")
    description = (
        post.link_description
        or campaign.link_description
        or ((getattr(release, "subtitle", None) or getattr(release, "lead", None) or "") if release else "")
    )
    return LinkCard(url=link_url, title=title, description=description)


def _confined_loader(campaign: Campaign) -> Any:
    """The campaign's templates, confined to its project root (see :mod:`campaign.source.paths`)."""
    from campaign.source.paths import ConfinedLoader, find_project_root

    root = campaign.root if campaign.root is not None else find_project_root(campaign.path)
    return ConfinedLoader(root, campaign.templates, origin=campaign.display)
