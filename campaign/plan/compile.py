"""Compiling a campaign file into planned posts: schedule -> render -> fit, for every post and account.

This is the middle of the data flow (release -> templates -> fitted posts) and needs no database or network.
Errors are *collected* (one per post and account at most) so that `check` and `preview` report every problem
in one run; a campaign with any error must not be applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign import channels
from campaign.channels.base import LinkCard
from campaign.errors import CampaignError, FitError, ReleaseError, ScheduleError, TemplateError
from campaign.plan.posts import PlannedPost
from campaign.source.config import AccountConfig, Campaign, PostConfig, Variant, load_campaign
from campaign.text.render import Renderer, add_utm

#: How far ahead open-ended recurrences are expanded (a stored horizon keeps a second apply a no-op).
DEFAULT_HORIZON = timedelta(days=92)


@dataclass
class Compiled:
    """The result of compiling a campaign: its posts in time order and every error found."""

    campaign: Campaign | None
    posts: list[PlannedPost] = field(default_factory=list)
    errors: list[CampaignError] = field(default_factory=list)
    start: datetime | None = None  # aware, campaign zone
    #: Past occurrences of recurrences that apply will not queue: (post key, account, Occurrence).
    skipped: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


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
) -> Compiled:
    """Compile a campaign file (path) or an already loaded Campaign.

    ``now`` (aware) decides which times are in the past: with ``strict_past`` (apply) a past time is an error
    unless the post says ``send_late``; otherwise (check, preview) it is a warning. ``start`` overrides the
    campaign's start (``--start``). ``occupied`` are (account, UTC time) slots already used by other
    campaigns.
    A ConfigError in the file itself is raised, since nothing else can be checked without it.
    """
    from campaign.schedule import timespec
    from campaign.text.fit import fit

    campaign = source if not isinstance(source, str) else load_campaign(source)
    now = now or datetime.now(UTC)
    result = Compiled(campaign)
    display = campaign.display

    release = None
    if campaign.release is not None:
        from campaign.source.release import load_release

        try:
            release = load_release(campaign.release)
        except ReleaseError as exc:
            result.errors.append(_located(exc, display))
            return result
    if not campaign.templates.is_dir() and any(p.text is None for p in campaign.posts):
        result.errors.append(TemplateError(f"{display}: template folder {campaign.templates} does not exist"))
        return result

    zone = timespec.resolve_zone(campaign.zone)
    try:
        campaign_start = timespec.resolve_start(campaign.start, zone=zone)
        if start:
            campaign_start = timespec.resolve_start(start, zone=zone, file_start=campaign_start)
    except ScheduleError as exc:
        result.errors.append(_located(exc, f"{display}: start"))
        return result
    result.start = campaign_start
    horizon_at = campaign_start.astimezone(UTC) + horizon
    # Outside apply, past times are reported as warnings, so expand as if nothing were past yet.
    expand_now = now if strict_past else datetime(1970, 1, 1, tzinfo=UTC)

    renderer = Renderer(campaign.templates)
    wanted = set(only_channels)
    slot_specs = {}
    for acct in campaign.accounts.values():
        if acct.slots:
            try:
                slot_specs[acct.name] = timespec.parse_slots(
                    acct.slots, default_zone=timespec.resolve_zone(acct.zone or campaign.zone)
                )
            except ScheduleError as exc:
                result.errors.append(_located(exc, f"{display}:{acct.line}: slots of {acct.name}"))
    slots = timespec.SlotAllocator(slot_specs, occupied=set(occupied))
    deferred: list[tuple[PostConfig, AccountConfig, Any, Any]] = []
    base_context = _campaign_context(campaign, release, campaign_start)

    for post in campaign.posts:
        for account_name in post.accounts:
            account = campaign.accounts[account_name]
            if wanted and account.channel not in wanted:
                continue
            variant = _variant(post, account)
            if variant.skip:
                continue
            where = f"{display}:{post.line}: post {post.key!r} on {account.name}"
            try:
                parts, lengths, limit, link, warnings = _render_and_fit(
                    renderer, campaign, post, account, variant, base_context, fit
                )
            except FitError as exc:  # its message already names the post and account
                result.errors.append(_located(exc, f"{display}:{post.line}"))
                continue
            except CampaignError as exc:
                result.errors.append(_located(exc, where))
                continue
            zone_name = variant.zone or post.zone or account.zone or campaign.zone
            when = variant.when if variant.when is not None else post.when
            send_late = variant.send_late if variant.send_late is not None else post.send_late
            made = (parts, lengths, limit, link, warnings, zone_name, send_late)
            try:
                spec = timespec.parse_when(when)
            except ScheduleError as exc:
                result.errors.append(_located(exc, where))
                continue
            if isinstance(spec, timespec.NextSlot):
                deferred.append((post, account, spec, made))
                continue
            try:
                expansion = timespec.expand(
                    spec,
                    zone=timespec.resolve_zone(zone_name),
                    start=campaign_start,
                    now=expand_now,
                    horizon=horizon_at,
                    send_late=send_late,
                )
            except ScheduleError as exc:
                result.errors.append(_located(exc, where))
                continue
            if expansion.skipped:
                result.skipped.extend((post.key, account.name, occ) for occ in expansion.skipped)
            for occ in expansion.occurrences:
                slots.occupy(account.name, occ.at)
                _add(result, campaign, post, account, occ, made, now, strict_past, where)

    for post, account, spec, made in deferred:
        where = f"{display}:{post.line}: post {post.key!r} on {account.name}"
        try:
            expansion = timespec.expand(
                spec,
                zone=timespec.resolve_zone(made[5]),
                start=campaign_start,
                now=expand_now,
                horizon=horizon_at,
                slots=slots,
                account=account.name,
            )
        except ScheduleError as exc:
            result.errors.append(_located(exc, where))
            continue
        for occ in expansion.occurrences:
            _add(result, campaign, post, account, occ, made, now, strict_past, where)

    result.posts.sort(key=lambda p: (p.scheduled_at, p.post_key, p.account, p.occurrence))
    return result


def _add(
    result: Compiled,
    campaign: Campaign,
    post: PostConfig,
    account: AccountConfig,
    occ: Any,
    made: tuple[Any, ...],
    now: datetime,
    strict_past: bool,
    where: str,
) -> None:
    parts, lengths, limit, link, warnings, zone_name, send_late = made
    warnings = list(warnings)
    scheduled = occ.at
    if occ.note:
        warnings.append(occ.note)
    if scheduled < now and not strict_past:
        # (under strict_past, timespec already refused it or moved it to now with a note)
        warnings.append(
            f"{occ.local:%Y-%m-%d %H:%M} {zone_name} is in the past: "
            + ("it would be sent at once (send_late)" if send_late else "apply would refuse it")
        )
    result.posts.append(
        PlannedPost(
            campaign=campaign.name,
            post_key=post.key,
            occurrence=occ.key,
            channel=account.channel,
            account=account.name,
            scheduled_at=scheduled,
            zone=zone_name,
            parts=tuple(parts),
            link=link,
            send_late=send_late,
            late_window=campaign.late_window,
            lengths=tuple(lengths),
            limit=limit,
            warnings=tuple(warnings),
        )
    )


def _variant(post: PostConfig, account: AccountConfig) -> Variant:
    """Channel-level override, then account-level override on top of it."""
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


def _campaign_context(campaign: Campaign, release: Any, start: datetime) -> dict[str, Any]:
    return {
        "release": release,
        "campaign": {
            "name": campaign.name,
            "zone": campaign.zone,
            "start": start,
            "hashtags": list(campaign.hashtags),
            "link": campaign.link,
        },
    }


def _render_and_fit(
    renderer: Renderer,
    campaign: Campaign,
    post: PostConfig,
    account: AccountConfig,
    variant: Variant,
    base_context: Mapping[str, Any],
    fit: Any,
) -> tuple[list[str], list[int], int, LinkCard | None, list[str]]:
    adapter = channels.load(account.channel)
    limit_setting = account.settings.get("limit")
    rules = adapter.rules.with_limit(int(limit_setting) if limit_setting is not None else None)
    raw_link = variant.link or post.link or campaign.link
    link_url = None
    if raw_link:
        link_url = (
            add_utm(raw_link, source=account.channel, campaign=campaign.name, content=post.key)
            if campaign.utm
            else raw_link
        )
    tags = list(variant.hashtags if variant.hashtags is not None else post.hashtags) + list(campaign.hashtags)
    release = base_context["release"]
    vars_ = {**campaign.vars, **post.vars, **variant.vars}
    context = {
        **base_context,
        "channel": {
            "name": account.channel,
            "title": adapter.title,
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
    text_source = (
        variant.text if variant.text is not None else (post.text if variant.template is None else None)
    )
    if text_source is not None:
        text = renderer.render_string(text_source, context, where=f"{campaign.display}:{post.line}")
    else:
        name = renderer.template_name(
            variant.template or post.template or post.key, account.channel, account.name
        )
        text = renderer.render_file(name, context)
    if not text:
        raise TemplateError("rendered text is empty")
    fitted = fit(
        text,
        rules,
        allow_thread=campaign.threads_allowed(post, account) and rules.threads,
        post=post.key,
        channel=f"{account.name} ({account.channel})",
    )
    warnings = list(fitted.warnings)
    link = None
    if link_url:
        title = post.link_title or campaign.link_title or (getattr(release, "title", None) or "")
        description = (
            post.link_description
            or campaign.link_description
            or (
                (getattr(release, "subtitle", None) or getattr(release, "lead", None) or "")
                if release
                else ""
            )
        )
        link = LinkCard(url=link_url, title=title, description=description)
    return list(fitted.parts), list(fitted.lengths), fitted.limit, link, warnings
