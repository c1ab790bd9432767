"""`campaign init --from-release`: derive a working campaign (schedule + templates) from a press release.

The derived campaign has a launch post, a quote post, one post per key figure (up to three), a
partners/people post and a boilerplate post, spread over the first days. Templates read the release's fields
(they do not copy its text), so fixing the release fixes every post; each template adapts to the channel's
limit (long-form channels get more of the release). The output passes `campaign check` unchanged.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from campaign.errors import ConfigError, UsageError

DEFAULT_CHANNELS = [
    "x",
    "linkedin",
    "mastodon",
    "bluesky",
    "facebook",
    "threads",
    "telegram",
    "slack",
    "discord",
]
#: Channels on which a post that is still too long after dropping hashtags becomes a thread.
THREAD_CHANNELS = ["x", "mastodon", "bluesky", "threads"]

#: Example values for settings the adapters require, so that the scaffold is valid and obvious to edit.
SETTING_EXAMPLES: dict[str, Any] = {
    "instance": "https://mastodon.social",
    "handle": "example.bsky.social",
    "service": "https://bsky.social",
    "page_id": "000000000000000",
    "author": "urn:li:organization:00000000",
    "chat_id": "@example_channel",
    "user_id": "0000000000000000",
    "url": "https://hooks.example.org/campaign",
    "username": "example",
}

_PROPER = re.compile(r"\b[A-Z][A-Za-z&]+(?:\s+[A-Z][A-Za-z&]+)*")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "campaign"


def _next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def _people_sentence(release: Any) -> int | None:
    """Index of the sentence naming the most organisations/people (the partners post), if any stands out."""
    best, best_score = None, 2
    for index, sentence in enumerate(release.sentences):
        if any(q.text in sentence for q in release.quotes):
            continue
        score = len(_PROPER.findall(sentence)) + sentence.count(",") // 2
        if score > best_score:
            best, best_score = index, score
    return best


def scaffold(
    release_file: Path,
    *,
    root: Path,
    name: str | None = None,
    channels: list[str] | None = None,
    start: str | None = None,
    zone: str = "UTC",
    force: bool = False,
    today: date | None = None,
) -> list[Path]:
    """Write ``schedules/NAME.yaml`` and ``templates/NAME/*.j2`` under ``root``; returns the written paths.

    Raises ReleaseError for an unusable release, UsageError for an unknown channel or existing files
    (without ``force``).
    """
    from campaign.source.release import load_release

    release = load_release(release_file)
    name = name or _slug(release_file.stem)
    chans = channels or DEFAULT_CHANNELS
    known = _known_channels()
    for chan in chans:
        if chan not in known:
            raise UsageError(f"unknown channel {chan!r} (installed: {', '.join(known)})")
    start = start or f"{_next_monday(today or date.today()).isoformat()} 09:00"

    schedule = root / "schedules" / f"{name}.yaml"
    folder = root / "templates" / name
    templates = _templates(release)
    targets = [schedule, *(folder / f for f in templates)]
    if not force:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            raise UsageError(f"{existing[0]} exists (use --force to overwrite)")
    schedule.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    release_rel = Path(_relpath(release_file.resolve(), schedule.parent.resolve()))
    schedule.write_text(_schedule_yaml(release, name, release_rel, chans, start, zone), encoding="utf-8")
    for filename, body in templates.items():
        (folder / filename).write_text(body, encoding="utf-8")
    return targets


def _known_channels() -> list[str]:
    from campaign import channels as registry

    return registry.names()


def _relpath(target: Path, base: Path) -> str:
    import os

    return os.path.relpath(target, base)


def _yaml_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _schedule_yaml(
    release: Any, name: str, release_rel: Path, chans: list[str], start: str, zone: str
) -> str:
    tags = ", ".join(_yaml_str(t) for t in release.hashtags[:3]) if release.hashtags else ""
    link = release.urls[0] if release.urls else None
    lines = [
        f"# Campaign derived from {release_rel.name} by `campaign init`.",
        "# Review it, then: campaign preview <this file>",
        f"campaign: {name}",
        f"release: {release_rel.as_posix()}",
        f"templates: ../templates/{name}",
        f"zone: {zone}",
        f'start: "{start}"',
        "late_window: 24h",
    ]
    if tags:
        lines.append(f"hashtags: [{tags}]   # added to every post; each channel caps how many it shows")
    if link:
        lines.append(f"link: {link}")
    lines.append(
        f"threads: [{', '.join(c for c in THREAD_CHANNELS if c in chans)}]"
        "   # long posts may become threads here"
    )
    lines.append("")
    lines.append("accounts:")
    for chan in chans:
        adapter = channels_load(chan)
        lines.append(f"  main_{chan}:")
        lines.append(f"    channel: {chan}")
        for key in adapter.required_settings:
            lines.append(
                f"    {key}: {_yaml_str(str(SETTING_EXAMPLES.get(key, 'change-me')))}"
                f"   # {adapter.required_settings[key]}"
            )
        if adapter.credential_names:
            lines.append("    credentials:   # environment variable names, never the secrets themselves")
            for cred in adapter.credential_names:
                line = f"      {cred}: {f'MAIN_{chan}_{cred}'.upper()}"
                if cred in adapter.optional_credentials:
                    line = f"      # {cred}: {f'MAIN_{chan}_{cred}'.upper()}   (optional)"
                lines.append(line)
    lines.append("")
    lines.append("posts:")
    posts: list[tuple[str, str, str]] = [("launch", "+0d 09:00", "the news, with the link")]
    if release.quotes:
        posts.append(("quote", "+1d 09:00", f"what {release.quotes[0].speaker} said"))
    for index, _figure in enumerate(release.figures[:3]):
        posts.append((f"figure-{index + 1}", f"+{2 + index}d 12:30", "a key figure"))
    if _people_sentence(release) is not None:
        posts.append(("people", f"+{2 + min(len(release.figures), 3)}d 09:00", "who took part"))
    if release.organization is not None:
        posts.append(("about", f"+{3 + min(len(release.figures), 3)}d 17:30", "who we are"))
    for key, when, what in posts:
        lines.append(f"  - key: {key}   # {what}")
        lines.append(f'    when: "{when}"')
    return "\n".join(lines) + "\n"


def channels_load(name: str) -> Any:
    from campaign import channels as registry

    try:
        return registry.load(name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _templates(release: Any) -> dict[str, str]:
    """Template files for the derived posts. Short channels (limit under 1000) get the short form."""
    out = {
        "launch.j2": (
            "{# Launch post: the release's title, then (long-form channels) its lead. #}\n"
            "{% if channel.limit >= 1000 %}\n"
            "{{ release.title }}\n\n"
            "{{ release.lead }}\n"
            "{% else %}\n"
            "{{ release.title | shorten(channel.limit - 80) }}\n"
            "{% endif %}\n\n"
            "{{ link }}\n\n"
            "{{ tags | hashtags }}\n"
        ),
    }
    if release.quotes:
        out["quote.j2"] = (
            "{# Quote post: the first quote of the release and who said it. #}\n"
            "{% set q = release.quotes[0] %}\n"
            "{% if channel.limit >= 1000 %}\n"
            "“{{ q.text }}”\n\n— {{ q.speaker }}{% if q.role %}, {{ q.role }}{% endif %}\n"
            "{% else %}\n"
            "“{{ q.text | shorten(channel.limit - 90) }}” — {{ q.speaker }}\n"
            "{% endif %}\n\n"
            "{{ tags | hashtags }}\n"
        )
    for index, _figure in enumerate(release.figures[:3]):
        out[f"figure-{index + 1}.j2"] = (
            "{# A key figure from the release. #}\n"
            f"{{% set f = release.figures[{index}] %}}\n"
            "{{ f.sentence | shorten(channel.limit - 60) }}\n\n"
            "{{ tags | hashtags }}\n"
        )
    people = _people_sentence(release)
    if people is not None:
        out["people.j2"] = (
            "{# Who took part: the release sentence that names the most partners. #}\n"
            f"{{{{ release.sentences[{people}] | shorten(channel.limit - 60) }}}}\n\n"
            "{{ tags | hashtags }}\n"
        )
    if release.organization is not None:
        out["about.j2"] = (
            "{# Boilerplate: who the organisation is, with the link. #}\n"
            "{% if channel.limit >= 1000 %}\n"
            "About {{ release.organization.name }}: {{ release.organization.about | first_sentence }}\n"
            "{% else %}\n"
            "{{ release.organization.about | first_sentence | shorten(channel.limit - 60) }}\n"
            "{% endif %}\n\n"
            "{{ link }}\n"
        )
    return out
