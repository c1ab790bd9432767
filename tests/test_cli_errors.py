"""Every bad input: one clear line naming the file (and line or post), the right exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MINI_CAMPAIGN
from tests.helpers.cli import run_cli


def only_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("campaign: error:")]
    assert lines, err
    assert "Traceback" not in err
    return lines[0]


CASES: list[tuple[str, str, dict[str, str], list[str]]] = [
    # (case id, YAML text, templates, substrings the one error line must contain)
    (
        "malformed yaml",
        MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: [Asia/Hong_Kong"),
        {},
        ["mini.yaml:", "invalid YAML"],
    ),
    (
        "unknown channel",
        MINI_CAMPAIGN.replace("channel: mastodon", "channel: myspace"),
        {},
        ["mini.yaml:15", "unknown channel 'myspace'"],
    ),
    (
        "unknown account",
        MINI_CAMPAIGN.replace("accounts: [main_mastodon]", "accounts: [nobody]"),
        {},
        ["mini.yaml:", "unknown account 'nobody'"],
    ),
    (
        "missing template",
        MINI_CAMPAIGN.replace("key: quote", "key: quote\n    template: nothere"),
        {},
        ["post 'quote' on main_mastodon", "nothere"],
    ),
    (
        "template syntax error",
        MINI_CAMPAIGN,
        {"launch.j2": "{{ release.title }\n"},
        ["launch.j2:1", "syntax error"],
    ),
    ("undefined variable", MINI_CAMPAIGN, {"launch.j2": "{{ release.titel }}\n"}, ["launch.j2", "titel"]),
    (
        "unknown time zone",
        MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: Mars/Olympus"),
        {},
        ["mini.yaml:4", "unknown time zone 'Mars/Olympus'"],
    ),
    (
        "over limit without threads",
        MINI_CAMPAIGN.replace("threads: [x]", "threads: []"),
        {"launch.j2": "{{ release.lead }} {{ release.lead }}\n"},
        ["mini.yaml:20", "post 'launch' on main_x (x)", "> limit 280"],
    ),
    (
        "release missing",
        MINI_CAMPAIGN.replace("release: release.txt", "release: nothere.txt"),
        {},
        ["nothere.txt"],
    ),
    (
        "inline credential",
        MINI_CAMPAIGN.replace("token: MINI_X_TOKEN", "token: sk-live-abc123def456"),
        {},
        ["mini.yaml:13", "credential 'token'", "never written"],
    ),
    (
        "bad time",
        MINI_CAMPAIGN.replace('when: "+1d 10:30"', 'when: "2030-02-30 09:00"'),
        {},
        ["post 'quote'", "2030-02-30"],
    ),
]


@pytest.mark.parametrize(("case", "yaml_text", "templates", "needles"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["check", "preview"])
def test_bad_input_is_one_clear_line(
    mini: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    case: str,
    yaml_text: str,
    templates: dict[str, str],
    needles: list[str],
    command: str,
) -> None:
    path = mini(yaml_text, templates)
    code, _out, err = run_cli([command, str(path), "--now", "2030-01-01T00:00:00Z"], capsys)
    assert code == 1, (case, err)
    line = only_error_line(err)
    for needle in needles:
        assert needle in line, (case, line)
    assert "sk-live-abc123def456" not in err


def test_unreadable_release(mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = mini()
    (path.parent / "release.txt").write_bytes(b"\x00\x01\x02binary\xff")
    code, _out, err = run_cli(["check", str(path)], capsys)
    assert code == 1
    assert "release.txt" in only_error_line(err)


def test_missing_campaign_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(["check", str(tmp_path / "none.yaml")], capsys)
    assert code == 1
    assert "none.yaml" in only_error_line(err)


def test_usage_error_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(["preview", "x.yaml", "--format", "pdf"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "campaign: error: campaign preview: invalid value for '--format': 'pdf' is not one of 'text', "
        "'markdown', 'json', 'html' (see 'campaign preview --help')"
    ]


USAGE_CASES = [
    # (argv, what the one line must say): click's usage errors are one line like ours, with exit 2
    (["init"], ["campaign init: missing option '--from-release'"]),
    (["report"], ["campaign report: missing argument 'CAMPAIGN'", "(see 'campaign report --help')"]),
    (["chek", "x.yaml"], ["no such command 'chek'; did you mean 'check'?"]),
    (["zzz"], ["campaign: no such command 'zzz' (see 'campaign --help')"]),
    (["check", "--strictt", "x.yaml"], ["no such option '--strictt'", "'--strict'"]),
    (["--root"], ["option '--root' requires an argument"]),
]


@pytest.mark.parametrize(("argv", "needles"), USAGE_CASES, ids=[" ".join(argv) for argv, _ in USAGE_CASES])
def test_a_usage_error_is_one_line(
    argv: list[str], needles: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli([arg.format(tmp=tmp_path) for arg in argv], capsys)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in only_error_line(err), err


FILE_COMMANDS = [
    ["check", "{file}"],
    ["preview", "{file}"],
    ["plan", "{file}"],
    ["simulate", "{file}"],
    ["apply", "{file}", "--db", "{tmp}/q.db"],
    ["channels", "check", "{file}"],
]


@pytest.mark.parametrize(
    "command", FILE_COMMANDS, ids=[" ".join(c[: c.index("{file}")]) for c in FILE_COMMANDS]
)
def test_a_folder_or_a_missing_file_for_a_campaign_file_is_one_line_exit_1(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder where a campaign file is expected is the reader's one line, exit 1, like a missing file
    (it was Click's three-line usage message, exit 2)."""
    for given, says in (
        (tmp_path, "cannot read: is a directory"),
        (tmp_path / "none.yaml", "file not found"),
    ):
        argv = [arg.format(tmp=tmp_path, file=given) for arg in command]
        code, _out, err = run_cli(argv, capsys)
        assert code == 1, err
        assert err.splitlines() == [f"campaign: error: {given}: {says}"]


