"""`campaign init --from-release`: derive a publishable campaign (schedule + templates) from a press release.

What the derived campaign is (issue 13):

* Its ``zone`` is the dateline's zone (``--zone`` overrides; UTC with a comment when the release has none).
  It starts next Monday, or on the first business day at or after the release's embargo.
  Posts fall on business days (Monday to Friday) at working hours of that zone, one post per day, so no
  account ever has two posts at one time.
* Posts: a launch post (title, and the lead on long-form channels), a quote post (one whole quote with its
  speaker; shortened by ``shorten`` only where a platform's limit needs it), up to three figure posts (each
  a different sentence with a different number, chosen only when the sentence reads on its own: no leading
  pronoun or connective, not inside a quotation, not the lead), a partners post and an "about" post.
  No two posts of one account share a text.
* Nothing of the newswire's boilerplate reaches a post: the templates read the parsed fields (the lead has
  no dateline prefix; preamble lines, end marks and contacts are not in any field a template uses).
* The link is the release's main link (:attr:`Release.link`); hashtags are the release's, as written; the
  few words the templates add ("About", quotation marks) are in the release's language.
* The launch post carries the images a Markdown release references, with their alt text
  (:mod:`campaign.source.scaffold_media`; ``warn`` reports each image left out).
* A campaign already in the folder that uses the same release file is not silently duplicated: init
  refuses unless ``--name`` (a new campaign on purpose) or ``--force`` is given.

Templates read the release's fields (they do not copy its text), so fixing the release fixes every post;
the output passes ``campaign check`` unchanged.

CLI contract (:func:`run_init` is what ``campaign init`` calls): ``--from-release FILE`` (required;
repeatable: a release and its translations make one campaign in their languages, :func:`scaffold_languages`),
``--name``, ``--dir``, ``--channels``, ``--start``, ``--zone`` (default: the dateline's), ``--force``;
prints ``wrote PATH`` per file, then ``next: campaign check SCHEDULE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from campaign.errors import ConfigError, ReleaseError, UsageError
from campaign.source.scaffold_media import launch_media

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

# Words the templates add, per language (the primary subtag of the release's BCP 47 tag).
_WORDS: dict[str, dict[str, str]] = {
    "en": {"sep": ", ", "about": "About {name}: ", "open": "“", "close": "”", "dash": "— "},
    "de": {"sep": ", ", "about": "Über {name}: ", "open": "„", "close": "“", "dash": "— "},
    "fr": {"sep": ", ", "about": "À propos de {name} : ", "open": "« ", "close": " »", "dash": "— "},
    "es": {"sep": ", ", "about": "Acerca de {name}: ", "open": "«", "close": "»", "dash": "— "},
    "pt": {"sep": ", ", "about": "Sobre {name}: ", "open": "“", "close": "”", "dash": "— "},
    "zh-Hant": {"sep": "，", "about": "關於{name}：", "open": "「", "close": "」", "dash": "——"},
    "zh-Hans": {"sep": "，", "about": "关于{name}：", "open": "“", "close": "”", "dash": "——"},
    "ja": {"sep": "、", "about": "{name}について：", "open": "「", "close": "」", "dash": "——"},
}
# Sentence openings that lean on the sentence before (a figure post must read on its own).
_LEANS = re.compile(
    r"^(?:It|Its|This|That|These|Those|They|Their|He|She|His|Her|We|Our|However|But|And|Also|In addition|"
    r"Additionally|Furthermore|Moreover|Meanwhile|Such|Both|Er|Sie|Es|Dies|Diese|Damit|Dabei|Außerdem|"
    r"Il|Elle|Ils|Elles|Cela|Ce|Cette|Ces|En outre|De plus|Él|Ella|Ellos|Esto|Este|Esta|Estos|Además|"
    r"Ele|Ela|Eles|Elas|Isso|Isto|Esse|Essa|Além disso|Também|"
    r"該|该|此|這|这|其|他|她|它|同時|同时|此外|另外|これ|この|同社|また|さらに)(?![a-zà-ÿ])"
)
_QUOTE_MARKS = re.compile(r"[\"“”„«»「」『』]")
_PROPER = re.compile(r"\b[A-Z][A-Za-z&]+(?:\s+[A-Z][A-Za-z&]+)*")
_WORK_TIMES = {"launch": "09:00", "quote": "10:00", "figure": "12:30", "people": "11:00", "about": "16:30"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "campaign"


def _next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def _first_start(today: date, embargo: str | None, zone: str | None) -> date:
    """Next Monday, or the first business day whose 09:00 (campaign zone) is not before the embargo."""
    day = _next_monday(today)
    if not embargo:
        return day
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone or "UTC")
    lifted = datetime.fromisoformat(embargo if "T" in embargo else f"{embargo}T00:00")
    lifted = lifted if lifted.tzinfo else lifted.replace(tzinfo=tz)
    try:
        while day.weekday() >= 5 or datetime(day.year, day.month, day.day, 9, tzinfo=tz) < lifted:
            day += timedelta(days=1)
    except OverflowError:  # an embargo at the calendar's end (9999-12-31): no day after it
        raise ReleaseError(f"the release's embargo {embargo!r} leaves no day to start a campaign") from None
    return day


def business_day_offsets(start: date, count: int) -> list[int]:
    """Calendar-day offsets from ``start`` of the first ``count`` business days (Monday to Friday) on or
    after it."""
    offsets: list[int] = []
    day = 0
    while len(offsets) < count:
        if (start + timedelta(days=day)).weekday() < 5:
            offsets.append(day)
        day += 1
    return offsets


def _words(release: Any) -> dict[str, str]:
    lang = release.language or "en"
    return _WORDS.get(lang) or _WORDS.get(lang.split("-")[0]) or _WORDS["en"]


def figure_choices(release: Any, limit: int = 3) -> list[int]:
    """Indexes into ``release.figures`` for figure posts: sentences that read on their own, each with a
    number no other chosen post states, none being the lead or inside a quotation."""
    about = release.organization.about if release.organization is not None else ""
    about_first = about.split("\n\n", 1)[0][:80] if about else ""
    chosen: list[int] = []
    seen_phrases: set[str] = set()
    seen_sentences = {release.lead}
    for index, figure in enumerate(release.figures):
        s = figure.sentence
        if s in seen_sentences or _QUOTE_MARKS.search(s) or _LEANS.match(s) or len(s) > 400:
            continue
        if about_first and s.startswith(about_first[:40]):
            continue  # the about post's own sentence
        if s[:1].islower() or any(p in seen_phrases for p in figure.phrases):
            continue
        chosen.append(index)
        seen_sentences.add(s)
        seen_phrases.update(figure.phrases)
        if len(chosen) == limit:
            break
    return chosen


def quote_choice(release: Any) -> int | None:
    """Index of the quote for the quote post: the first with a speaker and at least a few words."""
    for index, q in enumerate(release.quotes):
        if q.speaker and len(q.text) >= 12:
            return index
    return None


def _people_sentence(release: Any, taken: set[str]) -> int | None:
    """Index of the sentence naming the most organisations/people (the partners post), if any stands out."""
    best, best_score = None, 2
    for index, sentence in enumerate(release.sentences):
        if sentence in taken or _QUOTE_MARKS.search(sentence) or _LEANS.match(sentence):
            continue
        if any(q.text in sentence for q in release.quotes):
            continue
        score = len(_PROPER.findall(sentence)) + sentence.count(",") // 2
        if score > best_score:
            best, best_score = index, score
    return best


def existing_campaigns_for(release_file: Path, root: Path) -> list[Path]:
    """Schedule files under ``root/schedules`` whose ``release:`` (a file, or a map of one per language) is
    ``release_file``. Files that do not read as YAML are skipped."""
    import yaml

    folder = root / "schedules"
    if not folder.is_dir():
        return []
    target = release_file.resolve()
    found = []
    for schedule in sorted(folder.glob("*.y*ml")):
        try:
            doc = yaml.safe_load(schedule.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        used = doc.get("release") if isinstance(doc, dict) else None
        names = list(used.values()) if isinstance(used, dict) else [used]
        if any(
            isinstance(n, str) and n and _same_release((schedule.parent / n).resolve(), target) for n in names
        ):
            found.append(schedule)
    return found


def _refuse_reuse(release_file: Path, root: Path) -> None:
    """UsageError when a campaign in ``root/schedules`` already uses ``release_file``."""
    users = existing_campaigns_for(release_file, root)
    if users:
        raise UsageError(
            f"{users[0]} already uses {release_file}; add --name NEW to derive another campaign from it, "
            f"or --force"
        )


def _same_release(used: Path, wanted: Path) -> bool:
    """The same file, or the copy `init` made of it inside the project (same name, same bytes)."""
    if used == wanted:
        return True
    try:
        return used.name == wanted.name and used.read_bytes() == wanted.read_bytes()
    except OSError:
        return False


def run_init(
    release_files: list[Path] | tuple[Path, ...],
    *,
    root: Path,
    name: str | None = None,
    channels: list[str] | None = None,
    start: str | None = None,
    zone: str | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
    today: date | None = None,
) -> list[Path]:
    """What ``campaign init`` does, so that the CLI only maps its options onto this call.

    Options: ``--from-release FILE`` (required, repeatable: ``release_files``; several make one campaign
    in their languages, :func:`scaffold_languages`), ``--name`` (also the way to derive a second
    campaign from a release another campaign in ``schedules/`` already uses), ``--dir`` (``root``),
    ``--channels``, ``--start``, ``--zone`` (None: the dateline's zone, else UTC), ``--force`` (overwrite
    files, and allow a second campaign for the same release). Prints ``wrote PATH`` per file, then
    ``next: campaign check SCHEDULE``. Raises UsageError (exit 2) for a refusal, ReleaseError for an
    unreadable release.
    """
    if len(release_files) > 1:  # a release and its translations: one campaign in several languages
        written = scaffold_languages(
            [Path(f) for f in release_files], root=root, name=name, channels=channels, start=start,
            zone=zone, force=force, today=today,
        )  # fmt: skip
    else:
        written = scaffold(
            Path(release_files[0]),
            root=root,
            name=name,
            channels=channels,
            start=start,
            zone=zone,
            force=force,
            today=today,
        )
    for path in written:
        echo(f"wrote {path}")
    echo(f"next: campaign check {written[0]}")
    return written


def scaffold(
    release_file: Path,
    *,
    root: Path,
    name: str | None = None,
    channels: list[str] | None = None,
    start: str | None = None,
    zone: str | None = None,
    force: bool = False,
    today: date | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write ``schedules/NAME.yaml`` and ``templates/NAME/*.j2`` under ``root``; returns the written paths.

    Raises ReleaseError for an unreadable release or one with neither a title nor body text, UsageError for
    an unknown channel, for existing files
    (without ``force``), and for a release that a campaign in the folder already uses (without ``name`` or
    ``force``).
    """
    from campaign.source.release import load_release

    release = _postable(load_release(release_file))
    if not force and name is None:
        _refuse_reuse(release_file, root)
    name = name or _slug(release_file.stem)
    chans = channels or DEFAULT_CHANNELS
    known = _known_channels()
    for chan in chans:
        if chan not in known:
            raise UsageError(f"unknown channel {chan!r} (installed: {', '.join(known)})")
    zone = zone or (release.dateline.zone if release.dateline is not None else None)
    if start is None:
        start = f"{_first_start(today or date.today(), release.embargo, zone).isoformat()} 09:00"
    start_day = (
        date.fromisoformat(start.strip()[:10]) if re.match(r"\d{4}-\d{2}-\d{2}", start.strip()) else None
    )

    schedule = root / "schedules" / f"{name}.yaml"
    folder = root / "templates" / name
    plan = _plan(release)
    templates = _templates(release, plan)
    targets = [schedule, *(folder / f for f in templates)]
    if not force:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            raise UsageError(f"{existing[0]} exists (use --force to overwrite)")
    schedule.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    media = launch_media(release, release_file, schedule, chans, load=channels_load, force=force, warn=warn)
    release_file, copied = _release_in_project(release_file, schedule, force=force)
    release_rel = Path(_relpath(release_file.resolve(), schedule.parent.resolve()))
    text = _schedule_yaml(release, name, release_rel, chans, start, zone, plan, start_day, media.lines)
    schedule.write_text(text, encoding="utf-8")
    for filename, body in templates.items():
        (folder / filename).write_text(body, encoding="utf-8")
    return [*targets, release_file, *media.copied] if copied else [*targets, *media.copied]


