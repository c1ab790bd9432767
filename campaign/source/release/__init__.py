"""Press-release parser: plain text or Markdown in, structured :class:`Release` out.

Contract
--------
* Input is UTF-8 (a BOM is dropped), with LF, CRLF or CR line ends. :func:`load_release` reads a file;
  :func:`parse_release` takes text. Only a missing, unreadable, empty (or white-space only) or binary file
  (NUL bytes, UTF-16, not UTF-8) is an error: a :class:`~campaign.errors.ReleaseError` whose one-line message
  starts with the file name. Any other text parses: what cannot be found is None or empty, and a ``missing``
  :class:`Notice` says so.
* Damaged text is repaired only by separating glued sentences (``ecosystem.The``): a glued boundary becomes
  a sentence *and* paragraph break. Nothing else is rewritten: suspected glued words (``thatattracted``) and
  lost superscripts (``9in``) are reported as notices with their line and column (:attr:`Release.damage`).
* Layouts: a title (first line or ``# Title``; leading ``FOR IMMEDIATE RELEASE``, embargo and date-only
  lines are skipped, and so is a place and date alone, ``Paris, le 4 décembre 2026``, which is the dateline;
  YAML front matter's ``title`` wins), a subtitle, a dateline of any wire (see
  :mod:`~campaign.source.release.datelines`) or a date on its own line, the body, an end mark (``###``,
  ``- ENDS -``, ``- ende -``, ``-30-``, ``- 完 -``, ``NNNN``, ``Ends/<date>``, ``以上``), an "About X" section
  (``About``/``ABOUT``/``關於``/``Über``/``À propos de``/``Acerca de``/``会社概要``, or the organisation's
  name alone on a line followed by a paragraph that starts with it; the heading may open its paragraph with
  no blank line after it), and media contacts (kept apart in
  :attr:`Release.contacts`, never in the body).
* Languages: English, German, French, Spanish, Portuguese, Chinese (Traditional and Simplified), Japanese:
  dates, quote marks, attributions and headings (see the modules); :attr:`Release.language` is BCP 47 from a
  detector (:mod:`~campaign.source.release.languages`).
* Sentence splitting is rule based (:mod:`campaign.text.sentences`). Libraries were considered and not used:
  pySBD can alter text (https://github.com/nipunsadvilkar/pySBD/issues/83, /issues/30) and is unmaintained
  since 2021; sentencex (https://pypi.org/project/sentencex/) prefers not splitting; neither splits glued
  ``word.Word`` boundaries, which this parser must repair and tell apart from ordinary ones.

Importing this package loads only the standard library and ``regex``; the language detector, the gazetteer
and PyYAML (front matter) are imported when a release needs them.
"""

from __future__ import annotations

from campaign.source.release.model import Dateline, Figure, Image, Notice, Organization, Quote, Release
from campaign.source.release.parser import load_release, parse_release
from campaign.text.sentences import split_sentences

__all__ = [
    "Dateline",
    "Figure",
    "Image",
    "Notice",
    "Organization",
    "Quote",
    "Release",
    "load_release",
    "parse_release",
    "split_sentences",
]
