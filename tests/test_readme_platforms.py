"""The README's platform table says what `campaign measure` reports: limit and unit from the adapters' rules.

The expected table is generated from the installed adapters (their :class:`TextRules`); on a mismatch the
assertion message is the generated table, ready to paste (the notes column stays hand-written).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campaign import channels
from campaign.cli import main

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `([a-z0-9_-]+)` \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|")


def generated_rows() -> dict[str, tuple[str, str, str]]:
    """channel -> (platform, limit, unit) as the adapters declare them."""
    rows = {}
    for name in channels.names():
        adapter = channels.load(name)
        rules = adapter.rules
        limit = str(rules.limit) + (f" and {rules.max_bytes} bytes" if rules.max_bytes is not None else "")
        rows[name] = (adapter.title, limit, rules.unit)
    return rows


def readme_rows() -> dict[str, tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Platform rules", 1)[1].split("\n## ", 1)[0]
    return {m[1]: (m[2], m[3], m[4]) for line in section.splitlines() if (m := ROW.match(line))}


def test_readme_platform_table_matches_the_adapters() -> None:
    expected = generated_rows()
    table = "\n".join(f"| `{n}` | {p} | {lim} | {unit} |" for n, (p, lim, unit) in expected.items())
    assert readme_rows() == expected, f"README's platform table should read:\n{table}"


@pytest.mark.parametrize("name", ["slack", "linkedin", "telegram", "discord"])
def test_utf16_platforms_count_utf16_units(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An emoji outside the BMP is 2 UTF-16 units: measure, the adapter and the README agree."""
    assert main(["measure", "--channel", name, "🇭🇰a"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b5/\d+\s+UTF-16 code units", out), out
    assert readme_rows()[name][2] == "UTF-16 code units"