def test_a_secret_in_a_bad_option_value_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    """Click quotes the bad value back; a value holding a secret this process resolved is redacted."""
    from campaign.secrets import Credentials, SecretRef

    canary = "c4n4ry-usage-s3cret"
    Credentials({"t": SecretRef(env="T")}, account="a", environ={"T": canary}).get("t")  # resolved: held
    code, _out, err = run_cli(["preview", "x.yaml", "--format", canary], capsys)
    assert code == 2
    assert canary not in err
    assert "--format" in only_error_line(err)


def test_no_traceback_in_a_real_process(mini: Callable[..., Path]) -> None:
    path = mini(MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: Nowhere/Land"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "campaign.cli", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[0].startswith("campaign: error: ")
    assert "Traceback" not in proc.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "campaign.cli", "--debug", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Traceback" in debug.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write: ENOSPC)")
def test_a_full_disk_behind_stdout_is_one_line(mini: Callable[..., Path]) -> None:
    """Standard output on a full disk used to end in "internal error, please report it"."""
    path = mini(MINI_CAMPAIGN)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "campaign.cli", "preview", str(path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "campaign: error: cannot write to standard output (No space left on device)"
    ]


def test_a_release_warning_names_the_file_from_the_working_directory(
    mini: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Damage in the release is a warning naming the release as a compiler would: relative to the working
    directory when the release is inside it (a CI log shows ``release.txt``, not the runner's home), the
    resolved path otherwise."""
    path = mini()
    release = path.parent / "release.txt"  # the HKSTP release's copy: its '9in' is a warning
    monkeypatch.chdir(path.parent)
    code, _out, err = run_cli(["check", "mini.yaml"], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "number glued to a word" in line]
    assert warnings and warnings[0].startswith("campaign: warning: release.txt:"), err
    monkeypatch.chdir(path.parent.parent)
    code, _out, err = run_cli(["check", str(path)], capsys)
    warnings = [line for line in err.splitlines() if "number glued to a word" in line]
    assert warnings[0].startswith(f"campaign: warning: {path.parent.name}/release.txt:"), err
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    code, _out, err = run_cli(["check", str(path)], capsys)
    warnings = [line for line in err.splitlines() if "number glued to a word" in line]
    assert warnings[0].startswith(f"campaign: warning: {release.resolve()}:"), err
