"""Waiting in tests: for a condition the code under test makes true, never for a guessed duration.

The timeout only bounds a hang (a generous multiple of the slowest run seen on a loaded 2-core machine); a
slower machine makes a test slower, never red.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Default bound on a wait, in seconds.
HANG = 120.0


def wait_until(check: Callable[[], T], *, what: str, timeout: float = HANG, interval: float = 0.02) -> T:
    """Call ``check`` until it returns a truthy value, and return that value.

    Raises AssertionError naming ``what`` (and the last value) once ``timeout`` seconds have passed.
    ``interval`` is only the polling period of a condition that has no event to wait on.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}; last seen: {value!r}")
        time.sleep(interval)
