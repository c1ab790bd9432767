"""Plan: a campaign compiled into concrete posts, before any database.

Owns planned posts and their idempotency keys (`posts`), compiling schedule x render x fit (`compile`), the
dry-run preview document (`preview`) and the self-contained HTML review page (`html_preview`).
May import: everything to its left (foundation, text, schedule, channels, http, source); never the queue.
"""
