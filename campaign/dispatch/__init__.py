"""Dispatch: sending due posts, once, on a clock it is given.

Owns the dispatch core (claim, send, record), the outcome decision table (`decide`), the group-commit writer,
reconciliation of `unknown` posts, the campaign directory (accounts and adapters from campaign files), retry
policy, alerts, the daemon (APScheduler wakes the core) and its event loop (`eventloop`: uvloop or asyncio's),
and `simulate` (a simulated clock).
May import: everything to its left; never cli. Nothing here but the daemon reads the wall clock.
"""
