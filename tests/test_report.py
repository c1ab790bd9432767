"""The campaign report: figures from samples, every format, hostile names, a self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from campaign.report.build import build_report
from campaign.report.formats import to_csv, to_json, to_markdown, to_text
from campaign.report.html import to_html
from campaign.report.metrics import PostInfo, ReportInput, Sample, engagement

T0 = datetime(2027, 1, 18, 1, 0, tzinfo=UTC)  # 09:00 in Hong Kong


def post(pid: int, key: str, channel: str, hours: float = 0, remote_url: str | None = None) -> PostInfo:
    return PostInfo(
        id=pid,
        post_key=key,
        channel=channel,
        account=f"{channel}_main",
        sent_at=T0 + timedelta(hours=hours),
        remote_url=remote_url or f"https://example.social/{pid}",
        links=(f"https://www.hkstp.org/?utm_source={channel}&utm_content={key}",),
    )


def samples(pid: int, at_hours: float, **values: int) -> list[Sample]:
    return [Sample(pid, name, value, T0 + timedelta(hours=at_hours)) for name, value in values.items()]


def example() -> ReportInput:
    posts = (
        post(1, "launch", "mastodon"),
        post(2, "launch", "bluesky"),
        post(3, "quote", "mastodon", hours=24),
        post(4, "figures", "slack", hours=24),
    )
    data = [
        *samples(1, 1, likes=3, reposts=1, replies=0),
        *samples(1, 24, likes=10, reposts=4, replies=2),  # later values replace earlier ones
        *samples(2, 1, likes=5, reposts=0, replies=1, quotes=1),
        *samples(3, 25, likes=1, views=100),
    ]
    return ReportInput(
        campaign="hkstp",
        zone="Asia/Hong_Kong",
        posts=posts,
        samples=tuple(data),
        no_metrics_api=frozenset({"slack"}),
        followers={"mastodon_main": 200, "bluesky_main": 70},
        generated_at=T0 + timedelta(days=8),
    )


def test_engagement_adds_interactions_not_reach() -> None:
    assert engagement({"likes": 2, "reposts": 1, "views": 1000, "impressions": 50}) == 3
    assert engagement({}) == 0


def test_figures_use_each_posts_latest_values() -> None:
    report = build_report(example())
    by_channel = {t.name: t for t in report.channels}
    assert by_channel["mastodon"].engagement == 10 + 4 + 2 + 1
    assert by_channel["mastodon"].measured == 2
    assert by_channel["mastodon"].per_post == 8.5
    assert by_channel["mastodon"].per_follower == 17 / 200
    assert by_channel["bluesky"].engagement == 7
    assert by_channel["slack"].measured == 0 and by_channel["slack"].per_post is None
    assert report.no_metrics_api == ["slack"]
    by_key = {t.name: t for t in report.keys}
    assert by_key["launch"].engagement == 23 and by_key["launch"].posts == 2
    assert by_key["quote"].values == {"likes": 1, "views": 100}
    # Days are the campaign zone's calendar days of publication.
    assert [(d.name, d.posts) for d in report.days] == [("2027-01-18", 2), ("2027-01-19", 2)]
    assert [r.post.id for r in report.best] == [1, 2, 3]
    assert report.totals.engagement == 24


def test_series_are_cumulative_per_group_and_never_double_count_a_post() -> None:
    report = build_report(example())
    mastodon = report.channel_series["mastodon"]
    assert mastodon[0] == (T0 + timedelta(hours=1), 4)
    assert mastodon[1] == (T0 + timedelta(hours=24), 16)  # post 1 grew from 4 to 16, not 4 + 16
    assert mastodon[-1][1] == 17
    assert report.key_series["launch"][-1][1] == 23


def test_utm_content_joins_web_analytics() -> None:
    report = build_report(example())
    assert report.posts[0].utm_content == ("launch",)
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert rows[0]["utm_content"] == "launch" and rows[0]["likes"] == "10"
    assert rows[3]["channel"] == "slack" and rows[3]["engagement"] == ""  # no API: empty, not zero


def test_text_markdown_and_json_say_the_same_thing() -> None:
    report = build_report(example())
    text = to_text(report)
    assert "4 posts sent, 3 with metrics; engagement 24" in text
    assert "no read API on slack" in text
    assert "2027-01-18 09:00 HKT" in text  # local time with the zone, not UTC
    md = to_markdown(report)
    assert md.startswith("## Campaign report: hkstp")
    assert "| mastodon | 2 | 2 | 17 | 8.5 |" in md
    doc = json.loads(to_json(report))
    assert doc["totals"]["engagement"] == 24
    assert doc["channels"][1]["name"] == "mastodon"
    assert doc["posts"][3]["engagement"] is None
    assert doc["series"]["channel"]["mastodon"][-1][1] == 17


def test_an_empty_campaign_reports_nothing_sent() -> None:
    report = build_report(ReportInput(campaign="c", zone="UTC", posts=(), samples=()))
    assert "0 posts sent, 0 with metrics" in to_text(report)
    assert "<svg" not in to_html(report)
    assert json.loads(to_json(report))["posts"] == []


HOSTILE = '<script>alert("x")</script>'


def test_hostile_names_are_escaped_and_csv_cells_cannot_run_formulas() -> None:
    data = example()
    evil = post(9, HOSTILE, "mastodon", remote_url="javascript:alert(1)")
    data = ReportInput(
        campaign=HOSTILE,
        zone=data.zone,
        posts=(*data.posts, evil, post(10, "=HYPERLINK(1)", "bluesky")),
        samples=(*data.samples, *samples(9, 2, likes=1)),
    )
    report = build_report(data)
    page = to_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert "| &lt;script" not in to_markdown(report)
    cells = [row[1] for row in csv.reader(io.StringIO(to_csv(report)))]
    assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells


def test_a_link_that_cannot_be_parsed_carries_no_utm_content() -> None:
    """A post's text may hold ``https://[x`` (urlsplit: "Invalid IPv6 URL"); it used to stop every report."""
    data = example()
    odd = replace(post(9, "odd", "mastodon"), links=("https://[x?utm_content=a", "https://h/?utm_content=b"))
    report = build_report(replace(data, posts=(*data.posts, odd)))
    assert next(p for p in report.posts if p.post.id == 9).utm_content == ("b",)
    assert "odd" in to_html(report)


def test_html_is_one_self_contained_page_with_charts() -> None:
    page = to_html(build_report(example()))
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 2 and "<polyline" in page
    # Nothing outside the page: no external stylesheet, script, image or font.
    assert not re.search(r'<(link|script|img|iframe)\b|src=|@import|url\(', page)
    assert "No read API on slack" in page


def test_html_allows_its_own_style_and_nothing_else() -> None:
    """A Content-Security-Policy with the hash of the one style block: no script, image, font or fetch, even
    if escaping ever failed; post links open as http(s) only, without a referrer."""
    import base64
    import hashlib

    data = example()
    loud = post(9, "loud", "mastodon", remote_url="HTTPS://example.social/9")
    sneaky = post(10, "js", "x", remote_url=" javascript:alert(1)")
    page = to_html(build_report(replace(data, posts=(*data.posts, loud, sneaky))))
    [style] = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">'.replace("'", "&#39;") in page
    hrefs = re.findall(r'<a href="([^"]*)" rel="noopener noreferrer">view</a>', page)
    assert "HTTPS://example.social/9" in hrefs and not [h for h in hrefs if "javascript" in h]