def _postable(release: Any) -> Any:
    """The release, or ReleaseError when it has neither a title nor body text (every post would be empty)."""
    if not release.title and not release.lead:
        raise ReleaseError(f"{release.source}: no title and no body text found: nothing to post")
    return release


def _plan(release: Any) -> dict[str, Any]:
    """Which release parts the posts use: quote index, figure indexes, people sentence index."""
    figures = figure_choices(release)
    taken = {release.lead, *(release.figures[i].sentence for i in figures)}
    return {
        "quote": quote_choice(release),
        "figures": figures,
        "people": _people_sentence(release, taken),
    }


def _about_reads_well(release: Any) -> bool:
    """An about post needs prose: not a 会社概要-style table of labels ("会社名：…所在地：…")."""
    org = release.organization
    if org is None or not org.about:
        return False
    from campaign.text.sentences import split_sentences

    first = next(iter(split_sentences(org.about)), "")
    return len(re.findall(r"[:：]", re.sub(r"https?://\S+", "", first))) < 2


def _known_channels() -> list[str]:
    from campaign import channels as registry

    return registry.names()


def _release_in_project(release_file: Path, schedule: Path, *, force: bool) -> tuple[Path, bool]:
    """The release as the campaign will name it: inside the campaign's project root (every file a campaign
    names must be, :mod:`campaign.source.paths`), copied into ``releases/`` there when it is outside.
    Returns the path and whether it was copied."""
    import shutil

    from campaign.source.paths import find_project_root

    project = find_project_root(schedule)
    real = release_file.resolve()
    if real.is_relative_to(project):
        return release_file, False
    target = project / "releases" / real.name
    if target.exists() and target.read_bytes() != real.read_bytes() and not force:
        raise UsageError(f"{target} exists and differs from {release_file} (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real, target)
    return target, True


def _relpath(target: Path, base: Path) -> str:
    import os

    return os.path.relpath(target, base)


def _yaml_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _posts(release: Any, plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    posts = [("launch", "launch", "the news, with the link")]
    if plan["quote"] is not None:
        posts.append(("quote", "quote", f"what {release.quotes[plan['quote']].speaker} said"))
    for n, _index in enumerate(plan["figures"]):
        posts.append((f"figure-{n + 1}", "figure", "a key figure"))
    if plan["people"] is not None:
        posts.append(("people", "people", "who took part"))
    if _about_reads_well(release):
        posts.append(("about", "about", "who we are"))
    return posts


def _schedule_yaml(
    release: Any,
    name: str,
    release_rel: Path,
    chans: list[str],
    start: str,
    zone: str | None,
    plan: dict[str, Any],
    start_day: date | None,
    media_lines: Sequence[str] = (),
) -> str:
    tags = ", ".join(_yaml_str(t) for t in release.hashtags[:3]) if release.hashtags else ""
    lines = [
        f"# Campaign derived from {release_rel.name} by `campaign init`.",
        "# Review it, then: campaign preview <this file>",
        f"campaign: {name}",
        f"release: {release_rel.as_posix()}",
        f"templates: ../templates/{name}",
        f"zone: {zone}   # the dateline's place"
        if zone
        else "zone: UTC   # the release names no known place: set it",
        f'start: "{start}"' + (f"   # not before the embargo ({release.embargo})" if release.embargo else ""),
        "late_window: 24h",
    ]
    if tags:
        lines.append(f"hashtags: [{tags}]   # the release's own; each channel caps how many it shows")
    if release.link:
        lines.append(f"link: {release.link}")
    lines.append(
        f"threads: [{', '.join(c for c in THREAD_CHANNELS if c in chans)}]"
        "   # long posts may become threads here"
    )
    lines += ["", "accounts:"]
    for chan in chans:
        lines.extend(_account_lines(chan, release.language))
    lines += ["", "posts:   # one a business day, at working hours in the campaign's zone"]
    posts = _posts(release, plan)
    offsets = business_day_offsets(start_day, len(posts)) if start_day else list(range(len(posts)))
    for (key, kind, what), day in zip(posts, offsets, strict=True):
        lines.append(f"  - key: {key}   # {what}")
        lines.append(f'    when: "+{day}d {_WORK_TIMES[kind]}"')
        if key == "launch":
            lines.extend(media_lines)
    return "\n".join(lines) + "\n"


def _account_lines(chan: str, language: str | None) -> list[str]:
    adapter = channels_load(chan)
    lines = [f"  main_{chan}:", f"    channel: {chan}"]
    for key in adapter.required_settings:
        lines.append(
            f"    {key}: {_yaml_str(str(SETTING_EXAMPLES.get(key, 'change-me')))}"
            f"   # {adapter.required_settings[key]}"
        )
    optional = getattr(adapter, "optional_settings", {}) or {}
    if language and "language" in optional:
        code = language if chan == "bluesky" else language.split("-")[0]
        lines.append(f"    language: {code}   # the release's language")
    if adapter.credential_names:
        lines.append("    credentials:   # environment variable names, never the secrets themselves")
        for cred in adapter.credential_names:
            line = f"      {cred}: {f'CAMPAIGN_MAIN_{chan}_{cred}'.upper()}"
            if cred in adapter.optional_credentials:
                line = f"      # {cred}: {f'CAMPAIGN_MAIN_{chan}_{cred}'.upper()}   (optional)"
            lines.append(line)
    return lines


def channels_load(name: str) -> Any:
    from campaign import channels as registry

    try:
        return registry.load(name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _templates(release: Any, plan: dict[str, Any]) -> dict[str, str]:
    """Template files for the derived posts. Short channels (limit under 1000) get the short form."""
    w = _words(release)
    headline = "release.title" if release.title else "release.lead"
    body = (
        "release.lead" if release.title else "release.paragraphs[1]" if len(release.paragraphs) > 1 else None
    )
    out = {
        "launch.j2": (
            "{# Launch post: the release's title, then (long-form channels) its lead. #}\n"
            "{% if channel.limit >= 1000 %}\n"
            f"{{{{ {headline} | shorten(300) }}}}\n"
            + (f"\n{{{{ {body} | shorten(channel.limit - 400) }}}}\n" if body else "")
            + "{% else %}\n"
            f"{{{{ {headline} | shorten(channel.limit - 80) }}}}\n"
            "{% endif %}\n\n"
            "{{ link }}\n\n"
            "{{ tags | hashtags }}\n"
        ),
    }
    if plan["quote"] is not None:
        out["quote.j2"] = (
            "{# Quote post: one whole quote of the release and who said it. #}\n"
            f"{{% set q = release.quotes[{plan['quote']}] %}}\n"
            "{% if channel.limit >= 1000 %}\n"
            f"{w['open']}{{{{ q.text | shorten(channel.limit - 300) }}}}{w['close']}\n\n"
            f"{w['dash']}{{{{ q.speaker }}}}"
            f"{{% if q.role %}}{w['sep']}{{{{ q.role }}}}{{% endif %}}\n\n"
            "{% else %}\n"
            f"{w['open']}{{{{ q.text | shorten(channel.limit - 90) }}}}{w['close']} "
            f"{w['dash']}{{{{ q.speaker }}}}\n"
            "{% endif %}\n\n"
            "{{ tags | hashtags }}\n"
        )
    for n, index in enumerate(plan["figures"]):
        out[f"figure-{n + 1}.j2"] = (
            "{# A key figure from the release, in a sentence that reads on its own. #}\n"
            f"{{% set f = release.figures[{index}] %}}\n"
            "{{ f.sentence | shorten(channel.limit - 60) }}\n\n"
            "{{ tags | hashtags }}\n"
        )
    if plan["people"] is not None:
        out["people.j2"] = (
            "{# Who took part: the release sentence that names the most partners. #}\n"
            f"{{{{ release.sentences[{plan['people']}] | shorten(channel.limit - 60) }}}}\n\n"
            "{{ tags | hashtags }}\n"
        )
    if _about_reads_well(release):
        about = w["about"].replace("{name}", "{{ release.organization.name }}")
        out["about.j2"] = (
            "{# Boilerplate: who the organisation is, with the link. #}\n"
            "{% if channel.limit >= 1000 %}\n"
            f"{about}{{{{ release.organization.about | first_sentence | shorten(channel.limit - 200) }}}}\n"
            "{% else %}\n"
            "{{ release.organization.about | first_sentence | shorten(channel.limit - 60) }}\n"
            "{% endif %}\n\n"
            "{{ link }}\n"
        )
    return out


# Long because it writes one campaign for several releases in one pass: the releases' plans, then each
# language's templates, then the schedule with its accounts per language.
def scaffold_languages(
    release_files: list[Path],
    *,
    root: Path,
    name: str | None = None,
    channels: list[str] | None = None,
    start: str | None = None,
    zone: str | None = None,
    force: bool = False,
    today: date | None = None,
) -> list[Path]:
    """One campaign from a release and its translations (``--from-release en.txt --from-release zh.txt``).

    Writes ``languages: [en, zh-Hant]`` (the releases' detected languages, in the order given; the first is
    the default), ``release:`` as a map language -> file (files outside the project are copied into its
    ``releases/``), ``hashtags:`` and ``link:`` per language (each release's own), accounts per channel and
    language (``main_x_en``, ``main_x_zh-Hant``) each with its ``language:`` and its own credentials
    (``CAMPAIGN_MAIN_X_ZH_HANT_TOKEN``: the default allow-list takes ``CAMPAIGN_*``), templates ``KEY.j2``
    for the first language and ``KEY.LANG.j2`` for the others, and posts whose ``accounts:`` are the
    accounts of the languages whose release has that post. The same refusals as :func:`scaffold`.
    """
    from campaign.source.release import load_release

    releases = [_postable(load_release(f)) for f in release_files]
    langs = [r.language or f"und-x-{i}" for i, r in enumerate(releases)]
    if len({lang.lower() for lang in langs}) != len(langs):
        raise UsageError(f"the releases must be in different languages (found {', '.join(langs)})")
    if not force and name is None:
        for f in release_files:
            _refuse_reuse(f, root)
    stem = release_files[0].stem  # `x.en.txt` names the campaign `x`
    suffix = f".{langs[0].lower()}"
    name = name or _slug(stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem)
    chans = channels or DEFAULT_CHANNELS
    for chan in chans:
        channels_load(chan)
    zone = zone or next((r.dateline.zone for r in releases if r.dateline and r.dateline.zone), None)
    embargo = max((r.embargo for r in releases if r.embargo), default=None)
    start = start or f"{_first_start(today or date.today(), embargo, zone).isoformat()} 09:00"
    schedule = root / "schedules" / f"{name}.yaml"
    folder = root / "templates" / name
    plans = [_plan(r) for r in releases]
    files: dict[str, str] = {}
    for i, (release, plan) in enumerate(zip(releases, plans, strict=True)):
        for filename, body in _templates(release, plan).items():
            files[filename if i == 0 else filename.replace(".j2", f".{langs[i]}.j2")] = body
    targets = [schedule, *(folder / f for f in files)]
    if not force and (existing := [str(p) for p in targets if p.exists()]):
        raise UsageError(f"{existing[0]} exists (use --force to overwrite)")
    schedule.parent.mkdir(parents=True, exist_ok=True)
    copies = [_release_in_project(f, schedule, force=force) for f in release_files]
    accounts = {lang: [f"main_{chan}_{lang}" for chan in chans] for lang in langs}
    keyed = [{key: kind for key, kind, _ in _posts(r, p)} for r, p in zip(releases, plans, strict=True)]
    order = list(dict.fromkeys(k for posts in keyed for k in posts))
    lines = [
        f"# Campaign derived from {', '.join(f.name for f in release_files)} by `campaign init`.",
        "# Review it, then: campaign preview <this file>",
        f"campaign: {name}",
        f"languages: [{', '.join(langs)}]   # the releases' languages; the first is the default",
        "release:",
        *(f"  {lang}: {Path(_relpath(f.resolve(), schedule.parent.resolve())).as_posix()}"
          for lang, (f, _) in zip(langs, copies, strict=True)),
        f"templates: ../templates/{name}",
        f"zone: {zone or 'UTC'}   # " + ("the dateline's place" if zone else "no known place: set it"),
        f'start: "{start}"' + (f"   # not before the embargo ({embargo})" if embargo else ""),
        "late_window: 24h",
    ]  # fmt: skip
    tagged = [(lang, r.hashtags[:3]) for lang, r in zip(langs, releases, strict=True) if r.hashtags]
    if tagged:
        lines.append("hashtags:   # each release's own; each channel caps how many it shows")
        lines += [f"  {lang}: [{', '.join(_yaml_str(t) for t in tags)}]" for lang, tags in tagged]
    links = {lang: r.link for lang, r in zip(langs, releases, strict=True) if r.link}
    if len(set(links.values())) > 1:  # each language's release has its own page
        lines += ["link:   # each release's own page", *(f"  {lang}: {url}" for lang, url in links.items())]
    elif links:
        lines.append(f"link: {next(iter(links.values()))}")
    lines.append(f"threads: [{', '.join(c for c in THREAD_CHANNELS if c in chans)}]")
    lines += ["", "accounts:   # one per channel and language"]
    for lang in langs:
        for chan in chans:
            env = f"CAMPAIGN_MAIN_{chan}_".upper()
            account = [line.replace(env, env + lang.upper().replace("-", "_") + "_")
                       for line in _account_lines(chan, None)]  # fmt: skip
            account[0] = f"  main_{chan}_{lang}:"
            account.insert(2, f"    language: {lang}")
            lines.extend(account)
    lines += ["", "posts:   # one a business day, at working hours in the campaign's zone"]
    day0 = date.fromisoformat(start[:10]) if re.match(r"\d{4}-\d{2}-\d{2}", start) else None
    offsets = business_day_offsets(day0, len(order)) if day0 else list(range(len(order)))
    for key, day in zip(order, offsets, strict=True):
        kind = next(posts[key] for posts in keyed if key in posts)
        lines += [f"  - key: {key}", f'    when: "+{day}d {_WORK_TIMES[kind]}"']
        users = [a for lang, posts in zip(langs, keyed, strict=True) if key in posts for a in accounts[lang]]
        if len(users) < sum(len(v) for v in accounts.values()):
            lines.append(f"    accounts: [{', '.join(users)}]")
    folder.mkdir(parents=True, exist_ok=True)
    schedule.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for filename, body in files.items():
        (folder / filename).write_text(body, encoding="utf-8")
    return [*targets, *(path for path, copied in copies if copied)]
