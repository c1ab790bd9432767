"""The report as one self-contained HTML page: tables and inline SVG charts, no script, no network.

Contract: :func:`to_html` returns a complete document that references nothing outside itself (no links to
stylesheets, fonts, scripts or images), so it can be attached to a CI run or an e-mail. Every text from the
campaign or a platform (names, keys, ``utm_content``, URLs) is escaped for where it lands (Jinja2's
autoescape in the page, :func:`markupsafe.escape` in the SVG charts); a post's URL is only a link when a
browser would open it as http(s) (:func:`campaign.plan.html_preview.safe_href`). A Content-Security-Policy
allows exactly the page's own ``<style>`` (by hash) and nothing else: no script, image, font or fetch, even
if escaping ever failed.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from functools import cache
from typing import Any

from markupsafe import Markup, escape

from campaign.plan.html_preview import safe_href
from campaign.report.build import Report
from campaign.report.formats import local_time, pct, rate, summary_line
from campaign.report.metrics import REACH

#: Chart size in SVG user units.
WIDTH, HEIGHT, PAD = 640, 220, 40
#: Line colours, picked for contrast on white and for colour-blind readers (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8A7400", "#000000")

#: The page's only style block; the Content-Security-Policy allows exactly this text (by its hash).
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
.summary{color:#444}.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff8e1;border-left:4px solid #E69F00;padding:.5rem .8rem}
figure{margin:0 0 1.5rem}figcaption{color:#444;font-size:.9rem}svg{width:100%;max-width:48rem;height:auto}
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaign report: {{ r.campaign }}</title>
<style>{{ css }}</style></head><body>
<h1>Campaign report: {{ r.campaign }}</h1>
<p class="summary">{{ summary }}</p>
<div class="cards">
<div class="card"><b>{{ r.totals.posts }}</b>posts sent</div>
<div class="card"><b>{{ r.totals.engagement }}</b>engagements</div>
<div class="card"><b>{{ rate(r.totals.per_post) }}</b>per measured post</div>
{% for name in reach %}<div class="card"><b>{{ r.totals.values.get(name, 0) }}</b>{{ name }}</div>{% endfor %}
</div>
{% if r.no_metrics_api %}<p class="note">No read API on {{ r.no_metrics_api | join(", ") }}:
these channels' posts are listed, but they have no counts.</p>{% endif %}
{% for chart in charts %}<figure>{{ chart.svg | safe }}<figcaption>{{ chart.caption }}</figcaption></figure>
{% endfor %}
{% for title, first, groups in tables %}
<h2>{{ title }}</h2>
<table><thead><tr><th>{{ first }}</th><th>posts</th><th>measured</th><th>engagement</th><th>per post</th>
{% for name in reach %}<th>{{ name }}</th>{% endfor %}{% if followers %}<th>per follower</th>{% endif %}</tr>
</thead><tbody>
{% for t in groups %}<tr><td>{{ t.name }}</td><td class="n">{{ t.posts }}</td><td class="n">{{ t.measured
}}</td>
<td class="n">{{ t.engagement if t.measured else "-" }}</td><td class="n">{{ rate(t.per_post) }}</td>
{% for name in reach %}<td class="n">{{ t.values.get(name, "-") }}</td>{% endfor %}
{% if followers %}<td class="n">{{ pct(t.per_follower) }}</td>{% endif %}</tr>{% endfor %}
</tbody></table>
{% endfor %}
{% for title, rows in post_tables %}{% if rows %}
<h2>{{ title }}</h2>
<table><thead><tr><th>sent</th><th>channel</th><th>post</th><th>engagement</th><th>utm_content</th><th>link</th>
</tr></thead><tbody>
{% for p in rows %}<tr><td>{{ local(p.post.sent_at) }}</td><td>{{ p.post.channel }}</td><td>{{
p.post.post_key }}</td>
<td class="n">{{ p.engagement if p.collected_at else "-" }}</td><td>{{ p.utm_content | join(", ") or "-"
}}</td>
<td>{% if href(p.post.remote_url) %}<a href="{{ href(p.post.remote_url) }}" rel="noopener noreferrer">view</a>
{%- else %}-{% endif %}</td></tr>
{% endfor %}</tbody></table>{% endif %}{% endfor %}
{% if r.generated_at %}<p class="summary">Generated {{ local(r.generated_at) }}.</p>{% endif %}
</body></html>
"""


def _esc(text: str) -> str:
    """``text`` escaped for SVG text and a quoted attribute (``&``, ``<``, ``>``, both quotes)."""
    return str(escape(text))


@cache
def _csp() -> str:
    """The page's Content-Security-Policy: its own style block by hash, nothing else at all."""
    digest = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def line_chart(title: str, series: dict[str, list[tuple[datetime, int]]], zone: str) -> str:
    """An SVG line chart of cumulative values over time, one line per series, with a legend."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return ""
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    top = max(1, max(v for _, v in points))
    span = max(1.0, t1 - t0)
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(t: datetime, v: int) -> str:
        x = PAD + (t.timestamp() - t0) / span * plot_w
        y = HEIGHT - PAD - v / top * plot_h
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 20 * len(series)}" '
        f'role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{PAD - 6}" y="{HEIGHT - PAD + 4}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11">'
        f"{_esc(local_time(min(points)[0], zone))}</text>",
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end" font-size="11">'
        f"{_esc(local_time(max(points)[0], zone))}</text>",
    ]
    end = max(t for t, _ in points)
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        if pts[-1][0] < end:  # a cumulative value holds until the next sample: draw it to the chart's end
            pts = [*pts, (end, pts[-1][1])]
        coords = " ".join(xy(t, v) for t, v in pts)
        if len(pts) == 1:
            parts.append(
                f'<circle cx="{xy(*pts[0]).split(",")[0]}" cy="{xy(*pts[0]).split(",")[1]}" r="3" '
                f'fill="{colour}"/>'
            )
        else:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        y = HEIGHT + 14 + 20 * i
        parts.append(f'<rect x="{PAD}" y="{y - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{PAD + 18}" y="{y + 1}" font-size="12">{_esc(name)} ({pts[-1][1]})</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: Report) -> str:
    """The self-contained page."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    reach = [name for name in REACH if name in report.metrics]
    charts: list[dict[str, Any]] = []
    for caption, series in (
        ("Engagement over time, per channel (cumulative)", report.channel_series),
        ("Engagement over time, per post (cumulative)", report.key_series),
    ):
        svg = line_chart(caption, series, report.zone)
        if svg:
            charts.append({"svg": svg, "caption": caption})
    return env.from_string(_PAGE).render(
        css=Markup(_CSS),
        csp=_csp(),
        r=report,
        summary=summary_line(report),
        reach=reach,
        followers=report.totals.followers > 0,
        charts=charts,
        tables=[
            ("By channel", "channel", report.channels),
            ("By post", "post", report.keys),
            (f"By day ({report.zone})", "day", report.days),
        ],
        post_tables=[
            ("Best posts", report.best),
            ("Weakest posts", report.worst),
            ("Every post", report.posts),
        ],
        rate=rate,
        pct=pct,
        local=lambda when: local_time(when, report.zone),
        href=safe_href,
    )
