"""Rendering post templates: Jinja2 in a sandbox, strict about undefined names, with channel-aware filters.

Template lookup for post ``P`` (template name ``T``, default ``P``) on account ``A`` of channel ``C`` in
language ``L`` (campaigns with ``languages:``), in the campaign's template folder, first match wins::

    T.A.j2   ->   T.C.L.j2   ->   T.C.j2   ->   T.L.j2   ->   T.j2

(without a language: ``T.A.j2 -> T.C.j2 -> T.j2``). For a language other than the campaign's default, the
unmarked files (``T.A.j2``, ``T.C.j2``, ``T.j2``) hold the default language's words and are passed over,
unless the file reads ``language`` (one template written for every language) or, for ``T.A.j2``, the
account's own ``language`` is ``L``: a Chinese post never silently takes an English channel variant.
(an inline ``text:`` in the campaign file is a template string and needs no file). Plain-text channels are
rendered without HTML autoescape; compiled templates are cached per environment.

Context: ``release`` (the parsed press release, of the post's language), ``language`` (the post's BCP 47
tag, None without ``languages:``), ``campaign``, ``channel`` (name, title, limit, unit, markup),
``account`` (name, handle and non-secret settings), ``post`` (key, link, hashtags, vars), ``link`` (the
post's link, UTM-tagged), ``tags`` (the post's hashtags then the campaign's) and ``vars`` (campaign vars
overlaid with post vars). Filters: ``hashtags``, ``utm``, ``shorten``, ``first_sentence``;
test: ``containing``
(``release.sentences | select("containing", "NVIDIA") | first``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import jinja2
import jinja2.meta

from campaign.errors import TemplateError
from campaign.text.budget import BudgetedEnvironment, RenderBudget, located, render_bounded
from campaign.text.facets import is_hashtag
from campaign.text.rules import TextRules

_CAMEL_SPLIT = re.compile(r"[\s_\-]+")
_BLANKS = re.compile(r"\n{3,}")
_TRAILING_WS = re.compile(r"[ \t]+\n")


def camel_case(tag: str) -> str:
    """``#innovation_mixer`` or ``#innovation mixer`` -> ``#InnovationMixer``; ``#technology`` ->
    ``#Technology``.

    Tags already mixed-case (``#InnovationMixer``, ``#HKSTP``) keep their capitals: we cannot know word
    boundaries inside a run of lower-case letters, so we only capitalise the first letter of each part.
    """
    bare = tag.lstrip("#")
    parts = [p for p in _CAMEL_SPLIT.split(bare) if p]
    return "#" + "".join(p[:1].upper() + p[1:] for p in parts)


# Pure functions of short strings, asked the same questions for every post of a campaign: their results are
# cached (only for small arguments, so a template cannot fill the caches with large values).
_CACHED_TAGS = 64
#: The most characters one cached answer may hold on to (a template's values may be far larger).
_CACHED_TEXT = 4096
_cached_is_hashtag = functools.lru_cache(maxsize=4096)(is_hashtag)


def _is_hashtag(tag: str) -> bool:
    return _cached_is_hashtag(tag) if len(tag) <= 256 else is_hashtag(tag)


def format_hashtags(
    tags: Iterable[str], rules: TextRules | None, *, limit: int | None = None, case: str | None = None
) -> str:
    """Hashtags as the channel prefers them: de-duplicated (ignoring case), capped, cased, space-separated.

    Only real hashtags count towards the cap (:func:`campaign.text.facets.is_hashtag`): ``#2024`` is plain
    text to the platforms, so it is written but does not use up one of the channel's hashtag slots.
    """

    style = case or (rules.hashtag_case if rules else "as-is")
    cap = limit if limit is not None else (rules.max_hashtags if rules else None)
    if (
        (type(tags) is list or type(tags) is tuple)  # exact types: a subclass may iterate its own way
        and len(tags) <= _CACHED_TAGS
        and type(style) is str
        and (cap is None or type(cap) is int)
    ):
        texts = tuple(str(raw) for raw in tags)
        if sum(len(t) for t in texts) <= _CACHED_TEXT:
            return _hashtags(texts, style, cap)
        return _hashtags.__wrapped__(texts, style, cap)
    return _hashtags.__wrapped__(tags, style, cap)  # read lazily: the cap may stop a long iterable early


@functools.lru_cache(maxsize=1024)  # the same tags, written for every post on a channel
def _hashtags(tags: Iterable[str], style: str, cap: int | None) -> str:
    seen: set[str] = set()
    out: list[str] = []
    counted = 0
    for raw in tags:
        tag = "#" + str(raw).strip().lstrip("#＃")
        if tag == "#" or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        if style == "camel":
            tag = camel_case(tag)
        elif style == "lower":
            tag = tag.lower()
        out.append(tag)
        counted += _is_hashtag(tag)
        if cap is not None and counted >= cap:
            break
    return " ".join(out)


def add_utm(
    url: str, *, source: str, campaign: str, medium: str = "social", content: str | None = None
) -> str:
    """``url`` with utm_source/utm_medium/utm_campaign (and utm_content) set; other parameters are kept."""
    args = (url, source, campaign, medium)
    if sum(len(a) for a in args if isinstance(a, str)) <= _CACHED_TEXT and all(type(a) is str for a in args):
        split = _utm_base(*args)
    else:
        split = _utm_base.__wrapped__(*args)
    if split is None:
        return url
    head, tail = split
    if content:
        # utm_content comes last, so the query is the cached one plus this pair, quoted as urlencode would.
        return f"{head}&utm_content={quote_plus(str(content))}{tail}"
    return head + tail


@functools.lru_cache(maxsize=1024)  # the same link for every post of a channel: only utm_content differs
def _utm_base(url: str, source: str, campaign: str, medium: str) -> tuple[str, str] | None:
    """``url`` with its utm parameters but utm_content, split before its fragment (``"#..."`` or ``""``);
    None for a URL that is not http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    query += [("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)]
    head = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return head, f"#{parts.fragment}" if parts.fragment else ""


def shorten(text: str, length: int, rules: TextRules | None, end: str = "…") -> str:
    """``text`` cut at a word boundary so that it measures at most ``length`` by the channel's own count."""
    measure = rules.measure if rules else len
    if type(text) is str and len(text) <= _CACHED_TEXT and type(length) is int and type(end) is str:
        return _shorten(text, length, measure, end)
    return _shorten.__wrapped__(str(text), length, measure, end)


@functools.lru_cache(maxsize=1024)  # the release's title, shortened for every post on a channel
def _shorten(text: str, length: int, measure: Callable[[str], int], end: str) -> str:
    text = " ".join(text.split())
    if measure(text) <= length:
        return text
    words = text.split(" ")
    while words:
        words.pop()
        candidate = " ".join(words).rstrip(",;:-–—") + end
        if measure(candidate) <= length:
            return candidate
    return ""


def first_sentence(text: str) -> str:
    from campaign.text.sentences import split_sentences

    sentences = split_sentences(str(text))
    return sentences[0] if sentences else str(text)


def tidy(text: str) -> str:
    """Rendered text tidied: trailing spaces removed, at most one blank line in a row, ends stripped."""
    # The substitutions run only where they can match (most posts need neither): same result, cheaper.
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_WS.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip()


def template_candidates(template: str, channel: str, account: str, language: str | None = None) -> list[str]:
    """The file names looked for, in order (the first that exists is used)."""
    if language is None:
        return [f"{template}.{account}.j2", f"{template}.{channel}.j2", f"{template}.j2"]
    return [
        f"{template}.{account}.j2",
        f"{template}.{channel}.{language}.j2",
        f"{template}.{channel}.j2",
        f"{template}.{language}.j2",
        f"{template}.j2",
    ]


class Renderer:
    """Renders one campaign's templates. Holds one sandboxed Jinja environment (compiled templates cached).

    Templates come from pull requests: they load through ``loader`` (the campaign's
    :class:`~campaign.source.paths.ConfinedLoader`: nothing outside the project root, nothing under /proc,
    /sys, /dev) and every render is bounded (:mod:`campaign.text.budget`: time, output and value sizes).
    Without a loader, templates load from ``folder`` with Jinja's own FileSystemLoader (tests and tools only).
    """

    def __init__(
        self, folder: Path, *, loader: jinja2.BaseLoader | None = None, budget: RenderBudget | None = None
    ) -> None:
        self.folder = folder
        self.budget = budget or RenderBudget.from_environ()
        self.env = BudgetedEnvironment(
            loader=loader or jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain-text channels: no HTML escaping
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=-1,
        )
        self.env.filters["hashtags"] = _hashtags_filter
        self.env.filters["utm"] = _utm_filter
        self.env.filters["shorten"] = _shorten_filter
        self.env.filters["first_sentence"] = first_sentence
        self.env.tests["containing"] = lambda value, part: str(part) in str(value)
        self._inline: dict[str, jinja2.Template] = {}
        #: Template files by name, with the path their errors name.
        self._files: dict[str, tuple[jinja2.Template, str]] = {}
        self._lookup: dict[tuple[str, str, str, str | None, str | None, str | None], str] = {}
        self._reads: dict[str, bool] = {}

    def template_name(
        self,
        template: str,
        channel: str,
        account: str,
        language: str | None = None,
        *,
        default_language: str | None = None,
        account_language: str | None = None,
    ) -> str:
        """The template file used for ``template`` on ``account`` in ``language`` (lookup order and the rule
        for unmarked files in the module docstring). Raises TemplateError naming every file looked for."""
        key = (template, channel, account, language, default_language, account_language)
        found = self._lookup.get(key)
        if found is not None:
            return found
        candidates = template_candidates(template, channel, account, language)
        foreign = language is not None and default_language is not None and language != default_language
        passed: list[str] = []
        for name in candidates:
            if not (self.folder / name).is_file():
                continue
            unmarked = not name.endswith(f".{language}.j2")
            own_account = name == f"{template}.{account}.j2" and account_language == language
            if foreign and unmarked and not own_account and not self._reads_language(name):
                passed.append(name)
                continue
            self._lookup[key] = name
            return name
        in_language = f" in {language}" if language else ""
        skipped = (
            f"; {', '.join(passed)} in {default_language} only (add {template}.{language}.j2, "
            f"or read `language` in it)"
            if passed
            else ""
        )
        raise TemplateError(
            f"{self.folder}: no template for {template!r}{in_language} on {account} "
            f"(looked for {', '.join(candidates)}{skipped})"
        )

    def _reads_language(self, name: str) -> bool:
        """Whether template ``name`` reads ``language`` (so it is written for every language). A file that
        does not parse counts as reading it: rendering it then reports the syntax error."""
        cached = self._reads.get(name)
        if cached is None:
            try:
                source = self.env.loader.get_source(self.env, name)[0] if self.env.loader else ""
                cached = "language" in jinja2.meta.find_undeclared_variables(self.env.parse(source))
            except jinja2.TemplateSyntaxError:
                cached = True
            self._reads[name] = cached
        return cached

    def render_file(self, name: str, context: Mapping[str, Any]) -> str:
        found = self._files.get(name)
        where = found[1] if found is not None else str(self.folder / name)
        own = found[0].filename if found is not None else None
        try:
            if found is None:
                found = self._files[name] = (self.env.get_template(name), where)
                own = found[0].filename
            template = found[0]
            return tidy(render_bounded(template, context, budget=self.budget, where=where))
        except jinja2.TemplateError as exc:
            raise _template_error(exc, where, name, own) from None

    def render_string(self, source: str, context: Mapping[str, Any], *, where: str) -> str:
        try:
            template = self._inline.get(source)
            if template is None:
                template = self._inline[source] = self.env.from_string(source)
            return tidy(render_bounded(template, context, budget=self.budget, where=where))
        except jinja2.TemplateError as exc:
            raise _template_error(exc, where, None) from None


def _template_error(
    exc: jinja2.TemplateError, where: str, name: str | None, own: str | None = None
) -> TemplateError:
    """Jinja's error as one line naming the template it is in and its line: ``where`` for the template
    rendered (``name``, file ``own``; None for an inline one), else the real path of the template it
    included, imported or extended where the error is."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        line = f":{exc.lineno}" if exc.lineno else ""  # 0: the whole template (nested too deeply)
        if exc.name is not None and exc.name != name:  # in a template this one included or imported
            where = exc.filename or exc.name
        elif name is None:  # an inline template: ``where`` names it, and its lines are not the file's
            line = ""
        return TemplateError(f"{where}{line}: template syntax error: {exc.message}")
    return TemplateError(f"{located(where, exc, own=own)}: {exc.message or exc}")


def _rules(ctx: Any) -> TextRules | None:
    channel = ctx.get("channel")
    rules = channel.get("rules") if isinstance(channel, Mapping) else None
    return rules if isinstance(rules, TextRules) else None


@jinja2.pass_context
def _hashtags_filter(
    ctx: Any, tags: Sequence[str] | str, limit: int | None = None, case: str | None = None
) -> str:
    if isinstance(tags, str):
        tags = tags.split()
    return format_hashtags(tags, _rules(ctx), limit=limit, case=case)


@jinja2.pass_context
def _utm_filter(ctx: Any, url: str, content: str | None = None) -> str:
    channel = ctx.get("channel") or {}
    campaign = ctx.get("campaign") or {}
    return add_utm(
        str(url), source=str(channel.get("name", "")), campaign=str(campaign.get("name", "")), content=content
    )


@jinja2.pass_context
def _shorten_filter(ctx: Any, text: str, length: int, end: str = "…") -> str:
    return shorten(text, length, _rules(ctx), end)
