"""Report: what a campaign achieved, from the metrics the daemon read back from the platforms.

Owns the normalised metric names and what counts as engagement (`metrics`), the report built from posts and
samples (`build`), and its formats: text, Markdown, JSON, CSV (`formats`) and one self-contained HTML page
with
inline SVG charts (`html`). Building and formatting are pure: the CLI reads the queue and hands the rows in.
May import: everything to its left (foundation, text, schedule, channels, http, source, plan, queue); never
dispatch or cli.
"""
