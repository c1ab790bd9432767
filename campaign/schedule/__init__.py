"""Schedule: when posts go out, as aware UTC instants.

Owns parsing `when:` (absolute times, day offsets, cron, RFC 5545 rules, posting slots), time zones with
explicit
DST gap and fold rules, and recurrence expansion to a stored horizon.
May import: the foundation modules and `campaign.text`.
"""
