"""Set-up scripts say what they are doing before every step that can take more than a few seconds.

`bash scripts/demo.sh` once printed nothing for 54 s while installing. Each slow command (creating the venv,
pip, npm, apt-get, initdb) must follow an ``echo`` that names the step, within the three lines above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SLOW = re.compile(r"-m venv|pip install|npm ci\b|apt-get (update|install)|/initdb\b")


@pytest.mark.parametrize("name", ["venv.sh", "provision.sh", "provision-browser.sh", "demo.sh"])
def test_every_slow_step_is_announced(name: str) -> None:
    lines = (SCRIPTS / name).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        code = line.split("#", 1)[0]
        if not SLOW.search(code) or "echo " in code:  # a message that names the step is not the step
            continue
        before = lines[max(0, number - 3) : number]
        assert any(re.search(r'\becho "', b) for b in before), f"{name}:{number + 1}: {line.strip()}"


def test_the_demo_says_what_it_rehearses() -> None:
    text = (SCRIPTS / "demo.sh").read_text(encoding="utf-8")
    assert 'echo "demo: rehearsing' in text
