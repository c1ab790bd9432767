"""The HKSTP release's `release show` output, byte for byte (text with its warnings, and JSON), as it was
before the Portuguese datelines, slashed dates and ambiguous-place notices were added. Hashes, not the
text: the release is a published one and its text stays out of the tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RELEASE = "releases/hkstp-innovation-mixer-us-2024.txt"  # relative: `source` is the path as given

EXPECTED = {
    ("text", "stdout"): "7d8aefb9c13c48b4240775c68cbf76fd15a700bccaa2183920aec3e021689847",
    ("text", "stderr"): "bc56bd0dc88beb3105a328d9ecb0ca8ca4f1df36276ed0490338e17489a931bb",
    ("json", "stdout"): "403194f2921d439c1ceaf33ecd65ff9abc43b01a76be2245585b666c0c1cb40f",
    ("json", "stderr"): "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # nothing
}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_hkstp_release_show_is_byte_identical(fmt: str) -> None:
    if not (ROOT / RELEASE).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{RELEASE} is missing")
        pytest.skip(f"{RELEASE} not present")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "campaign.cli", "release", "show", "--format", fmt, RELEASE],
        cwd=ROOT, capture_output=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    assert hashlib.sha256(proc.stdout).hexdigest() == EXPECTED[(fmt, "stdout")]
    assert hashlib.sha256(proc.stderr).hexdigest() == EXPECTED[(fmt, "stderr")]
