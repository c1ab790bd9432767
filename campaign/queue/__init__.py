"""The durable queue: what is queued, its states, and the one SQL layer (``Store``) over SQLite or PostgreSQL.

Owns the ``posts``/``post_events``/state tables (``models``), the post state machine (``states``), the store
split by concern behind the facade :class:`campaign.queue.store.Store` (see its module docstring for the
map), the planner that diffs a campaign file against the queue (``planner``), ``campaign db copy``
(``copy``) and the single-daemon lock of a SQLite queue (``lock``). May import foundation, text, schedule,
channels, http, source and plan; never dispatch or cli.
"""
