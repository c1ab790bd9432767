"""Values a parsed release is made of: frozen dataclasses; :meth:`Release.to_dict` is the Jinja context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Dateline:
    """Where, through whom and when the release was issued.

    ``place`` is "" when only a date is written (government releases); ``source`` is the wire as written
    ("" when none), ``newswire`` its normalised name (``PRNewswire``, ``Business Wire``, ``GlobeNewswire``,
    ``Media OutReach``, ``ACCESS Newswire``, ``EIN Presswire``, ``ACN Newswire``, ``News Direct``,
    ``PR TIMES``, ``CNW``, ``news aktuell`` (ots), ``APA-OTS``, ``dpa-AFX``, ``pressetext``, ``ANP``) or
    None; ``date`` is ISO ``yyyy-mm-dd``, or None when no real date is written; ``zone`` is the IANA zone
    of ``place`` from the gazetteer, None when unknown or ambiguous.
    """

    place: str
    source: str
    date: str | None
    zone: str | None = None
    newswire: str | None = None


@dataclass(frozen=True)
class Quote:
    """A quotation with its attribution; ``role`` is "" when none is written. ``speaker`` is the name
    without honorific (``Dr.``, ``Prof.``, ``Mr``, ``Herr``, ``Mme`` ...) but with initials and suffixes
    (``Daniel K. Osei``, ``Bruce Arnett, Sr.``). ``text`` is the words inside the quotation marks; a quote
    that runs over several sentences or paragraphs is one quote (paragraphs joined by a space)."""

    speaker: str
    role: str
    text: str


@dataclass(frozen=True)
class Figure:
    """A sentence that states numbers, and the number phrases as written (``"over 250"``, ``"24 countries"``).
    Years and dates are not figures."""

    sentence: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Organization:
    """The issuer named by the boilerplate, its "About" text (paragraphs joined by blank lines) and its
    homepage (the first link of the About text, None when it has none)."""

    name: str
    about: str
    url: str | None = None


@dataclass(frozen=True)
class Image:
    """A Markdown image reference: its alt text (may be "") and its target as written."""

    alt: str
    url: str


@dataclass(frozen=True)
class Notice:
    """Something the reader should check: a field that could not be found (``missing``) or suspected damage
    in the text (``glued-words``, ``lost-superscript``). ``line`` and ``column`` are 1-based positions in the
    file (0 when the notice is about the whole file)."""

    kind: str
    message: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        return f"{where}{self.message}"


class DetectedLanguage:
    """The language of a text, detected on first use: loading the detector costs ~0.15 s, and most commands
    (`check`, `preview`) never read the language unless a template does. Compares by the detected value."""

    __slots__ = ("_detect", "_text", "_value")

    def __init__(self, text: str, detect: Callable[[str], str | None]) -> None:
        self._text: str | None = text
        self._detect = detect
        self._value: str | None = None

    def get(self) -> str | None:
        if self._text is not None:
            self._value = self._detect(self._text)
            self._text = None  # detected once; the text is not kept
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DetectedLanguage):
            return self.get() == other.get()
        if other is None or isinstance(other, str):
            return self.get() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.get())

    def __repr__(self) -> str:
        return repr(self.get())

    def __str__(self) -> str:
        return str(self.get())


@dataclass(frozen=True)
class Release:
    """A parsed press release. Text fields have white space collapsed and Markdown markup removed.

    ``title`` is None only when the file has text but nothing that reads as a title (a notice says so).
    ``paragraphs`` and ``sentences`` are the body's (after the dateline, before the end mark, the About
    section or the contacts); ``lead`` is the first body sentence ("" when the body is empty). ``hashtags``
    and ``urls`` are gathered from the whole file except contacts, in order of appearance: hashtags as
    written (first spelling wins when duplicates differ in case), URLs with scheme and host normalised to
    ``https://host``. ``link`` is the release's main link: its own URL (front matter ``url``/``link``/
    ``canonical_url``), else the organisation's homepage, else None. ``figures`` come from the body, then
    the About text. ``language`` is a BCP 47 tag (``en``, ``zh-Hant``, ``zh-Hans``, ``ja``, ``de`` ...) or
    None when the text is too short to tell (a ``missing`` notice says so) or no detector could be loaded;
    it is detected when first read. ``contacts`` are the media-contact lines (never for posts);
    ``embargo`` is ISO 8601 (a date, or a date and time with offset when the zone is written) or None.
    """

    source: str
    title: str | None
    subtitle: str | None
    dateline: Dateline | None
    lead: str
    paragraphs: tuple[str, ...]
    sentences: tuple[str, ...]
    quotes: tuple[Quote, ...]
    hashtags: tuple[str, ...]
    urls: tuple[str, ...]
    figures: tuple[Figure, ...]
    organization: Organization | None
    #: The language as given (front matter, tests) or detected on first read: see :attr:`language`.
    language_found: str | DetectedLanguage | None = field(default=None, repr=False)
    link: str | None = None
    contacts: tuple[str, ...] = ()
    embargo: str | None = None
    images: tuple[Image, ...] = ()
    notices: tuple[Notice, ...] = ()

    @property
    def language(self) -> str | None:
        """BCP 47 tag of the release's language, or None (text too short, or no detector available)."""
        found = self.language_found
        return found.get() if isinstance(found, DetectedLanguage) else found

    @property
    def damage(self) -> tuple[Notice, ...]:
        """Notices of suspected damage in the text (for `campaign check`)."""
        return tuple(n for n in self.notices if n.kind != "missing")

    def warning_lines(self, shown: str | None = None) -> list[str]:
        """One line per notice, ``FILE:LINE:COL: message`` (``FILE: message`` without a position): what
        `release show` prints to stderr and `campaign check` may show. FILE is ``shown``, else the source."""
        name = self.source if shown is None else shown
        return [f"{name}:{n}" if n.line else f"{name}: {n}" for n in self.notices]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data (lists, dicts, str, None) in field order; the Jinja context of templates."""
        dl = self.dateline
        org = self.organization
        return {
            "source": self.source,
            "title": self.title,
            "subtitle": self.subtitle,
            "dateline": None
            if dl is None
            else {
                "place": dl.place,
                "source": dl.source,
                "date": dl.date,
                "zone": dl.zone,
                "newswire": dl.newswire,
            },
            "lead": self.lead,
            "paragraphs": list(self.paragraphs),
            "sentences": list(self.sentences),
            "quotes": [{"speaker": q.speaker, "role": q.role, "text": q.text} for q in self.quotes],
            "hashtags": list(self.hashtags),
            "urls": list(self.urls),
            "figures": [{"sentence": f.sentence, "phrases": list(f.phrases)} for f in self.figures],
            "organization": None if org is None else {"name": org.name, "about": org.about, "url": org.url},
            "language": self.language,
            "link": self.link,
            "contacts": list(self.contacts),
            "embargo": self.embargo,
            "images": [{"alt": i.alt, "url": i.url} for i in self.images],
            "notices": [
                {"kind": n.kind, "message": n.message, "line": n.line, "column": n.column}
                for n in self.notices
            ],
        }
