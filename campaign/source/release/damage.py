"""Suspected damage in release text, reported with its position and never repaired.

Copy-paste from PDFs and web pages glues words (``thatattracted``) and flattens superscripts (``ranked
9th`` -> ``9in the``). A dictionary would catch more but costs import time and a word list per language;
these rules are narrow on purpose (a false alarm makes staff distrust the warnings):

* glued words: a lower-case word that is a common English function word (``that``, ``which``, ``the``,
  ``and``, ``with``, ``from``, ``this``, ``their``, ``into``) followed by a word of four letters or more that
  occurs on its own elsewhere in the release, or of six letters or more ending in ``-ed``/``-ing``/
  ``-tion``, except listed real words (``therefore``, ``within``, ``theatre`` ...);
* lost superscripts: a number glued to a following lower-case function word (``9in``, ``2the``).
"""

from __future__ import annotations

from campaign.source.release.model import Notice
from campaign.text.sentences import Lazy

_GLUE_HEADS = ("that", "which", "the", "and", "with", "from", "this", "their", "into")
_WORD = Lazy(r"(?<![\p{L}\p{N}'’@/.#-])\p{Ll}{7,}(?![\p{L}\p{N}'’@/-]|\.\w)")
_REAL = frozenset(
    """therefore thereby therein thereafter thereof thereupon theatre theatres theater theaters theorem
    theories theorist therapy therapies therapist thermal thermometer theology thesaurus android andorra
    withdraw withdrawn withdrawal withdrawals without within withstand withheld withhold withholding
    fromage
    thistle intoxicated intonation theoretical theoretically therapeutic therapeutics andrew anderson
    thematic themselves""".split()  # noqa: SIM905
)
_SUFFIXES = ("ed", "ing", "tion", "tions")
_SUPERSCRIPT = Lazy(
    r"(?<![\p{L}\p{N}.,/:#-])(?P<n>\d{1,3})(?P<w>in|the|of|on|at|and|to|by|for|among|worldwide|globally)"
    r"(?![\p{L}\p{N}])"
)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def find_damage(text: str) -> list[Notice]:
    """Notices for suspected glued words and lost superscripts in ``text`` (the whole file, so that
    positions are the file's), in order of position."""
    words = {w.casefold() for w in text.split()}
    stripped = {w.strip(".,;:!?\"'“”‘’()[]") for w in words}
    found: list[tuple[int, Notice]] = []
    for m in _WORD.finditer(text):
        word = m.group()
        if word in _REAL:
            continue
        for head in _GLUE_HEADS:
            rest = word[len(head) :]
            if not word.startswith(head) or len(rest) < 4:
                continue
            if rest in stripped or (len(rest) >= 6 and rest.endswith(_SUFFIXES)):
                line, col = _position(text, m.start())
                found.append(
                    (
                        m.start(),
                        Notice(
                            "glued-words",
                            f"suspected glued words {word!r} ({head} {rest}?): fix it where you quote it",
                            line,
                            col,
                        ),
                    )
                )
                break
    for m in _SUPERSCRIPT.finditer(text):
        line, col = _position(text, m.start())
        found.append(
            (
                m.start(),
                Notice(
                    "lost-superscript",
                    f"number glued to a word {m.group()!r} (a lost superscript such as "
                    f"'{m.group('n')}th', or a missing space?)",
                    line,
                    col,
                ),
            )
        )
    return [n for _, n in sorted(found, key=lambda x: x[0])]
