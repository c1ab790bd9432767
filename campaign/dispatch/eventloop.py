"""The daemon's event loop (``campaign daemon --loop``): uvloop where it is installed, else asyncio's own.

uvloop (https://github.com/MagicStack/uvloop) implements asyncio's event loop API on libuv, with its
transports and TLS layer in Cython; asyncio's own TLS layer (``asyncio.sslproto``) and loop are Python. The
daemon is bound by the Python its one GIL runs per post, so the loop's share counts. Measured on the daemon
as shipped, the loops alternated (docs/BENCHMARKS.md, seventeenth pass): the TLS race (5,000 posts) moved
about 15% more posts a second on uvloop (median of 8 pairs, faster in 7), the plain-HTTP burst (10,000 posts)
4-7% more in 3 pairs of 3. The daemon's transports run on both loops, and their tests run on both
(``tests/test_transport.py``, ``tests/test_wire_transport.py``).

uvloop is a dependency where it builds (not on Windows); ``auto`` falls back to asyncio without it.

==========  ==========================================================================
``--loop``  runs on
==========  ==========================================================================
auto        uvloop when it can be imported, asyncio otherwise (the default)
uvloop      uvloop; a :class:`~campaign.errors.ConfigError` when it is not installed
asyncio     asyncio's own event loop
==========  ==========================================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from campaign.errors import ConfigError

T = TypeVar("T")

#: ``--loop`` choices, the default first.
LOOPS = ("auto", "uvloop", "asyncio")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(name: str) -> LoopFactory | None:
    """The event loop factory for ``name`` (one of :data:`LOOPS`); None means asyncio's own.

    Raises ConfigError when ``name`` is ``uvloop`` and uvloop cannot be imported, ValueError for a name not
    in :data:`LOOPS`.
    """
    if name not in LOOPS:
        raise ValueError(f"unknown event loop {name!r} (one of {', '.join(LOOPS)})")
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as exc:
        if name == "auto":
            return None
        raise ConfigError(
            f"--loop uvloop: uvloop cannot be imported ({exc}); install it (pip install uvloop) or use "
            "--loop asyncio"
        ) from None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], factory: LoopFactory | None) -> T:
    """Run ``main`` to its end on a new event loop from ``factory`` (:func:`loop_factory`; None: asyncio's
    own), as ``asyncio.run`` does."""
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: what the running event loop is (the daemon's start line says it)."""
    module = type(asyncio.get_running_loop()).__module__
    return module.partition(".")[0]
