"""Campaigns in several languages: ``languages:``, ``release:`` per language and ``hashtags:`` per language.

A campaign may declare ``languages: [en, zh-Hant]`` (BCP 47 tags, RFC 5646; the first is the default).
Then:

* ``release:`` is one file for every language, or a map ``{en: releases/x.en.txt, zh-Hant: ...}`` with a
  file for each declared language (templates read ``release`` = the release of the post's language);
* ``hashtags:`` (campaign or post) is a list for every language, or a map language -> list; the campaign's
  ``link:`` is one URL, or a map language -> URL;
* an account's ``language:`` must be one of ``languages``; an account without one posts every language (one
  post per language), see :meth:`campaign.source.config.Campaign.languages_of`.

Tags are checked for well-formedness (RFC 5646 section 2.1, https://www.rfc-editor.org/rfc/rfc5646#section-2.1)
and written in their conventional case (``zh-hant`` -> ``zh-Hant``, ``en-gb`` -> ``en-GB``). Every problem is
one ConfigError naming ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from campaign.source.checker import Checker, is_web_address
from campaign.source.yamlfile import Node

# RFC 5646 langtag: language (2-3 letters with up to three extlangs, or 4-8 letters), script, region,
# variants, extensions and a private-use tail. Grandfathered tags (i-klingon, ...) are not accepted.
_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"
    r"(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*"
    r"(?:-x(?:-[a-z\d]{1,8})+)?$",
    re.IGNORECASE,
)


def canonical_tag(raw: str) -> str | None:
    """``raw`` as a well-formed BCP 47 tag in conventional case (RFC 5646 section 2.1.1: script in title
    case, region in upper case, the rest in lower case), or None when it is not one."""
    tag = raw.strip()
    if _TAG.match(tag) is None:
        return None
    out: list[str] = []
    singleton = False  # after an extension or x- singleton, every subtag is lower case
    for index, subtag in enumerate(tag.split("-")):
        singleton = singleton or len(subtag) == 1
        if index and not singleton and len(subtag) == 4 and subtag.isalpha():
            out.append(subtag.title())
        elif index and not singleton and len(subtag) == 2:
            out.append(subtag.upper())
        else:
            out.append(subtag.lower())
    return "-".join(out)


def check_tag(check: Checker, raw: Any, what: str, line: int) -> str:
    """One language tag, canonical, or a ConfigError naming ``what`` and the line."""
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise check.fail(f"{what} must be a language tag such as en or zh-Hant", line)
    tag = canonical_tag(raw)
    if tag is None:
        raise check.fail(f"{what}: {raw!r} is not a BCP 47 language tag (e.g. en, zh-Hant, pt-BR)", line)
    return tag


def load_languages(check: Checker, root: Node) -> tuple[str, ...]:
    """The campaign's ``languages:`` (empty when absent): distinct well-formed tags, the default first."""
    raw = root.get("languages")
    line = root.line_of("languages")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise check.fail(
            "'languages' must be a list of language tags, the default first: [en, zh-Hant]", line
        )
    tags: list[str] = []
    for item in raw:
        tag = check_tag(check, item, "'languages'", line)
        if tag.lower() in (t.lower() for t in tags):
            raise check.fail(f"'languages' names {tag!r} twice", line)
        tags.append(tag)
    return tuple(tags)


def declared(check: Checker, raw: Any, languages: tuple[str, ...], what: str, line: int) -> str:
    """A tag that must be one of the campaign's ``languages`` (returned in the campaign's spelling)."""
    tag = check_tag(check, raw, what, line)
    for known in languages:
        if known.lower() == tag.lower():
            return known
    raise check.fail(f"{what}: {tag!r} is not one of the campaign's languages ({', '.join(languages)})", line)


def release_files(check: Checker, root: Node, languages: tuple[str, ...]) -> dict[str, str] | None:
    """``release:`` as a map language -> file as written (None when it is a single file or absent).

    A map needs ``languages:`` and a file for each of them (a language without its release would render
    another language's text into its posts).
    """
    raw = root.get("release")
    if not isinstance(raw, Node):
        return None
    line = root.line_of("release")
    if not languages:
        raise check.fail("'release' per language needs 'languages: [...]' (the default first)", line)
    files = _per_language(check, raw, languages, "release", "a file name")
    missing = [tag for tag in languages if tag not in files]
    if missing:
        raise check.fail(
            f"'release' has no file for {', '.join(missing)} (give one per language, or one file for all)",
            line,
        )
    return files


def links(check: Checker, root: Node, languages: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """The campaign's ``link:``: (the link for every language, the link per language).

    A map ``{en: https://..., zh-Hant: https://...}`` gives each language its own (a language it does not
    name has no campaign link).
    """
    raw = root.get("link")
    if not isinstance(raw, Node):
        return check.link(root, "link", "the campaign"), {}
    if not languages:
        raise check.fail("'link' per language needs 'languages: [...]'", root.line_of("link"))
    return None, _per_language(check, raw, languages, "link", "a URL (http or https)", valid=is_web_address)


def _per_language(
    check: Checker,
    raw: Node,
    languages: tuple[str, ...],
    name: str,
    what: str,
    *,
    valid: Callable[[str], bool] | None = None,
) -> dict[str, str]:
    """The map ``name`` given per language: ``{tag: value}``, each key a declared language and each value a
    non-empty string that ``valid`` accepts (``what`` says which, in the error)."""
    values: dict[str, str] = {}
    for key, value in raw.items():
        tag = declared(check, key, languages, f"'{name}'", raw.line_of(key))
        if not isinstance(value, str) or not value or (valid is not None and not valid(value)):
            raise check.fail(f"'{name}' of {tag} must be {what}", raw.line_of(key))
        values[tag] = value
    return values


def hashtags(
    check: Checker, node: Node, what: str, languages: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """``hashtags:`` of ``node``: (tags for every language, tags per language).

    A list is for every language; a map ``{en: [...], zh-Hant: [...]}`` gives each language its own (a
    language it does not name gets none from it).
    """
    raw = node.get("hashtags")
    if not isinstance(raw, Node):
        return check.hashtags(node, "hashtags", what) or (), {}
    line = node.line_of("hashtags")
    if not languages:
        raise check.fail(f"'hashtags' per language in {what} needs 'languages: [...]'", line)
    per: dict[str, tuple[str, ...]] = {}
    for key in list(raw):
        tag = declared(check, key, languages, f"'hashtags' of {what}", raw.line_of(key))
        per[tag] = check.hashtags(raw, key, f"{what} ({tag})") or ()
    return (), per


__all__ = ["canonical_tag", "check_tag", "declared", "hashtags", "links", "load_languages", "release_files"]
