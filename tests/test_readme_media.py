"""The README's media limits table names every channel, with the item count and by-URL flag it declares."""

from __future__ import annotations

import re
from pathlib import Path

from campaign.media.rules import PLATFORM_MEDIA_RULES

README = Path(__file__).resolve().parent.parent / "README.md"


def rows() -> dict[str, list[str]]:
    text = README.read_text(encoding="utf-8").split("## Media limits", 1)[1]
    found = {}
    for line in text.splitlines():
        match = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if match:
            found[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
        elif found and not line.startswith("|"):
            break
    return found


def test_media_table_matches_the_rules() -> None:
    table = rows()
    assert set(table) == set(PLATFORM_MEDIA_RULES)
    for channel, (items, *_, by_url) in table.items():
        rules = PLATFORM_MEDIA_RULES[channel]
        assert int(re.findall(r"\d+", items)[0]) == rules.max_items, channel
        assert (by_url == "yes") == rules.needs_public_url, channel
