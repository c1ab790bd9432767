"""`campaign measure`: each platform's own count, limit and verdict, as text and as JSON lines."""

from __future__ import annotations

import io
import json

import pytest

from campaign.cli import main


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    stdin: str | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_round_trip(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [json.dumps("Hello https://example.com 🇭🇰"), json.dumps("字" * 150)]
    code, out, _ = run(
        ["measure", "--jsonl", "--channel", "x", "--channel", "bluesky", "--channel", "mastodon"],
        capsys,
        "\n".join(lines) + "\n",
        monkeypatch,
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"channel": "x", "length": 6 + 23 + 1 + 2, "limit": 280, "fits": True}
    assert rows[1] == {"channel": "bluesky", "length": 6 + 19 + 1 + 1, "limit": 300, "fits": True}
    assert rows[2] == {"channel": "mastodon", "length": 6 + 23 + 1 + 1, "limit": 500, "fits": True}
    assert rows[3] == {"channel": "x", "length": 300, "limit": 280, "fits": False}
    assert rows[4]["fits"] is True and rows[4]["length"] == 150


def test_text_table_for_all_channels(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["measure", "A draft line #HKSTP"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"x", "bluesky", "mastodon", "threads", "telegram", "linkedin"} <= set(names)
    assert "bytes" in next(line for line in out.splitlines() if line.startswith("bluesky"))


def test_bad_jsonl_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["measure", "--jsonl"], capsys, "not json\n", monkeypatch)
    assert code == 2 and "stdin line 1: not JSON" in err
    code, _, err = run(["measure", "--jsonl"], capsys, "42\n", monkeypatch)
    assert code == 2 and "expected a JSON string" in err


def test_unknown_channel(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["measure", "--channel", "myspace", "hi"], capsys)
    assert code == 1 and "unknown channel 'myspace'" in err
