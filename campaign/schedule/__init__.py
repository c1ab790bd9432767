"""When posts go out: ``when:`` forms, zones and DST, recurrences, posting slots (no I/O, no wall clock).

Import the public names from :mod:`campaign.schedule.timespec`. May import only the foundation
(``campaign.errors``) and ``text``; nothing here reads files, the network or the wall clock (only the
expansion budget, :mod:`~campaign.schedule.budget`, reads a monotonic clock, and takes an injected one).
"""
