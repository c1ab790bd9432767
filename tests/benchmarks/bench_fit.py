"""Benchmark: fitting rendered posts for every channel, and our X counter against twitter-text-parser.

Run ``python tests/benchmarks/bench_fit.py`` or ``--quick`` (CI: fewer oracle calls); both fit 10,000
posts (under a second: with 1,000 the one-time first calls, about 35 ms, weighed a third of the rate).
Prints the fit rate over all channels' rules and the x_length rate beside ``twitter_text.parse_tweet``
measured in the same run, with their ratio (absolute numbers vary 15-30% between runs on these machines;
compare ratios).
Target: fitting well above 10,000 posts/s, so that rendering plus fitting reaches 10,000 posts/s.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from targets import target  # tests/benchmarks/targets.py, beside this script

from campaign.errors import FitError
from campaign.text.counting import x_length
from campaign.text.fit import fit
from campaign.text.rules import TextRules

CHANNELS = [
    "x", "bluesky", "mastodon", "threads", "linkedin", "facebook", "telegram", "slack", "discord", "teams",
]  # fmt: skip

SENTENCES = [
    "Acme 2.0 ships today with faster sync, an offline mode and a new dashboard.",
    "Read the full story at https://acme.com/blog/acme-2-0-launch and tell us what you think!",
    "Built with feedback from over 250 customers in 14 countries 🌍.",
    "Join us at the launch party on 3 March in Hong Kong 🎉 — details on acme.com/events.",
    "Thanks to @alice.bsky.social and the whole team 👩🏽‍💻👨‍👩‍👧 for the long nights.",
    "Die neue Version ist schneller, übersichtlicher und läuft auch ohne Netz.",
    "新しいダッシュボードで、すべてのプロジェクトを一目で確認できます。",
    "Questions? Write to hello@acme.com or visit https://t.co/abc123XYZ.",
]
TAGS = ["#Acme", "#Launch", "#SaaS", "#Productivity", "#HongKong", "#Startup"]


def channel_rules() -> dict[str, TextRules]:
    """Each channel module's declared ``rules`` (an adapter class attribute)."""
    found: dict[str, TextRules] = {}
    for name in CHANNELS:
        module = importlib.import_module(f"campaign.channels.{name}")
        for value in vars(module).values():
            rules = getattr(value, "rules", None)
            if isinstance(value, type) and isinstance(rules, TextRules):
                found[name] = rules
                break
    return found


def make_posts(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    posts = []
    for _ in range(count):
        body = " ".join(rng.choice(SENTENCES) for _ in range(rng.choice([1, 2, 3, 4, 6])))
        tags = " ".join(rng.sample(TAGS, rng.randint(0, 4)))
        posts.append(f"{body} {tags}".strip())
    return posts


def rate(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    done = fn()
    return done, done / max(time.perf_counter() - start, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer oracle calls (for CI)")
    args = parser.parse_args(argv)
    n_posts = 10_000
    n_oracle = 100 if args.quick else 1_000

    rules = channel_rules()
    posts = make_posts(n_posts)
    names = list(rules)
    outcome = {"single": 0, "thread": 0, "dropped": 0, "error": 0}

    def fit_all() -> int:
        outcome.update(dict.fromkeys(outcome, 0))  # each repeat counts its own
        for i, text in enumerate(posts):
            name = names[i % len(names)]
            try:
                result = fit(text, rules[name], allow_thread=True, post=f"p{i}", channel=name)
            except FitError:
                outcome["error"] += 1
                continue
            outcome["thread" if len(result.parts) > 1 else "single"] += 1
            outcome["dropped"] += bool(result.dropped_hashtags)
        return len(posts)

    # The best of 3 passes (the first one warms the caches): on a shared machine, slower passes measure
    # other processes (the `timeit` documentation's point about its repeat() results); all are printed.
    rates = [rate(fit_all) for _ in range(3)]
    done, fit_rate = max(rates, key=lambda sample: sample[1])
    samples = ", ".join(f"{sample:,.0f}" for _, sample in rates)
    where = f"{done} posts over {len(names)} channels"
    print(f"fit: {where}: {fit_rate:,.0f} posts/s (passes: {samples})", outcome)
    # "Well above" 10,000/s: rendering must fit in the same budget (bench_preview checks both together).
    target("fit rate", fit_rate, ">=", 10_000, unit=" posts/s", digits=0)

    x_posts = [p[:280] for p in posts]
    _, ours = rate(lambda: sum(1 for p in x_posts if x_length(p) >= 0))
    try:
        import twitter_text
    except ImportError:
        print(f"x_length: {ours:,.0f} calls/s (twitter-text-parser not installed: no ratio)")
        return 0
    sample = x_posts[:n_oracle]
    mismatches = sum(x_length(p) != twitter_text.parse_tweet(p).weightedLength for p in sample)
    _, theirs = rate(lambda: sum(1 for p in sample if twitter_text.parse_tweet(p).weightedLength >= 0))
    print(f"x_length: {ours:,.0f} calls/s; twitter_text.parse_tweet: {theirs:,.0f} calls/s", end="; ")
    print(f"ratio {ours / theirs:.1f}x")
    print(f"x_length vs parse_tweet on {len(sample)} posts: {mismatches} mismatches")
    return 1 if mismatches else 0  # a wrong count is a failure, not a missed target


if __name__ == "__main__":
    raise SystemExit(main())
