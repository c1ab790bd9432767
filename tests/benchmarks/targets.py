"""The one line format in which every benchmark reports its targets (``scripts/bench.sh`` collects them).

::

    TARGET <name>: <measured> vs <op> <bound> ... met
    TARGET <name>: <measured> vs <op> <bound> ... NOT met
    SKIP <name>: <why>

``<name>`` never contains ": ". A ratio target is measured against a reference in the same run (the
machine is shared: absolute numbers drift 15-30% between sessions, ratios much less). Benchmarks report;
they never fail because a target was missed (only a crash, or a wrong result, fails one).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def report(name: str, met: bool, measured: str, wanted: str) -> bool:
    """Print one target line; returns ``met``."""
    if ": " in name:
        raise ValueError(f"a target name may not contain ': ' ({name!r})")
    print(f"TARGET {name}: {measured} vs {wanted} ... {'met' if met else 'NOT met'}", flush=True)
    return met


def target(name: str, measured: float, op: str, bound: float, *, unit: str = "", digits: int = 2,
           note: str = "") -> bool:
    """Compare ``measured`` with ``bound`` by ``op`` (``<``, ``<=``, ``>``, ``>=``) and print the line.

    ``unit`` follows each number (``x`` for ratios, `` s``, `` MB``, `` posts/s``); ``note`` says how the
    bound was derived when that is not obvious (e.g. scaled to a reduced size). The measured value gets more
    digits when ``digits`` would round it onto the other side of the bound (1.9971 against ``>= 2`` prints
    ``1.997x``, not ``2.00x ... NOT met``).
    """
    met = _OPS[op](measured, bound)
    shown = digits
    while shown < 6 and _OPS[op](round(measured, shown), bound) != met:
        shown += 1
    wanted = f"{op} {bound:,.{digits}f}{unit}" + (f" ({note})" if note else "")
    return report(name, met, f"{measured:,.{shown}f}{unit}", wanted)


def skip(name: str, why: str) -> None:
    """Say that a target (or a whole benchmark) was not measured in this run, and why."""
    print(f"SKIP {name}: {why}", flush=True)
