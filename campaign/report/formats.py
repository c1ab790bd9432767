"""A report as text, Markdown (a CI job summary or an e-mail), JSON or CSV.

Contract: every function is pure and deterministic for one :class:`~campaign.report.build.Report`. Times are
shown in the campaign's zone with the zone's abbreviation; JSON carries aware UTC ISO 8601 as well. A channel
without a read API is said to be one, never shown as zeros. CSV has one row per post and metric columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from campaign.report.build import PostResult, Report, Totals
from campaign.report.metrics import REACH


def local_time(when: datetime | None, zone: str) -> str:
    if when is None:
        return "-"
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def rate(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _group_rows(groups: Sequence[Totals], reach: Sequence[str], followers: bool) -> list[list[str]]:
    rows = []
    for t in groups:
        row = [
            t.name,
            str(t.posts),
            str(t.measured),
            str(t.engagement) if t.measured else "-",
            rate(t.per_post),
        ]
        row += [str(t.values.get(name, "-")) for name in reach]
        if followers:
            row.append(pct(t.per_follower))
        rows.append(row)
    return rows


def _group_header(first: str, reach: Sequence[str], followers: bool) -> list[str]:
    tail = ["per follower"] if followers else []
    return [first, "posts", "measured", "engagement", "per post", *reach, *tail]


def _post_row(r: PostResult, zone: str) -> list[str]:
    return [
        local_time(r.post.sent_at, zone),
        r.post.channel,
        r.post.post_key,
        str(r.engagement) if r.collected_at else "-",
        ", ".join(r.utm_content) or "-",
        r.post.remote_url or "-",
    ]


_POST_HEADER = ["sent", "channel", "post", "engagement", "utm_content", "url"]


def _sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    reach = [name for name in REACH if name in report.metrics]
    fol = report.totals.followers > 0
    sections = [
        ("By channel", _group_header("channel", reach, fol), _group_rows(report.channels, reach, fol)),
        ("By post", _group_header("post", reach, fol), _group_rows(report.keys, reach, fol)),
        (
            "By day (" + report.zone + ")",
            _group_header("day", reach, fol),
            _group_rows(report.days, reach, fol),
        ),
    ]
    if report.best:
        sections.append(("Best posts", _POST_HEADER, [_post_row(r, report.zone) for r in report.best]))
    if report.worst:
        sections.append(("Weakest posts", _POST_HEADER, [_post_row(r, report.zone) for r in report.worst]))
    return sections


def summary_line(report: Report) -> str:
    t = report.totals
    line = (
        f"{t.posts} posts sent, {t.measured} with metrics; engagement {t.engagement}"
        f" ({rate(t.per_post)} per measured post)"
    )
    if report.no_metrics_api:
        line += "; no read API on " + ", ".join(report.no_metrics_api) + " (not counted)"
    return line


def to_text(report: Report) -> str:
    """A plain-text report with aligned columns."""
    out = [f"Campaign report: {report.campaign}", summary_line(report), ""]
    for title, header, rows in _sections(report):
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
        out.append(title)
        for row in (header, *rows):
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
        out.append("")
    return "\n".join(out).rstrip() + "\n"


#: The report's budget in characters: under GitHub's comment limit (65,536), leaving room for what CI adds.
MARKDOWN_LIMIT = 60_000


def to_markdown(report: Report, limit: int = MARKDOWN_LIMIT) -> str:
    """GitHub-flavoured Markdown: a summary line and one table per section.

    Every cell and name (post keys, utm_content and a platform's URLs are untrusted) is escaped as inline
    text (:func:`campaign.plan.markdown.inline`): no cell can split, and none can add markup, HTML, an image
    or a mention; a URL is a link (to itself) only when it is http(s) (:func:`~campaign.plan.markdown.url`).
    At most ``limit`` characters: sections that do not fit are left out whole, and a closing line says how
    many.
    """
    from campaign.plan.markdown import fit, inline, url

    head = f"## Campaign report: {inline(report.campaign)}\n\n{inline(summary_line(report))}\n"
    blocks = [head]
    for title, header, rows in _sections(report):
        table = [f"### {inline(title)}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        cells = [url if name == "url" else inline for name in header]
        for row in rows:
            # "-" (no value) as-is: a lone "-" is a list marker only where a block starts, not in a cell
            shown = (c if c == "-" else f(c, 300) for f, c in zip(cells, row, strict=True))
            table.append("| " + " | ".join(shown) + " |")
        blocks.append("\n".join(table) + "\n")
    if report.generated_at:
        blocks.append(f"_Generated {local_time(report.generated_at, report.zone)}._")

    def dropped(count: int) -> str:
        return (
            f"**Cut to fit a comment**: the last {count} section{'s are' if count > 1 else ' is'} of this "
            "report not shown; `--format json` or `--format html` shows them all."
        )

    return fit(blocks, limit, dropped).rstrip() + "\n"


def _totals_json(t: Totals) -> dict[str, Any]:
    return {
        "name": t.name,
        "posts": t.posts,
        "measured": t.measured,
        "engagement": t.engagement,
        "engagement_per_post": t.per_post,
        "engagement_per_follower": t.per_follower,
        "followers": t.followers or None,
        "values": dict(sorted(t.values.items())),
    }


def _post_json(r: PostResult) -> dict[str, Any]:
    return {
        "id": r.post.id,
        "post": r.post.post_key,
        "channel": r.post.channel,
        "account": r.post.account,
        "sent_at": r.post.sent_at.isoformat(),
        "url": r.post.remote_url,
        "gone": r.post.gone,
        "collected_at": r.collected_at.isoformat() if r.collected_at else None,
        "engagement": r.engagement if r.collected_at else None,
        "values": dict(sorted(r.values.items())),
        "links": list(r.post.links),
        "utm_content": list(r.utm_content),
    }


def to_json(report: Report) -> str:
    """The whole report as JSON (stable key order)."""
    doc = {
        "campaign": report.campaign,
        "zone": report.zone,
        "generated_at": report.generated_at.isoformat() if report.generated_at else None,
        "totals": _totals_json(report.totals),
        "channels": [_totals_json(t) for t in report.channels],
        "posts_by_key": [_totals_json(t) for t in report.keys],
        "days": [_totals_json(t) for t in report.days],
        "posts": [_post_json(r) for r in report.posts],
        "best": [r.post.id for r in report.best],
        "worst": [r.post.id for r in report.worst],
        "no_metrics_api": report.no_metrics_api,
        "series": {
            "channel": {k: [[t.isoformat(), v] for t, v in pts] for k, pts in report.channel_series.items()},
            "post": {k: [[t.isoformat(), v] for t, v in pts] for k, pts in report.key_series.items()},
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (names come from campaign files)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(report: Report) -> str:
    """One row per post: identity, time, links and every metric's latest value (empty where not read).

    Text cells a spreadsheet would read as a formula get a leading ``'`` (OWASP's CSV injection advice).
    """
    metrics = report.metrics
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = [
        "id",
        "post",
        "channel",
        "account",
        "sent_at",
        "url",
        "utm_content",
        "engagement",
        "collected_at",
    ]
    writer.writerow([*header, *metrics])
    for r in report.posts:
        row = [
            r.post.id,
            r.post.post_key,
            r.post.channel,
            r.post.account,
            r.post.sent_at.isoformat(),
            r.post.remote_url or "",
            " ".join(r.utm_content),
            r.engagement if r.collected_at else "",
            r.collected_at.isoformat() if r.collected_at else "",
            *[r.values.get(name, "") for name in metrics],
        ]
        writer.writerow([_cell(c) for c in row])
    return buf.getvalue()


FORMATS = ("text", "markdown", "json", "csv", "html")
