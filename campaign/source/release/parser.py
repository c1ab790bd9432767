"""Reading a release file and assembling the parsed :class:`Release` (see the package docstring)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import regex

from campaign.errors import ReleaseError
from campaign.source.files import FileRefused, read_regular
from campaign.source.release import sections as sec
from campaign.source.release.blocks import (
    Item,
    find_hashtags,
    find_urls,
    front_matter,
    items,
    normalise,
    normalise_url,
)
from campaign.source.release.damage import find_damage
from campaign.source.release.datelines import dateline
from campaign.source.release.dates import date_alone, find_date
from campaign.source.release.figures import figures
from campaign.source.release.htmlpage import html_fragments, html_to_text, looks_like_html
from campaign.source.release.markup import find_images, inline
from campaign.source.release.model import Dateline, DetectedLanguage, Notice, Organization, Release
from campaign.source.release.quotes import quotes
from campaign.text.sentences import URL, Lazy, repair, split_sentences

_PREAMBLE = Lazy(
    r"(?i)(?:for immediate release|immediate release|press release|news release|media release|for release"
    r"|pressemitteilung|pressemeldung|presseinformation|communiqué de presse|communiqué|comunicado de prensa"
    r"|nota de prensa|comunicado)\b.{0,40}"
    r"|新聞稿|新闻稿|即時發布|即时发布|即時發佈|報道関係者各位|プレスリリース|ニュースリリース|報道資料"
    # the issuer's name on a line of its own above a Japanese title
    r"|(?:株式会社|有限会社|合同会社)[^\s、。，]{1,30}|[^\s、。，]{1,30}(?:株式会社|有限会社)"
)
_COMPANY_NAME = Lazy(r"(?:会社名|社名|名称|公司名稱|公司名称)\s*[:：]\s*(?P<name>[^\n]{2,40})")
_HQ_JA = Lazy(r"本社\s*[:：]\s*(?P<place>[^\s、，,）)]{2,12})")
_ISSUED_AT = Lazy(r"(?i)issued at (?P<z>HKT|SGT|JST)\b|(?P<z>香港時間|香港时间)\s*\d")
_ISSUED_ZONES = {
    "HKT": "Asia/Hong_Kong", "SGT": "Asia/Singapore", "JST": "Asia/Tokyo", "香港時間": "Asia/Hong_Kong",
    "香港时间": "Asia/Hong_Kong",
}  # fmt: skip
_ITALIC_LINE = Lazy(r"\s*([*_])(?!\1)[^\n]+\1\s*")
_FM_TITLE = ("title",)
_FM_SUBTITLE = ("subtitle", "description", "summary", "excerpt")
_FM_LINK = ("url", "link", "canonical_url", "canonical", "permalink")
_FM_DATE = ("date", "published", "pubdate", "publish_date")
_FM_PLACE = ("place", "location", "dateline", "city")
_FM_LANG = ("lang", "language", "locale")


def load_release(path: str | Path) -> Release:
    """Read and parse a release file. Raises ReleaseError naming the file when it is missing, unreadable,
    empty, binary or not UTF-8; any other text parses (see :func:`parse_release`)."""
    p = Path(path)
    name = str(path)
    try:
        data = read_regular(p)  # regular files only, size-capped: /dev/zero or a FIFO never hangs
    except FileNotFoundError as exc:
        raise ReleaseError(f"{name}: release file not found") from exc
    except IsADirectoryError as exc:
        raise ReleaseError(f"{name}: is a directory, not a release file") from exc
    except FileRefused as exc:
        raise ReleaseError(f"{name}: release file refused: {exc.strerror}") from None
    except OSError as exc:
        raise ReleaseError(f"{name}: cannot read release file ({exc.strerror or exc})") from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReleaseError(f"{name}: release is UTF-16 encoded; save it as UTF-8")
    if data.startswith(b"%PDF"):
        raise ReleaseError(f"{name}: a PDF, not a text release: copy its text into a .txt or .md file")
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:2000]:
        raise ReleaseError(f"{name}: a Word document: save it as plain text (UTF-8) or Markdown")
    if b"\x00" in data:
        raise ReleaseError(f"{name}: binary file (contains NUL bytes), not a text release")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    return parse_release(text, source=name)


def _fm(meta: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value is not None and not isinstance(value, dict | list) and str(value).strip():
            return " ".join(str(value).split())
    return None


class _State:
    """What the head of the file told: preamble lines, embargo, a date on its own line."""

    def __init__(self) -> None:
        self.embargo_line: str | None = None
        self.date: str | None = None
        self.dateline: Dateline | None = None  # a place and date on a line of their own above the title
        self.contacts: list[str] = []
        self.notices: list[Notice] = []


_DASH_ENDS = ("-", "–", "—", "―", "－", ":", "：", "/")


def _is_preamble(line: str, st: _State) -> bool:
    if _PREAMBLE.fullmatch(line):
        st.date = st.date or find_date(line)  # "For immediate release: 3 March 2026"
        return True
    if sec.is_embargo(line):
        st.embargo_line = st.embargo_line or line
        return True
    if (day := date_alone(line)) is not None:
        st.date = st.date or day
        return True
    # "Paris, le 4 décembre 2026" alone above the title (French and Spanish releases): read like a date
    # alone. A wire's dateline ("... /PRNewswire/ --") or one ending in a dash ("PARIS, 4 May 2026 –") is
    # never a preamble: the body follows it.
    found = None if line.rstrip().endswith(_DASH_ENDS) else dateline(line)
    if found is not None and not found[1].strip() and found[0].date and not found[0].source:
        st.dateline = st.dateline or found[0]
        st.date = st.date or found[0].date
        return True
    return False


def _title(its: list[Item], st: _State) -> tuple[str | None, int]:
    """The title and the index of the first item after it. Preamble lines (FOR IMMEDIATE RELEASE, embargo,
    a date alone) before the title are consumed; a dateline or a long paragraph first means no title."""
    i = 0
    while i < len(its):
        it = its[i]
        if it.kind == "rule":
            i += 1
            continue
        if it.kind == "end":
            return None, i
        if it.kind == "heading":
            if _is_preamble(inline(it.text), st):
                i += 1
                continue
            return inline(it.text), i + 1
        if it.kind == "para" and (
            sec.is_contact(inline(it.text.split("\n", 1)[0])) or sec.is_contact_block(it.text)
        ):
            st.contacts.extend(inline(x) for x in it.text.split("\n") if inline(x))
            i += 1  # media contacts above the title
            continue
        lines = [ln for ln in it.text.split("\n") if not _is_preamble(inline(ln), st)]
        if not lines:
            i += 1
            continue
        first = inline(lines[0])
        its[i] = Item(it.kind, "\n".join(lines))
        if (
            dateline(first) is not None
            or len(first) > 300
            or it.kind == "item"
            or not regex.search(r"\p{L}", first)
            or URL.fullmatch(first)
            or (st.dateline is not None and _reads_as_prose(first))  # "Paris, le 4 mai 2026" / the body
        ):
            return None, i  # the text starts with its body
        if len(lines) > 1:
            its[i] = Item("para", "\n".join(lines[1:]))
            return first, i
        return first, i + 1
    return None, i


def _reads_as_prose(line: str) -> bool:
    """A line that ends a sentence and is long or holds several: body text, not a title."""
    return line.endswith((".", "。")) and (len(line) > 120 or len(split_sentences(line)) > 1)


def _find_dateline(
    its: list[Item], i: int, has_subtitle: bool, st: _State
) -> tuple[Dateline | None, int, int]:
    """(dateline, index of the item holding the body start, index of the first subtitle item)."""
    window = 1 if has_subtitle else 3  # plain text: subtitle paragraphs may precede the dateline
    start = i
    paras = 0
    k = i
    while k < len(its) and paras <= window and k - i < 16:
        it = its[k]
        if it.kind in ("item", "rule") or (it.kind == "heading" and it.level >= 2):
            k += 1  # "Highlights" bullets between the title and the dateline
            continue
        if it.kind != "para":
            break
        text = inline(it.text)
        if (day := date_alone(text)) is not None:  # a government release: a date line of its own
            st.date = st.date or day
            its[k] = Item("rule", "")
            start = k + 1
            k += 1
            continue
        found = dateline(text)
        if found is not None:
            dl, rest = found
            its[k] = Item("para", rest)
            return dl, k, start
        paras += 1
        k += 1
    return None, i, i


def _about_headings(its: list[Item]) -> list[Item]:
    """Items with an "About X" line that heads its own paragraph (``關於X`` / ``X有限公司為...`` with no blank
    line between) split into the heading and the paragraph. Only when the name's first word opens the
    paragraph or is among its first three words (any case: ``À PROPOS DES ATELIERS X`` / ``Les Ateliers
    X ...``), so a wrapped sentence ("About 250 people attended / the launch.") stays prose."""
    out: list[Item] = []
    for it in its:
        first, _, rest = it.text.partition("\n")
        name = sec.about_name(inline(first)) if it.kind == "para" and rest.strip() else None
        word, text = (name.split()[0].casefold(), inline(rest).casefold()) if name else ("", "")
        if word and (text.startswith(word) or word in text.split()[:3]):
            out += [Item("heading", first, 2), Item("para", rest)]
        else:
            out.append(it)
    return out


def _body(its: list[Item], i: int) -> tuple[list[str], int]:
    paragraphs: list[str] = []
    n = len(its)
    while i < n:
        it = its[i]
        if it.kind == "end":
            break
        if it.kind == "heading":
            text = inline(it.text)
            if sec.about_name(text) is not None or sec.is_stop(text):
                break
            i += 1  # section headings inside the body are not prose
            continue
        if it.kind == "para" and sec.is_photo_caption(inline(it.text)):
            i += 1  # (PRNewsfoto/Acme Inc.)
            continue
        if it.kind == "para" and paragraphs:
            line = inline(it.text)
            if (
                sec.about_name(line) is not None
                or sec.is_stop(line)
                or sec.org_line(its, i) is not None
                or sec.is_contact_block(it.text)
            ):
                break
        if it.kind in ("para", "item"):
            paragraphs.extend(repair(inline(it.text)))
        i += 1
    return paragraphs, i


def _organization(its: list[Item], i: int) -> Organization | None:
    n = len(its)
    while i < n:
        it = its[i]
        name = None
        if it.kind == "heading":
            name = sec.about_name(inline(it.text))
        elif it.kind == "para":
            name = sec.about_name(inline(it.text)) or sec.org_line(its, i)
        i += 1
        if name is None:
            continue
        about: list[str] = []
        raw: list[str] = []
        while i < n and its[i].kind in ("para", "item"):
            line = inline(its[i].text)
            if sec.is_stop(line) or sec.about_name(line) is not None:
                break
            about.extend(repair(line))
            raw.append(its[i].text)
            i += 1
        text = "\n\n".join(about)
        if not name and (cm := _COMPANY_NAME.search("\n".join(raw))) is not None:
            name = cm.group("name").strip()  # 会社概要 / 会社名：株式会社X
        if not name:
            continue
        urls = find_urls("\n".join(raw))  # raw: a Markdown link keeps its target
        return Organization(name=name, about=text, url=urls[0] if urls else None)
    return None


def _contacts(its: list[Item], start: int) -> tuple[list[str], set[int]]:
    """Media-contact lines after the body, and the indexes of the items they came from."""
    lines: list[str] = []
    used: set[int] = set()
    i = start
    while i < len(its):
        it = its[i]
        first = inline(it.text.split("\n", 1)[0])
        if (it.kind in ("para", "heading") and sec.is_contact(first)) or (
            it.kind == "para" and sec.is_contact_block(it.text)
        ):
            used.add(i)
            lines.extend(inline(x) for x in it.text.split("\n") if inline(x))
            i += 1
            while i < len(its) and its[i].kind in ("para", "item"):
                line = inline(its[i].text)
                if sec.about_name(line) is not None or sec.is_contact(line.split("\n", 1)[0]):
                    break
                used.add(i)
                lines.extend(inline(x) for x in its[i].text.split("\n") if inline(x))
                i += 1
            continue
        i += 1
    return lines, used


def parse_release(text: str, *, source: str = "<string>") -> Release:
    """Parse release text (see the package docstring for the layouts understood).

    Never fails on text: what cannot be found is None (or empty) with a ``missing`` notice. Raises
    ReleaseError (``source: message``) only when the text is empty, white space only or binary.
    """
    text = normalise(text)
    if "\x00" in text:
        raise ReleaseError(f"{source}: binary file (contains NUL bytes), not a text release")
    if not text:
        raise ReleaseError(f"{source}: release is empty")
    if not text.strip():
        raise ReleaseError(f"{source}: release is empty (only white space)")
    # A release saved from a newsroom page, or <br>, <b>, &amp; pasted into a text release: positions in
    # notices are the converted text's.
    text = html_to_text(text) if looks_like_html(text) else html_fragments(text)
    meta, body_text, _ = front_matter(text)
    its = _about_headings(items(body_text))
    st = _State()
    fm_title = _fm(meta, _FM_TITLE)
    if fm_title is None:
        title, i = _title(its, st)
    else:  # the front matter's title; a first heading that repeats it is skipped
        title, i = fm_title, 0
        while i < len(its) and its[i].kind == "rule":
            i += 1
        if (
            i < len(its)
            and its[i].kind == "heading"
            and inline(its[i].text).casefold() == fm_title.casefold()
        ):
            i += 1
    subtitle = _fm(meta, _FM_SUBTITLE)
    if i < len(its) and (
        (its[i].kind == "heading" and its[i].level >= 2 and sec.about_name(its[i].text) is None)
        or (its[i].kind == "para" and _ITALIC_LINE.fullmatch(its[i].text))  # *An italic subtitle*
    ):
        subtitle = inline(its[i].text)
        i += 1
    dl, k, sub_start = _find_dateline(its, i, subtitle is not None, st)
    if dl is None:
        dl = st.dateline
    if dl is not None:
        if k > sub_start and subtitle is None:
            subtitle = (
                " ".join(inline(its[x].text) for x in range(sub_start, k) if its[x].kind == "para") or None
            )
        i = k
    paragraphs, end = _body(its, i)
    organization = _organization(its, end)
    contacts, _ = _contacts(its, end)
    contacts = st.contacts + contacts
    return _assemble(
        text, source, meta, st, title, subtitle, dl, paragraphs, organization, contacts, its[end:]
    )


def _language(
    meta: dict[str, Any], title: str | None, paragraphs: list[str], notices: list[Notice]
) -> str | DetectedLanguage | None:
    """The front matter's language, else one detected when first read (None, with a notice, for a text
    too short to tell: that needs no detector)."""
    from campaign.source.release.languages import detect_sample, language_sample

    given = _fm(meta, _FM_LANG)
    if given:
        return given
    sample = language_sample(" ".join([title or "", *paragraphs]))
    if sample is None:
        notices.append(Notice("missing", "the language could not be told (too little text)"))
        return None
    return DetectedLanguage(sample, detect_sample)


def _assemble(
    text: str,
    source: str,
    meta: dict[str, Any],
    st: _State,
    title: str | None,
    subtitle: str | None,
    dl: Dateline | None,
    paragraphs: list[str],
    organization: Organization | None,
    contacts: list[str],
    tail: list[Item],
) -> Release:
    notices: list[Notice] = []
    dl = _complete_dateline(dl, text, meta, st, tail, notices)
    if title is None:
        notices.append(Notice("missing", "no title found: the first line reads as a dateline or body text"))
    if organization is None:
        notices.append(Notice("missing", "no 'About ...' section found (organisation unknown)"))
    sentences = [s for p in paragraphs for s in split_sentences(p)]
    about_sentences = [] if organization is None else split_sentences(organization.about)
    language = _language(meta, title, paragraphs, notices)
    contact_text = "\n".join(contacts)
    urls = [u for u in find_urls(text) if u not in set(find_urls(contact_text))]
    fm_link = _fm(meta, _FM_LINK)
    link = normalise_url(fm_link) if fm_link and URL.match(fm_link) else None
    if link is None:  # a wire's "View original content: URL" is the release's own page
        link = next((normalise_url(u) for line in text.split("\n") if (u := sec.release_link(line))), None)
    emb = None
    if st.embargo_line is not None:
        emb = sec.embargo(st.embargo_line, dl.zone if dl else None)
        if emb is None:
            notices.append(Notice("missing", f"embargo line without a readable date: {st.embargo_line!r}"))
    notices.extend(find_damage(text))
    return Release(
        source=source,
        title=title,
        subtitle=subtitle,
        dateline=dl,
        lead=sentences[0] if sentences else "",
        paragraphs=tuple(paragraphs),
        sentences=tuple(sentences),
        quotes=tuple(quotes(paragraphs)),
        hashtags=tuple(find_hashtags(text)),
        urls=tuple(urls),
        figures=tuple(figures(sentences + about_sentences)),
        organization=organization,
        language_found=language,
        link=link or (organization.url if organization else None) or _body_link(paragraphs),
        contacts=tuple(contacts),
        embargo=emb,
        images=tuple(find_images(text)),
        notices=tuple(notices),
    )


def _complete_dateline(
    dl: Dateline | None, text: str, meta: dict[str, Any], st: _State, tail: list[Item], notices: list[Notice]
) -> Dateline | None:
    """The dateline with its zone; for a release without one, a date-only dateline from a date line, the
    front matter or a government end line. Appends a notice for what stays unknown."""
    from campaign.source.release.places import rival_zones, zone_of

    if dl is None:
        date = st.date or (_fm(meta, _FM_DATE) and find_date(str(_fm(meta, _FM_DATE)))) or _ends_date(tail)
        place = _fm(meta, _FM_PLACE) or ""
        if date is not None or place:
            dl = Dateline(place=place, source="", date=date)
    if dl is not None and not dl.place and (issued := _ISSUED_AT.search(text)) is not None:
        dl = replace(dl, zone=_ISSUED_ZONES[issued.group("z").upper()])  # "Issued at HKT 15:30"
    if dl is not None and not dl.place and dl.zone is None and (hq := _HQ_JA.search(text)) is not None:
        # 本社：東京都港区: the head office of a Japanese release
        dl = replace(dl, zone=zone_of(f"{hq.group('place')}, 日本"))
    if dl is not None and dl.place:
        dl = replace(dl, zone=zone_of(dl.place))
        if dl.zone is None:
            notices.append(Notice("missing", _no_zone(dl.place, rival_zones(dl.place))))
    elif dl is None:
        notices.append(Notice("missing", "no dateline found (date and place unknown)"))
    return dl


def _no_zone(place: str, rivals: tuple[str, ...]) -> str:
    """The notice for a dateline place without a zone: unknown, or naming cities in several zones."""
    if len(rivals) < 2:
        return f"the dateline's place {place!r} has no known time zone"
    shown = ", ".join(rivals[:4]) + (", ..." if len(rivals) > 4 else "")
    return (
        f"the dateline's place {place!r} has no time zone: cities of that name are in {shown}; "
        "write the country or state after it (as in 'PORTLAND, Ore.' or 'BARCELONA, Spain')"
    )


def _body_link(paragraphs: list[str]) -> str | None:
    for p in paragraphs:
        if found := find_urls(p):
            return found[0]
    return None


def _ends_date(tail: list[Item]) -> str | None:
    """The date of a government end line (``Ends/Thursday, February 2, 2023``), or of a date line just
    after the end mark (``完`` / ``2023年2月2日（星期四）``)."""
    ended = False
    for it in tail:
        if it.kind == "end" and "/" in it.text:
            return find_date(it.text)
        if it.kind == "end":
            ended = True
        elif ended and it.kind == "para":  # 完 / 2023年2月2日（星期四）
            first = it.text.strip().split("\n", 1)[0]
            if (day := date_alone(inline(first))) is not None:
                return day
    return None
