"""Hostile and careless command lines: each is one clear line on stderr, a non-zero exit, no traceback.

Every case runs through :func:`campaign.cli.main` (as the console script does) or, where the bytes of argv
or stdin matter, as a real subprocess. ``main()`` turns an exception outside :mod:`campaign.errors` into
one "internal error" line; the cases assert that line never appears, so a bug behind one of them fails here
rather than hiding behind the guard. A hypothesis test fuzzes the options of the commands the same way.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.cli import INTERNAL_ERROR, main
from tests.conftest import MINI_CAMPAIGN

ROOT = Path(__file__).resolve().parent.parent
NOW = "2030-01-01T00:00:00Z"


@dataclass(frozen=True)
class Case:
    """One command line; ``{dir}`` in args or ``yaml`` edits names the project folder."""

    id: str
    args: list[str]
    #: (old, new) replacements applied to the mini campaign before the command runs.
    edits: tuple[tuple[str, str], ...] = ()
    #: Substrings the one error line must contain.
    needles: tuple[str, ...] = ()
    #: Exit code, when it matters (usage errors are 2).
    code: int | None = None
    #: Files that must not exist afterwards ({dir}-relative).
    absent: tuple[str, ...] = ()
    stdin: bytes | None = None
    subprocess: bool = False
    argv_bytes: tuple[bytes, ...] = field(default=())


def _quote_override(value: str) -> tuple[tuple[str, str], ...]:
    old = "    accounts: [main_mastodon]\n"
    return ((old, f"{old}    overrides:\n      main_mastodon:\n        vars: {value}\n"),)


def _quote_media(name: str) -> tuple[tuple[str, str], ...]:
    """The quote post (one account) given one image named ``name`` (YAML double-quoted escapes)."""
    old = "    accounts: [main_mastodon]\n"
    return ((old, f'{old}    media: [{{file: "{name}", alt: x}}]\n'),)


#: Ten anchors, each a list of ten aliases of the one before: 10**10 values in about 400 bytes.
_LAUGHS = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


CASES = [
    # -- overflowing dates and durations
    Case("post offset +99999999d", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: "+99999999d"'),), ("'+99999999d'", "outside the calendar")),
    Case("post offset 10**20 weeks", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: "+99999999999999999999w"'),), ("outside the calendar",)),
    Case("start at the end of time", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('start: "2030-03-02 09:00"', 'start: "9999-12-31 23:00"'),), ("too far in the future",)),
    Case("late_window 99999999999999w", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", "late_window: 99999999999999w\nlink: https"),),
         ("mini.yaml:", "longer than 100 years")),
    Case("check --start +99999999w", ["check", "{dir}/mini.yaml", "--start", "+99999999w", "--now", NOW],
         needles=("outside the calendar",)),
    Case("preview --start +99999999w", ["preview", "{dir}/mini.yaml", "--start", "+99999999w", "--now", NOW],
         needles=("outside the calendar",)),
    Case("plan --start +99999999w", ["plan", "{dir}/mini.yaml", "--start", "+99999999w", "--now", NOW,
                                     "--db", "{dir}/plan.db"], needles=("outside the calendar",)),
    Case("simulate --start +99999999w",
         ["simulate", "{dir}/mini.yaml", "--start", "+99999999w", "--now", NOW],
         needles=("outside the calendar",)),
    # -- numbers longer than Python's int() reads (4,300 digits), rules that never advance, names too long
    Case("a 5,000-digit number in vars", ["check", "{dir}/mini.yaml", "--now", NOW],
         _quote_override("{n: " + "9" * 5000 + "}"), ("mini.yaml:", "5000 characters long is too large")),
    Case("a 5,000-digit offset", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: "+' + "9" * 5000 + 'd"'),), ("outside the calendar",)),
    Case("a 5,000-digit cron minute", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: {cron: "' + "9" * 5000 + ' * * * *", count: 2}'),),
         ("mini.yaml:", "out of range")),
    Case("a 5,000-digit late_window", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", "late_window: " + "9" * 5000 + "h\nlink: https"),), ("longer than 100 years",)),
    Case("a superscript digit in a late_window", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", "late_window: \u00b2h\nlink: https"),), ("mini.yaml:",)),
    Case("rrule INTERVAL=0", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: {rrule: "FREQ=DAILY;INTERVAL=0", count: 3}'),),
         ("INTERVAL must be a whole number of at least 1",)),
    Case("rrule INTERVAL=-1", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: {rrule: "FREQ=WEEKLY;INTERVAL=-1", count: 3}'),),
         ("INTERVAL must be",)),
    Case("a zone name of 300 characters", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("zone: Asia/Hong_Kong", "zone: " + "A" * 300),), ("mini.yaml:4: unknown time zone",)),
    Case("an embargo at the end of the calendar", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", 'embargo: "9999-12-31T23:59:59-12:00"\nlink: https'),), ("outside the calendar",)),
    Case("a start that is a number", ["check", "{dir}/mini.yaml", "--now", NOW],
         (('start: "2030-03-02 09:00"', "start: 12"),), ("mini.yaml:5: start: invalid time '12'",)),
    Case("an embargo that is no time", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", "embargo: garbage\nlink: https"),), ("mini.yaml:7: embargo: 'garbage' is not",)),
    Case("check --start garbage", ["check", "{dir}/mini.yaml", "--start", "garbage", "--now", NOW],
         needles=("mini.yaml: --start: invalid time 'garbage'",)),
    Case("an instance that is a number", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("instance: https://mastodon.example", "instance: 12"),),
         ("mini.yaml:16: setting 'instance' of account 'main_mastodon': must be a URL, not a number",)),
    Case("an instance IDNA 2003 would map", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("instance: https://mastodon.example", "instance: https://\uff4dastodon.example"),),
         ("mini.yaml:16:", "invalid international host name")),
    Case("aliases of aliases (a billion laughs)", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", _LAUGHS + "link: https"),), ("mini.yaml:15: aliases repeat the anchor here",)),
    Case("two chains of aliases", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", _LAUGHS.replace("l", "m") + _LAUGHS + "link: https"),), ("aliases repeat",)),
    Case("a NUL in a media file name", ["check", "{dir}/mini.yaml", "--now", NOW],
         _quote_media("a\\0b.png"),
         ("a\\x00b.png",)),
    Case("terminal escapes in a media file name", ["check", "{dir}/mini.yaml", "--now", NOW],
         _quote_media("a\\e]8;;x\\a\\u202eb.png"),
         ("a\\x1b]8;;x\\x07\\u202eb.png",)),
    Case("a new line in an unknown key", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", '"x\\ny\\r\\tz": 1\nlink: https'),), ("'x\\ny\\r\\tz'",)),
    Case("a NUL in the YAML", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("link: https", "# a \x00 here\nlink: https"),), ("mini.yaml:", "#x0000 is not allowed")),
    Case("an include of a missing template", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("  - key: quote\n", "  - key: quote\n    text: \"{% include 'nope.j2' %}\"\n"),),
         ("template 'nope.j2' not found",)),
    # -- vars of the wrong type
    Case("override vars a string", ["check", "{dir}/mini.yaml", "--now", NOW], _quote_override('"abc"'),
         ("mini.yaml:", "'vars' of override 'main_mastodon'")),
    Case("override vars a list", ["check", "{dir}/mini.yaml", "--now", NOW], _quote_override("[1, 2]"),
         ("'vars' of override",)),
    Case("override vars a list of pairs", ["check", "{dir}/mini.yaml", "--now", NOW],
         _quote_override("[[a, b]]"), ("'vars' of override",)),
    Case("post vars a string", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("    accounts: [main_mastodon]\n", "    accounts: [main_mastodon]\n    vars: nope\n"),),
         ("'vars' of post 'quote'",)),
    # -- text that is not Unicode
    Case("measure a lone surrogate", ["measure", "a\udcffb"], needles=("lone surrogate",), code=2),
    Case("measure --jsonl an escaped surrogate", ["measure", "--jsonl"], stdin=b'"\\ud800"\n',
         needles=("stdin line 1", "lone surrogate"), code=2, subprocess=True),
    Case("measure invalid UTF-8 on stdin", ["measure"], stdin=b"ab\xff\xfe\n", needles=("not UTF-8", "0xff"),
         code=2, subprocess=True),
    Case("measure --jsonl 100,000 brackets", ["measure", "--jsonl"], stdin=b'"ok"\n' + b"[" * 100_000 + b"\n",
         needles=("stdin line 2", "nested too deeply"), code=2, subprocess=True),
    Case("measure --jsonl invalid UTF-8", ["measure", "--jsonl"], stdin=b'"ok"\n"\xc3"\n',
         needles=("stdin line 2", "not UTF-8"), code=2, subprocess=True),
    Case("measure invalid UTF-8 in argv", ["measure"], argv_bytes=(b"caf\xe9",), needles=("lone surrogate",),
         code=2, subprocess=True),
    # -- databases
    Case("--db unknown scheme", ["status", "--db", "foo://x/y"], needles=("unknown database kind 'foo'",)),
    Case("--db missing driver", ["status", "--db", "mysql://u@localhost/q"],
         needles=("driver", "not installed")),
    Case("--db missing async driver", ["status", "--db", "postgresql+asyncpg://u@localhost/q"],
         needles=("not installed",)),
    Case("--db not a URL", ["status", "--db", "://"], needles=("not a database URL",)),
    Case("status on a typo creates nothing", ["status", "--db", "{dir}/typo/dir/x.db"],
         needles=("no queue database here",), absent=("typo",)),
    Case("show on a typo creates nothing", ["show", "1", "--db", "{dir}/typo.db"],
         needles=("no queue database here",), absent=("typo.db",)),
    Case("cancel on a typo creates nothing", ["cancel", "1", "--db", "{dir}/typo.db"],
         needles=("no queue database here",), absent=("typo.db",)),
    Case("preview --db on a typo", ["preview", "{dir}/mini.yaml", "--now", NOW, "--db", "{dir}/typo.db"],
         needles=("no queue database here",), absent=("typo.db",)),
    Case("db copy from a typo",
         ["db", "copy", "--from", "{dir}/typo.db", "--to", "{dir}/queue.db", "--force"],
         needles=("typo.db", "no queue database here"), absent=("typo.db",)),
    Case("plan against a typo creates nothing",
         ["plan", "{dir}/mini.yaml", "--now", NOW, "--db", "{dir}/t/q.db", "--start", "garbage"],
         needles=("invalid",), absent=("t",)),
    Case("show on an empty file", ["show", "1", "--db", "{dir}/empty.db"],
         needles=("holds no campaign queue",)),
    # -- numbers out of range
    Case("show 10**23", ["show", "99999999999999999999999", "--db", "{dir}/queue.db"],
         needles=("POST_ID",), code=2),
    Case("cancel 10**23", ["cancel", "99999999999999999999999", "--db", "{dir}/queue.db"], code=2),
    Case("retry 0", ["retry", "0", "--db", "{dir}/queue.db"], code=2),
    Case("status --limit 10**20", ["status", "--limit", "99999999999999999999", "--db", "{dir}/queue.db"],
         code=2),
    Case("daemon --lease inf", ["daemon", "--once", "--lease", "inf", "--db", "{dir}/queue.db"],
         needles=("--lease",), code=2),
    Case("daemon --tick nan", ["daemon", "--once", "--tick", "nan", "--db", "{dir}/queue.db"],
         needles=("--tick", "not a finite number"), code=2),
    Case("daemon --grace -inf", ["daemon", "--once", "--grace", "-inf", "--db", "{dir}/queue.db"], code=2),
    Case("daemon --alert-interval 1e300", ["daemon", "--once", "--alert-interval", "1e300", "--db",
                                           "{dir}/queue.db"], code=2),
    Case("simulate --speed nan", ["simulate", "{dir}/mini.yaml", "--speed", "nan"], code=2),
    # -- files that are not files
    Case("-o into a missing folder", ["preview", "{dir}/mini.yaml", "--now", NOW, "-o", "{dir}/no/such/x.md"],
         needles=("-o", "does not exist"), code=2),
    Case("-o html into a missing folder", ["preview", "{dir}/mini.yaml", "--now", NOW, "--format", "html",
                                           "-o", "{dir}/no/x.html"], needles=("does not exist",), code=2),
    Case("release is /dev/zero", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("release: release.txt", "release: /dev/zero"),), ("mini.yaml:2", "/dev/zero")),
    Case("release is a FIFO", ["check", "{dir}/mini.yaml", "--now", NOW],
         (("release: release.txt", "release: fifo.yaml"),), ("mini.yaml:2", "fifo.yaml")),
    Case("init from /dev/zero", ["init", "--from-release", "/dev/zero", "--dir", "{dir}/new"],
         needles=("/dev/zero", "not a regular file"), absent=("new",)),
    Case("release show /dev/zero", ["release", "show", "/dev/zero"], needles=("not a regular file",)),
    # a folder or a missing path: one line and exit 1, as `check` says of a missing campaign file
    Case("release show a folder", ["release", "show", "{dir}"], needles=("{dir}: is a directory",), code=1),
    Case("release show a missing file", ["release", "show", "{dir}/no.txt"],
         needles=("{dir}/no.txt: release file not found",), code=1),
    Case("init from a folder", ["init", "--from-release", "{dir}", "--dir", "{dir}/new"],
         needles=("{dir}: is a directory",), code=1, absent=("new",)),
    Case("init from a missing file", ["init", "--from-release", "{dir}/no.txt", "--dir", "{dir}/new"],
         needles=("{dir}/no.txt: release file not found",), code=1, absent=("new",)),
    Case("check a missing campaign file", ["check", "{dir}/no.yaml"],
         needles=("{dir}/no.yaml: file not found",), code=1),
    Case("campaign file is /dev/zero", ["check", "/dev/zero"], needles=("not a regular file",)),
    Case("campaign file is a FIFO", ["check", "{dir}/fifo.yaml"], needles=("not a regular file",)),
    # -- wrong exit codes
    Case("rrule that never fires, --strict", ["check", "--strict", "{dir}/mini.yaml", "--now", NOW],
         (('when: "+1d 10:30"', 'when: {rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}'),),
         ("post 'quote' has no occurrence",)),
    Case("init --zone Mars/X", ["init", "--from-release", "{dir}/release.txt", "--dir", "{dir}/new",
                                "--zone", "Mars/X"], needles=("unknown time zone 'Mars/X'",), code=2,
         absent=("new",)),
    Case("init --start garbage", ["init", "--from-release", "{dir}/release.txt", "--dir", "{dir}/new",
                                  "--start", "garbage"], needles=("invalid time 'garbage'",), code=2,
         absent=("new",)),
    # -- a campaign name reused by a second file
    Case("second file reusing a name: check", ["check", "{dir}/mini.yaml", "--now", NOW],
         needles=("campaign name 'mini'", "mini.yaml", "other.yaml")),
    Case("second file reusing a name: apply", ["apply", "{dir}/other.yaml", "--now", NOW, "--db",
                                               "{dir}/queue.db"], needles=("other.yaml", "mini.yaml")),
]


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """`daemon` configures the root logger (its handler holds this test's stderr): put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def project(mini: Callable[..., Path]) -> Path:
    """The mini campaign's folder, with an applied queue (queue.db), an empty file and a FIFO."""
    folder = mini().parent
    assert main(["apply", str(folder / "mini.yaml"), "--now", NOW, "--db", str(folder / "queue.db")]) == 0
    (folder / "empty.db").touch()
    os.mkfifo(folder / "fifo.yaml")
    return folder


def run_case(case: Case, folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    if not case.subprocess:
        try:
            code = main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, capsys.readouterr().err
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv: list[str | bytes] = [sys.executable, "-m", "campaign.cli", *args, *case.argv_bytes]
    proc = subprocess.run(argv, input=case.stdin or b"", capture_output=True, env=env, timeout=120)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


#: How the one line starts: our errors and Click's usage errors.
ERROR_PREFIXES = ("campaign: error:", "Error:")


def assert_one_clear_line(code: int, err: str) -> str:
    """The one error line (or, for `check --strict` failing on warnings, the warning that failed it: other
    warnings, such as a release's damage notices, may precede it)."""
    assert code != 0, err
    assert "Traceback" not in err, err
    assert INTERNAL_ERROR not in err, err
    lines = [line for line in err.splitlines() if line.startswith(ERROR_PREFIXES)]
    if not lines:
        warned = [line for line in err.splitlines() if line.startswith("campaign: warning:")]
        lines = [line for line in warned if "post" in line]
    assert len(lines) == 1, err
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", err), err  # shown escaped
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_clear_line(
    case: Case, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "mini.yaml"
    text = MINI_CAMPAIGN
    for old, new in case.edits:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    if case.id.startswith("second file"):
        other = MINI_CAMPAIGN.replace("main_x", "other_x").replace("MINI_X_TOKEN", "OTHER_X_TOKEN")
        (project / "other.yaml").write_text(other, encoding="utf-8")
    before = (project / "queue.db").stat().st_mtime_ns
    code, err = run_case(case, project, capsys)
    line = assert_one_clear_line(code, err)
    if case.code is not None:
        assert code == case.code, err
    for needle in case.needles:
        assert needle.replace("{dir}", str(project)) in line, (needle, line)
    for name in case.absent:
        assert not (project / name).exists(), name
    if case.id.startswith("second file"):
        assert (project / "queue.db").stat().st_mtime_ns == before  # nothing re-routed or cancelled


@pytest.mark.parametrize(
    "args",
    [["release", "show", "{dir}"], ["release", "show", "{dir}/no.txt"], ["init", "--from-release", "{dir}"],
     ["init", "--from-release", "{dir}/no.txt"], ["release", "show", "{dir}/"]],
)  # fmt: skip
def test_a_folder_or_missing_release_is_our_line_not_a_usage_message(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if args[0] == "init":
        args = [*args, "--dir", "{dir}/new"]
    code = main([a.replace("{dir}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"campaign: error: {tmp_path}"), err
    assert "Usage:" not in err and not (tmp_path / "new").exists()


def test_the_table_covers_the_issue() -> None:
    """The 39 inputs of issue 11 that ended in a traceback (and the rest of its operator list) are cases."""
    assert len(CASES) >= 39


# -- fuzzing the options --------------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-1", "0", "1e300", "9" * 23, "", " ", "x"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_TIMES = st.one_of(
    st.sampled_from(["+99999999w", "-99999999d", "+0d 25:00", "9999-12-31 23:59", "0001-01-01 00:00",
                     "+1d 09:00", "next free slot", "2030-02-30 09:00", "+1x", "+9999999999999999999h"]),
    st.from_regex(r"\A[+-][0-9]{1,22}[wdhm]( [0-9]{1,3}:[0-9]{1,3})?\Z"),
    st.text(max_size=20),
)
_OPTIONS: list[tuple[list[str], str, st.SearchStrategy[str]]] = [
    (["daemon", "--once", "--db", "{dir}/queue.db"], "--tick", _NUMBERS),
    (["daemon", "--once", "--db", "{dir}/queue.db"], "--lease", _NUMBERS),
    (["daemon", "--once", "--db", "{dir}/queue.db"], "--concurrency", _NUMBERS),
    (["daemon", "--once", "--db", "{dir}/queue.db"], "--alert-interval", _NUMBERS),
    (["status", "--db", "{dir}/queue.db"], "--limit", _NUMBERS),
    (["check", "{dir}/mini.yaml", "--now", NOW], "--start", _TIMES),
    (["preview", "{dir}/mini.yaml", "--format", "json"], "--now", st.one_of(_TIMES, st.datetimes().map(str))),
    # Not --speed: any small finite speed is valid and rehearses in real time, by design.
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    choice=st.integers(min_value=0, max_value=len(_OPTIONS) - 1),
    value=st.data(),
)
def test_fuzzed_options_never_end_in_a_traceback(
    choice: int, value: st.DataObject, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, option, values = _OPTIONS[choice]
    text = value.draw(values)
    if "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text):
        text = text.replace("\x00", "")
    args = [a.replace("{dir}", str(project)) for a in base]
    if base[0] == "daemon":
        args += ["--dry-run"]
    try:
        code = main([*args, f"{option}={text}"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    _out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert INTERNAL_ERROR not in err, err
    if code != 0:
        errors = [line for line in err.splitlines() if line.startswith(ERROR_PREFIXES)]
        assert errors, err
