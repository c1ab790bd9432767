"""The benchmarks' target line (tests/benchmarks/targets.py), which `scripts/bench.sh` counts."""

from __future__ import annotations

import pytest

from tests.benchmarks.targets import target


@pytest.mark.parametrize(
    ("measured", "op", "bound", "digits", "line"),
    [
        (2.31, ">=", 2.0, 2, "TARGET t: 2.31x vs >= 2.00x ... met"),
        # Rounded to 2 digits, 1.9971 would print as 2.00x beside "NOT met": one more digit shows why.
        (3485 / 1745, ">=", 2.0, 2, "TARGET t: 1.997x vs >= 2.00x ... NOT met"),
        (4.99996, "<", 5.0, 2, "TARGET t: 4.99996x vs < 5.00x ... met"),
        (2.0, ">=", 2.0, 2, "TARGET t: 2.00x vs >= 2.00x ... met"),
        (9_999.7, ">=", 10_000, 0, "TARGET t: 9,999.7x vs >= 10,000x ... NOT met"),
    ],
)
def test_the_printed_value_is_on_the_same_side_of_the_bound_as_the_measured_one(
    capsys: pytest.CaptureFixture[str], measured: float, op: str, bound: float, digits: int, line: str
) -> None:
    assert target("t", measured, op, bound, unit="x", digits=digits) is not line.endswith("NOT met")
    assert capsys.readouterr().out == line + "\n"


def test_a_name_with_the_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        target("a: b", 1.0, ">=", 1.0)
