"""`campaign preview` starts light: what it never needs is never loaded (docs/BENCHMARKS.md, bench_preview).

httpx is deferred until a request is built, the language detector until a release's language is read, and
Pillow and the preparation code until a file must be prepared. Each case runs in a fresh interpreter with a
media store of its own (``CAMPAIGN_DB``), so nothing loaded by the test process hides a regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign.source.release import parse_release
from campaign.source.release.model import DetectedLanguage

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schedules" / "hkstp-innovation-mixer-us.yaml"
RELEASE = ROOT / "releases" / "hkstp-innovation-mixer-us-2024.txt"
NOW = "2020-01-01T00:00:00Z"
#: Loaded only when something needs them: a real httpx, fastText, Pillow, the media preparation code.
DEFERRED = ("httpx._client", "fasttext", "PIL", "campaign.media.prepare")


def _run(code: str, tmp_path: Path) -> dict[str, object]:
    """Run ``code`` (it sets ``result``) in a fresh interpreter; returns ``result`` and the loaded modules."""
    script = "import json, sys\nresult = None\n" + code + (
        "\nprint(json.dumps({'result': result, 'modules': sorted(sys.modules)}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_DB": str(tmp_path / "db" / "campaign.db")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=120
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _preview(tmp_path: Path, *args: str) -> dict[str, object]:
    argv = ["preview", str(EXAMPLE), "--now", NOW, *args]
    return _run(
        "import contextlib, io\nfrom campaign.cli import main\nout = io.StringIO()\n"
        f"with contextlib.redirect_stdout(out):\n    rc = main({argv!r})\n"
        "result = {'rc': rc, 'out': out.getvalue()}",
        tmp_path,
    )


def _loaded(answer: dict[str, object], names: tuple[str, ...]) -> list[str]:
    modules = answer["modules"]
    assert isinstance(modules, list)
    return [m for m in modules if m in names or m.split(".")[0] in names]


def test_a_second_preview_of_the_example_loads_nothing_it_does_not_need(tmp_path: Path) -> None:
    first = _preview(tmp_path)  # prepares the banner into this test's media store
    result = first["result"]
    assert isinstance(result, dict) and result["rc"] == 0
    again = _preview(tmp_path)
    assert again["result"] == result  # the same preview, from the store
    assert _loaded(again, DEFERRED) == []


def test_a_preview_with_requests_still_builds_them_with_httpx(tmp_path: Path) -> None:
    answer = _preview(tmp_path, "--requests")
    result = answer["result"]
    assert isinstance(result, dict) and result["rc"] == 0
    assert "POST https://" in result["out"]
    assert _loaded(answer, ("httpx._client",)) == ["httpx._client"]


def test_parsing_a_release_leaves_the_language_detector_unloaded_until_the_language_is_read(
    tmp_path: Path,
) -> None:
    answer = _run(
        "from campaign.source.release import load_release\n"
        f"release = load_release({str(RELEASE)!r})\n"
        "before = 'fasttext' in sys.modules\n"
        "result = [before, release.language, 'fasttext' in sys.modules, release.to_dict()['language']]",
        tmp_path,
    )
    assert answer["result"] == [False, "en", True, "en"]


@pytest.mark.parametrize(
    ("text", "language", "notice"),
    [
        ("Acme ships\n\nThe new version of Acme is faster and easier to use than ever before.", "en", False),
        ("Acme\n\nShort.", None, True),  # too few letters: no detector is asked, and a notice says so
        ("---\nlanguage: de\n---\nAcme\n\nShort.", "de", False),  # the front matter's word is taken
    ],
)
def test_the_language_read_later_is_what_the_parse_would_have_found(
    text: str, language: str | None, notice: bool
) -> None:
    release = parse_release(text)
    assert release.language == language
    assert release.to_dict()["language"] == language
    told = any("language could not be told" in n.message for n in release.notices)
    assert told is notice


def test_a_detected_language_compares_by_its_value() -> None:
    calls: list[str] = []

    def detect(sample: str) -> str | None:
        calls.append(sample)
        return "en"

    found = DetectedLanguage("some text", detect)
    assert calls == []  # nothing detected until asked
    assert found == "en" and found == DetectedLanguage("other", lambda _: "en") and found != "de"
    assert hash(found) == hash("en") and found.get() == "en"
    assert calls == ["some text"]  # detected once
