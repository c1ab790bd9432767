"""Template rendering: sandbox, strict undefined, lookup order, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign import channels
from campaign.errors import TemplateError
from campaign.text.render import Renderer, add_utm, camel_case, format_hashtags, shorten, tidy


def make(tmp_path: Path, files: dict[str, str]) -> Renderer:
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return Renderer(tmp_path)


def test_lookup_order_account_then_channel_then_generic(tmp_path: Path) -> None:
    renderer = make(tmp_path, {"p.j2": "generic", "p.x.j2": "channel", "p.acct.j2": "account"})
    assert renderer.template_name("p", "x", "acct") == "p.acct.j2"
    assert renderer.template_name("p", "x", "other") == "p.x.j2"
    assert renderer.template_name("p", "mastodon", "other") == "p.j2"


def test_missing_template_names_candidates(tmp_path: Path) -> None:
    renderer = make(tmp_path, {})
    with pytest.raises(TemplateError, match=r"nope\.acct\.j2, nope\.x\.j2, nope\.j2"):
        renderer.template_name("nope", "x", "acct")


def test_strict_undefined_names_file_and_line(tmp_path: Path) -> None:
    renderer = make(tmp_path, {"p.j2": "line one\n{{ release.nothing }}\n"})
    with pytest.raises(TemplateError) as info:
        renderer.render_file("p.j2", {"release": {"title": "T"}})
    assert "p.j2:2" in str(info.value)
    assert "nothing" in str(info.value)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    renderer = make(tmp_path, {"p.j2": "ok\n{% if %}\n"})
    with pytest.raises(TemplateError, match=r"p\.j2:2: template syntax error"):
        renderer.render_file("p.j2", {})


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    renderer = make(tmp_path, {"p.j2": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    with pytest.raises(TemplateError):
        renderer.render_file("p.j2", {})


def test_no_html_autoescape_for_plain_text(tmp_path: Path) -> None:
    renderer = make(tmp_path, {"p.j2": "{{ text }}"})
    assert renderer.render_file("p.j2", {"text": "R&D <b>"}) == "R&D <b>"


def test_camel_case_and_hashtag_policy() -> None:
    assert camel_case("#innovation_mixer") == "#InnovationMixer"
    assert camel_case("#technology") == "#Technology"
    assert camel_case("#HKSTP") == "#HKSTP"
    threads = channels.load("threads").rules  # one topic tag per post
    assert format_hashtags(["#a", "#b"], threads) == "#a"
    mastodon = channels.load("mastodon").rules  # CamelCase for screen readers
    assert format_hashtags(["talent", "#talent", "#siliconvalley"], mastodon) == "#Talent #Siliconvalley"
    assert format_hashtags(["#a", "b", "#c"], None, limit=2) == "#a #b"


def test_utm_keeps_existing_query_and_replaces_old_utm() -> None:
    url = add_utm(
        "https://example.org/news?id=7&utm_source=old#top", source="x", campaign="c", content="launch"
    )
    assert (
        url
        == "https://example.org/news?id=7&utm_source=x&utm_medium=social&utm_campaign=c&utm_content=launch#top"
    )
    assert add_utm("mailto:a@b.c", source="x", campaign="c") == "mailto:a@b.c"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org", "http://example.org/a/b?x=1&y=&utm_medium=old#frag", "https://example.org/?q=a+b%20c",
        "https://user@example.org:8443/p;params?z=%E4%B8%AD#", "https://example.org/#only-fragment",
    ],
)
@pytest.mark.parametrize("content", [None, "", "launch", "p 1/2 & more", "中文 ✨", 7])
def test_utm_gives_what_one_urlencode_of_the_whole_query_gives(url: str, content: object) -> None:
    """The cached part (everything but utm_content) plus the quoted utm_content is the URL a single
    ``urlencode`` of the whole query writes."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    query += [("utm_source", "bluesky"), ("utm_medium", "social"), ("utm_campaign", "Spring 2030")]
    if content:
        query.append(("utm_content", str(content)))
    whole = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))
    got = add_utm(url, source="bluesky", campaign="Spring 2030", content=content)  # type: ignore[arg-type]
    assert got == whole


def test_shorten_counts_with_the_platform_measure() -> None:
    x = channels.load("x").rules
    text = "字" * 200  # CJK weighs 2 on X
    short = shorten(text, 100, x)
    assert x.measure(short) <= 100
    assert shorten("a few short words here", 100, x) == "a few short words here"
    assert shorten("alpha beta gamma delta", 12, None) == "alpha beta…"


def test_tidy_collapses_blank_runs() -> None:
    assert tidy("a  \n\n\n\nb\n\n") == "a\n\nb"


@pytest.mark.parametrize(
    "text",
    ["a \t\n\n\n\nb", "a\n \n\nb", "a\t\n\n\nb  ", "  only\n\n\n", "no change", "x \n y\t\n\n\n\n\nz"],
)
def test_tidy_gives_what_both_substitutions_give(text: str) -> None:
    import re

    assert tidy(text) == re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()


def test_cached_hashtags_and_shortening_answer_as_the_first_time() -> None:
    """Results are cached for small arguments; any argument gives what the uncached code gives."""
    mastodon = channels.load("mastodon").rules
    tags = ["talent", "#talent", "#siliconvalley", 2024]
    first = format_hashtags(tags, mastodon)
    assert first == format_hashtags(list(tags), mastodon) == "#Talent #Siliconvalley #2024"
    assert format_hashtags(tuple(tags), mastodon, case="lower") == "#talent #siliconvalley #2024"
    assert format_hashtags(iter(["#a", "#b", "#c"]), None, limit=2) == "#a #b"  # read lazily, not cached
    assert format_hashtags(["#a", "#b"], None, case=["camel"]) == "#a #b"  # type: ignore[arg-type]
    many = [f"#t{i}" for i in range(100)]  # over the cached size
    assert format_hashtags(many, None, limit=3) == "#t0 #t1 #t2"
    x = channels.load("x").rules
    assert shorten("alpha beta gamma delta", 12, None) == shorten("alpha beta gamma delta", 12, None)
    assert shorten(12345678901234, 10, None) == "…"  # not text: stringified, as before
    assert shorten("word " * 2000, 20, x) == "word word word…"  # over the cached size ("…" weighs 2 on X)


def test_large_or_odd_arguments_are_answered_but_never_cached() -> None:
    from campaign.text import render

    def sizes() -> tuple[int, int, int, int]:
        caches = (render._hashtags, render._shorten, render._utm_base, render._cached_is_hashtag)
        return tuple(c.cache_info().currsize for c in caches)  # type: ignore[return-value]

    render._is_hashtag("#b")  # a small tag, cached as it should be (whichever test asked first)
    before = sizes()
    big = "#" + "x" * 5000
    assert format_hashtags([big, "#b"], None) == f"{big} #b"  # a template may build tags this long
    assert shorten("word " * 2000, 20, None).endswith("…")
    long_url = "https://example.org/" + "p" * 5000
    assert add_utm(long_url, source="x", campaign="c").startswith(long_url + "?utm_source=x")
    assert add_utm(long_url, source="x", campaign="c", content=7).endswith("utm_content=7")  # type: ignore[arg-type]
    assert sizes() == before
    # utm_content (a post's key, different for every post) is never part of a cached answer: a thousand
    # posts on one channel's link hold one entry.
    for n in range(1000):
        content = f"p{n}" * 100
        assert add_utm("https://example.org/n", source="x", campaign="c", content=content).endswith(content)
    assert sizes()[2] == before[2] + 1
