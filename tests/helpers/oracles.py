"""Run the npm reference implementations in tests/oracles (twitter-text, @atproto/api) as test oracles.

Tests that use them carry ``@pytest.mark.oracle`` and ``requires_node_oracle``: they skip, saying why, when
Node or ``tests/oracles/node_modules`` is missing (install with ``npm ci --prefix tests/oracles``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ORACLE_DIR = Path(__file__).resolve().parents[1] / "oracles"
CORPUS = ORACLE_DIR / "corpus.jsonl"


def oracle_missing(*packages: str) -> str | None:
    """Why the npm oracles needing ``packages`` cannot run here (no Node, a package missing), or None."""
    if shutil.which("node") is None:
        return "node is not installed (the npm oracles need Node 18+)"
    for package in packages:
        if not (ORACLE_DIR / "node_modules" / package / "package.json").is_file():
            return f"tests/oracles/node_modules/{package} is missing: run `npm ci --prefix tests/oracles`"
    return None


MISSING = oracle_missing("twitter-text", "@atproto/api")
requires_node_oracle = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def run_oracle(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``requests`` (``{"op": ..., "text": ...}``) to tests/oracles/oracle.js; one answer per request."""
    stdin = "".join(json.dumps(r) + "\n" for r in requests)
    proc = subprocess.run(
        ["node", str(ORACLE_DIR / "oracle.js")],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(requests), proc.stderr
    for answer in answers:
        assert "error" not in answer, answer
    return answers


def tricky_corpus() -> list[str]:
    """The hand-written corpus of tricky texts: emoji sequences, CJK, combining marks, URLs, IDN, entities."""
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
