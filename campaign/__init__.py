"""campaign: turn a press release into a reviewed, scheduled, multi-channel social media campaign.

Subpackages follow the data flow, and imports run one way (a package imports only packages listed before it):

    errors, secrets, logs   the exception tree, secret references and redaction, logging (foundation)
    text                    platform text rules, counting, facets, sentences, Jinja2 rendering, fitting
    schedule                `when:` -> aware UTC instants (zones, DST, cron, RFC 5545, slots)
    channels                the adapter contract and one adapter per platform (they describe, never send)
    http                    running the exchanges adapters describe (httpx, dry-run recorder, transport)
    source                  press releases and campaign files, read and checked; `campaign init`
    plan                    compiled posts, preview, HTML preview
    queue                   the SQL store, post states, plan/apply, daemon lock, copies
    dispatch                the dispatch core, decisions, reconciliation, daemon, simulate
    cli                     the `campaign` command

``tests/test_layout.py`` enforces the order. This package import is deliberately light; heavy modules (the
database, the daemon) are imported where used.
"""

__version__ = "0.1.0"
