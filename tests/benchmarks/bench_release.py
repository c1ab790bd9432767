"""Benchmark: release parsing rate, and `campaign release show` start-up against the bare import.

Prints, measured in one run (the machine is shared and noisy: compare ratios, not absolute times):

- releases parsed per second over 100 releases: our test releases in every layout and language
  (tests/data/releases/layouts/ and the example release), each repeated with its figures, names and
  places varied so that no two texts are equal; the first parse (which loads the language detector and the
  gazetteer) is timed apart. Target: at least 50 releases/s (a folder of a hundred releases checked in
  about two seconds).
- ``campaign release show`` of a release whose place a country settles (the example: ``HONG KONG SAR``) and
  of one that needs the city list (``FRAMINGHAM, Mass.``), against
  ``python -c "import sqlmodel, httpx, jinja2, apscheduler"`` (DECISIONS.md: a command that needs no
  database must take at most the time of that import line).

- hostile shapes a pull request can send (thousands of quotations or figures in one sentence, thousands of
  unclosed quotation marks, dates, percentages, full stops without white space, glued sentences, e-mail-like
  runs, a URL followed by closing marks), each parsed at two sizes, the larger five times the smaller
  (20,000 and 100,000 characters; 10,000 and 50,000 with ``--quick``): the time grows about 5x when
  parsing is linear and about 25x when it is quadratic (before the fix, 100,000 characters of quotations
  took 220 s; of "a.a.a." or 'a."B' without spaces, over 15 s). Target: at most 8x for every shape.

Each target is printed as ``TARGET ...: met`` or ``TARGET ...: NOT met``.

Usage: python tests/benchmarks/bench_release.py [--quick]   (--quick: 3 runs per command instead of 7)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = ROOT / "tests" / "data" / "releases" / "layouts"
EXAMPLE = ROOT / "releases" / "hkstp-innovation-mixer-us-2024.txt"
CITY = LAYOUTS / "businesswire-framingham.txt"
RATE_TARGET = 50.0
PLACES = ["SEATTLE", "BOSTON", "OSAKA", "MELBOURNE", "CHICAGO", "ZURICH", "SEOUL", "DUBAI"]


def corpus(count: int) -> list[str]:
    """``count`` distinct release texts built from our test releases."""
    sources = [EXAMPLE, *sorted(LAYOUTS.iterdir())]
    texts = [p.read_text(encoding="utf-8") for p in sources]
    out: list[str] = []
    n = 0
    while len(out) < count:
        base = texts[n % len(texts)]
        k = n // len(texts)
        if k == 0:
            out.append(base)
        else:
            varied = base.replace("2026", str(2026 + k)).replace("0", str(k % 10))
            for place in ("TAI PO", "TORONTO", "WASHINGTON", "MIAMI", "DENVER", "SINGAPORE"):
                varied = varied.replace(place, PLACES[(n + k) % len(PLACES)])
            out.append(varied)
        n += 1
    return out


def parse_rate(count: int) -> tuple[float, float]:
    """(seconds of the first parse, releases per second over ``count`` releases after it)."""
    from campaign.source.release import parse_release

    texts = corpus(count)
    start = time.perf_counter()
    parse_release(texts[0], source="first")
    first = time.perf_counter() - start
    start = time.perf_counter()
    for i, text in enumerate(texts):
        parse_release(text, source=f"r{i}")
    return first, count / (time.perf_counter() - start)


#: Release bodies of about ``n`` characters that were quadratic before (tests/test_release_hostile.py,
#: tests/test_release_blocks_hostile.py); an HTML page is the whole release.
HOSTILE = {
    "quotations": lambda n: '"a" ' * (n // 4),
    "attributed quotations": lambda n: '"x," said Jane Doe, ' * (n // 20),
    "unclosed quotation marks": lambda n: "\u201c" * n,
    "dates": lambda n: "January 1, " * (n // 11),
    "percentages": lambda n: "1% " * (n // 3),
    "mixed punctuation": lambda n: 'a. B, c; "d" (e) ' * (n // 18),
    "bare quotations": lambda n: 'x"' * (n // 2),  # a 600-character window searched for a speaker, each
    "Chinese speakers": lambda n: '說"x"' * (n // 4),
    # Blocks, inline Markdown and HTML pages (tests/test_release_blocks_hostile.py).
    "unclosed emphasis": lambda n: "**a  *b  _c " * (n // 12),
    "unclosed links": lambda n: "[a](b ![c " * (n // 10),
    "unclosed autolinks": lambda n: "<www." * (n // 5),
    "heading of spaces": lambda n: "\n\n# a" + " " * n + "b",
    "tag lists": lambda n: "Tags: #Tags:" * (n // 12) + " x",
    "HTML, unclosed tags": lambda n: "<html><body><p>Title</p>" + "<div><a x" * (n // 9),
    # Sentence splitting (tests/test_sentences_hostile.py): full stops in a token without white space.
    "a.a.a. without spaces": lambda n: "a." * (n // 2),
    "x.yx.y without spaces": lambda n: "x.y" * (n // 3),
    "Mr.Mr. without spaces": lambda n: "Mr." * (n // 3),
    "1.2.3. without spaces": lambda n: "1." * (n // 2),
    "glued word.Word": lambda n: "ab.Cd" * (n // 5),
    "glued a?B": lambda n: "a?Bc" * (n // 4),
    'glued a."B': lambda n: 'a."B' * (n // 4),
    "glued a.)B": lambda n: "a.)B" * (n // 4),
    "e-mail-like a.a.a.@": lambda n: "a." * (n // 2) + "@",
    "e-mail addresses glued": lambda n: "a@b.c" * (n // 5),
    "URL and closing brackets": lambda n: "http://a.b/c" + ")" * n,
    "URL and full stops": lambda n: "http://a.b/c" + "." * n,
}
GROWTH_TARGET = 8.0
HEAD = "Title of the release\n\nHONG KONG, 1 Jan 2024 – "


def growth(make: Callable[[int], str], small: int) -> tuple[float, float]:
    """(seconds to parse the larger text, its time over the smaller one's). Each time is the median of 3
    rounds, a round repeating the parse for at least 50 ms (a fast shape parses in a few ms, where one
    sample is noise), after one warm-up parse that compiles the patterns."""
    from campaign.source.release import parse_release

    def parse_time(n: int) -> float:
        body = make(n)
        text = body if body.startswith("<html>") else f"{HEAD}{body}\n"
        parse_release(text, source="hostile")
        rounds = []
        for _ in range(3):
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < 0.05 or not calls:
                parse_release(text, source="hostile")
                calls += 1
            rounds.append(elapsed / calls)
        return statistics.median(rounds)

    little, big = parse_time(small), parse_time(small * 5)
    return big, big / little


def timed(cmd: list[str], runs: int) -> float:
    """Median wall time of ``cmd`` over ``runs`` runs (seconds)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 3 if quick else 7
    first, rate = parse_rate(100)
    print(f"first parse (loads the detector and the gazetteer): {first * 1000:.0f} ms")
    print(f"parse: {rate:,.0f} releases/s over 100 releases")
    print(f"TARGET parse >= {RATE_TARGET:.0f} releases/s: {verdict(rate >= RATE_TARGET)}")
    small = 10_000 if quick else 20_000
    for name, make in HOSTILE.items():
        seconds, ratio = growth(make, small)
        print(f"hostile release, {name}: {small * 5:,} characters in {seconds * 1000:.0f} ms, "
              f"{ratio:.1f}x the time of {small:,}")
        print(f"TARGET hostile release ({name}) grows <= {GROWTH_TARGET:.0f}x for 5x the text: "
              f"{verdict(ratio <= GROWTH_TARGET)}")
    python = sys.executable
    heavy = timed([python, "-c", "import sqlmodel, httpx, jinja2, apscheduler"], runs)
    print(f"`import sqlmodel, httpx, jinja2, apscheduler`: {heavy * 1000:.0f} ms (median of {runs})")
    for label, path in (("country place (example)", EXAMPLE), ("city place", CITY)):
        show = timed([python, "-m", "campaign.cli", "release", "show", str(path)], runs)
        print(f"release show, {label}: {show * 1000:.0f} ms = {show / heavy:.2f}x the bare import")
        print(f"TARGET release show ({label}) <= 1.0x bare import: {verdict(show <= heavy)}")


if __name__ == "__main__":
    main()
