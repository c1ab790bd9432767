"""One post's text for one account: its template (or inline ``text:``) rendered with the post's context,
its media prepared, and the result fitted to the channel, with the link card it features.

Used by :mod:`campaign.plan.compile` once per post, account and language; needs no database or network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from campaign import channels
from campaign.channels.base import LinkCard
from campaign.errors import TemplateError
from campaign.plan.media import NO_MEDIA, PostMedia, PostMediaPlanner
from campaign.source.accounts import AccountConfig
from campaign.source.config import Campaign, PostConfig, Variant
from campaign.text.fit import Fitted, check_card, fit
from campaign.text.render import Renderer, add_utm
from campaign.text.rules import TextRules


@dataclass(frozen=True)
class Rendered:
    """One post's text for one account, fitted to its channel, with its link card (shared by its times)."""

    fitted: Fitted
    link: LinkCard | None
    media: PostMedia = NO_MEDIA



def render_and_fit(
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


__all__ = ["Rendered", "render_and_fit"]
