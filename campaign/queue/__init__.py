"""Queue: the one layer that speaks SQL (SQLite, or PostgreSQL when several daemons share a queue).

Owns the tables (`models`), the post state machine (`states`), the store (claims and leases, marks, admin
commands, dialect code, schema check, change watcher), plan/apply against the queue (`planner`), the daemon
lock
and whole-queue copies (`copy`).
May import: everything to its left (foundation, text, schedule, channels, http, source, plan); never dispatch
or cli.
"""
