"""The operator's view of the daemon: one broken campaign file never stops the others, `daemon --once` says
what it did and exits non-zero when something waits for a person, and a fixed file is picked up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campaign.channels.base import Adapter
from campaign.dispatch.campaigns import CampaignDirectory
from campaign.dispatch.daemon import Daemon, DaemonTiming
from campaign.dispatch.decide import CUT_OFF
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher, Outcome
from campaign.dispatch.summary import PassSummary, PassTally, StopReport
from campaign.queue.store import Store
from tests.helpers.queue import planned

HOOKS = """\
campaign: {name}
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
accounts:
  w1:
    channel: webhook
    url: https://hooks.example/in
posts:
  - key: hello
    text: "Hello"
    when: "+0d 09:00"
    accounts: [w1]
"""


#: The zone queue_helpers.planned() writes posts in.
POST_ZONE = planned().zone


def write(folder: Path, name: str, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text if text is not None else HOOKS.format(name=name), encoding="utf-8")
    return path


def queue(db: Path, campaign: str, *keys: str, at: datetime) -> list[int]:
    posts = [planned(k, campaign=campaign, account="w1", channel="webhook", at=at) for k in keys]
    with Store.open(str(db)) as store:
        return list(store.apply_changes(add=posts, now=at - timedelta(days=1)).added)


def once(db: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from campaign.cli import main; sys.exit(main())",
         "daemon", "--once", "--dry-run", "--no-metrics", "--db", str(db), "--campaigns", str(folder)],
        capture_output=True, text=True, timeout=120,
    )


def test_once_sends_the_good_campaigns_reports_the_broken_file_and_exits_1(tmp_path: Path) -> None:
    folder, db = tmp_path / "schedules", tmp_path / "q.db"
    write(folder, "good")
    write(folder, "bad", "campaign: bad\nzone: Mars/Olympus\n")
    due = datetime.now(UTC) - timedelta(minutes=1)
    sent = queue(db, "good", "a", "b", at=due)
    queue(db, "bad", "c", at=due)
    result = once(db, folder)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "campaign file skipped" in result.stderr and "bad.yaml" in result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("daemon --once:")]
    assert f"{len(sent)} sent" in line and "1 campaign file skipped" in line, line


def test_once_says_what_it_did_and_exits_0_when_nothing_waits_for_a_person(tmp_path: Path) -> None:
    folder, db = tmp_path / "schedules", tmp_path / "q.db"
    write(folder, "good")
    now = datetime.now(UTC)
    queue(db, "good", "a", "b", "c", at=now - timedelta(minutes=1))
    later = now + timedelta(days=30)
    queue(db, "good", "later", at=later)
    result = once(db, folder)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("daemon --once:")]
    local = later.astimezone(ZoneInfo(POST_ZONE))  # the zone the post was written in
    assert line == f"daemon --once: 3 sent; next due {local:%Y-%m-%d %H:%M %Z} ({later:%H:%M} UTC)", line


def test_once_exits_1_when_due_posts_wait_for_a_campaign_file_nobody_loaded(tmp_path: Path) -> None:
    """Posts queued for a campaign no loaded file defines are deferred with an ERROR each pass. The pass
    used to end "4 deferred" with exit 0, so cron saw success while nothing could ever be sent."""
    folder, db = tmp_path / "schedules", tmp_path / "q.db"
    write(folder, "good")
    queue(db, "gone", "a", "b", at=datetime.now(UTC) - timedelta(minutes=1))
    result = once(db, folder)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("daemon --once:")]
    assert line.startswith(
        "daemon --once: 2 deferred until a person fixes their campaign file or credentials (see the log)"
    ), line
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("root_logging_restored")  # the in-process CLI installs its log handler on stderr
def test_once_cut_short_by_the_queue_says_so_and_exits_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The queue stops answering during a pass (another process holds the write lock past the busy timeout):
    each claim fails. The pass used to end with "nothing was due" and exit 0, so cron and CI saw success
    while due posts waited. Now its line says nothing was sent, and the command ends with the queue's error
    in one line and that error's exit code. The posts stay queued for the next pass."""
    from campaign.cli import main
    from campaign.errors import DatabaseLockedError, StoreError

    folder, db = tmp_path / "schedules", tmp_path / "q.db"
    write(folder, "good")
    ids = queue(db, "good", "a", "b", at=datetime.now(UTC) - timedelta(minutes=1))
    message = f"{db}: database is locked by another process (database is locked)"

    def locked(self: Store, *args: object, **kw: object) -> object:
        raise DatabaseLockedError(message)

    monkeypatch.setattr(Store, "claim_due", locked)
    code = main(["daemon", "--once", "--no-metrics", "--db", str(db), "--campaigns", str(folder)])
    out, err = capsys.readouterr()
    assert code == DatabaseLockedError.exit_code == StoreError.exit_code != 0
    (line,) = [line for line in out.splitlines() if line.startswith("daemon --once:")]
    assert line.startswith("daemon --once: nothing was sent; next due "), line
    assert f"campaign: error: {message}" in err and "Traceback" not in err
    monkeypatch.undo()
    with Store.open(str(db)) as store:
        assert {store.get_post(i).status for i in ids} == {"scheduled"}


def _outcome(post_id: int, outcome: str, **kw: object) -> Outcome:
    at = datetime(2027, 1, 19, 1, 0, tzinfo=UTC)
    return Outcome(post_id, "c", f"p{post_id}", "", "x", "a", outcome, at, 1, **kw)  # type: ignore[arg-type]


def test_summary_line_and_exit_codes() -> None:
    retry_at = datetime(2027, 1, 19, 2, 5, tzinfo=UTC)
    outcomes = [
        _outcome(1, "sent"), _outcome(2, "sent"), _outcome(3, "sent"),
        _outcome(4, "retry", next_attempt_at=retry_at),
    ]
    nxt = (datetime(2027, 1, 19, 1, 0, tzinfo=UTC), "Asia/Hong_Kong")
    summary = PassSummary(PassTally.of(outcomes), next_due=nxt, zone_of=lambda _c: "Asia/Hong_Kong")
    assert summary.line() == (
        "3 sent, 1 waiting to retry at 10:05 HKT; next due 2027-01-19 09:00 HKT (01:00 UTC)"
    )
    assert summary.exit_code == 0  # the daemon retries by itself
    for needing in ("failed", "unknown", "missed"):
        assert PassSummary(PassTally.of([*outcomes, _outcome(5, needing)])).exit_code == 1
    # the last outcome of a post counts: a retry that then failed is a failure
    retried = PassSummary(
        PassTally.of([_outcome(1, "retry", next_attempt_at=retry_at), _outcome(1, "failed")])
    )
    assert retried.counts == {"failed": 1} and retried.tally.retries == {}
    assert retried.line() == "1 failed; nothing else is queued"
    assert PassSummary().line() == "nothing was due; nothing else is queued"
    assert PassSummary(broken_files={"x.yaml": "bad"}).exit_code == 1
    blocked = PassSummary(PassTally.of([_outcome(6, "deferred", needs_a_person=True)]))
    assert blocked.exit_code == 1 and blocked.counts == {"blocked": 1}
    assert PassSummary(PassTally.of([_outcome(6, "deferred")])).exit_code == 0  # a rate limit, a queue retry


def test_a_next_due_time_in_utc_is_named_once() -> None:
    nxt = (datetime(2027, 1, 19, 9, 0, tzinfo=UTC), "UTC")
    assert PassSummary(next_due=nxt).line() == "nothing was due; next due 2027-01-19 09:00 UTC"


def test_the_summary_keeps_the_earliest_retry_of_the_posts_still_waiting() -> None:
    early, late = datetime(2027, 1, 19, 1, 0, tzinfo=UTC), datetime(2027, 1, 19, 3, 0, tzinfo=UTC)
    tally = PassTally.of([
        _outcome(1, "retry", next_attempt_at=early), _outcome(2, "retry", next_attempt_at=late),
        _outcome(1, "sent"),  # post 1 went out after all: post 2's time is the one to show
        _outcome(3, "retry"),  # a retry without a time adds to the count only
    ])
    assert tally.retries == {2: (late, "c"), 3: (None, "c")}
    assert tally.pending == {2: "retry", 3: "retry"}  # post 1 ended sent: counted, not kept
    assert PassSummary(tally).line() == "1 sent, 2 waiting to retry at 03:00 UTC; nothing else is queued"


def test_a_pass_over_a_backlog_keeps_nothing_per_sent_post() -> None:
    """``daemon --once`` over a backlog: final outcomes are counted, not kept (its memory stays flat:
    ``bench_backlog_memory``)."""
    tally = PassTally()
    for post_id in range(1, 10_001):
        tally(_outcome(post_id, "sent"))
    tally(_outcome(10_001, "deferred"))
    assert tally.counts == {"sent": 10_000, "deferred": 1}
    assert tally.pending == {10_001: "deferred"} and tally.retries == {}


def test_a_stop_report_names_what_the_grace_period_left_unknown() -> None:
    """A signal-stopped daemon's report: silent and exit 0 after a clean stop; otherwise one line with the
    count, the ids (ten, then "and N more") and the grace, and exit 1. Only ``unknown`` outcomes count."""
    seen: list[Outcome] = []
    report = StopReport(grace=20, then=seen.append)  # the dispatcher's own on_outcome still sees everything
    for outcome in ("sent", "deferred", "released", "retry"):
        report(_outcome(1, outcome))
    # A post already unknown whose lookup ended during the grace period was not cut off by the stop.
    report(_outcome(2, "unknown", detail="no answer from its lookup: a person must check"))
    assert report.unknown == [] and report.exit_code == 0
    report(_outcome(7, "unknown", detail=CUT_OFF))
    assert report.exit_code == 1 and len(seen) == 6
    assert report.line().startswith(
        "daemon stopped with 1 post unknown (id 7): its request was in flight when it stopped "
        "(--grace 20 s) and may have published; the next start re-examines it"
    )
    for post_id in range(30, 18, -1):
        report(_outcome(post_id, "unknown", detail=CUT_OFF))
    assert "13 posts unknown (ids 7, 19, 20, 21, 22, 23, 24, 25, 26, 27 and 3 more): their requests were" in (
        report.line()
    )


def test_a_name_declared_by_two_files_routes_to_neither(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    write(folder, "first", HOOKS.format(name="same"))
    write(folder, "second", HOOKS.format(name="same").replace("hooks.example", "evil.example"))
    directory = CampaignDirectory(folder=folder, placeholder=True)
    assert "same" not in directory.campaigns
    assert set(directory.errors) == {str(folder / "first.yaml"), str(folder / "second.yaml")}
    assert all("first.yaml" in e and "second.yaml" in e for e in directory.errors.values())


def test_a_file_that_meets_a_bug_is_skipped_and_the_others_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One broken file stops nothing else, also when what breaks it is a bug (it used to be a 300-character
    zone name's OSError): the daemon's directory and ``campaign status`` list that file as broken, in one
    line, and load the rest."""
    import campaign.source.config as config
    from campaign.source.names import scan_folder

    folder = tmp_path / "schedules"
    write(folder, "good")
    bad = write(folder, "bad")
    real = config.load_campaign

    def load(path: str | Path, *args: object, **kw: object) -> object:
        if Path(path) == bad:
            raise OSError(36, "File name too long")
        return real(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(config, "load_campaign", load)
    directory = CampaignDirectory(folder=folder, placeholder=True)
    assert set(directory.campaigns) == {"good"}
    expected = {str(bad): f"{bad}: internal error (OSError); please report it"}
    assert directory.errors == expected
    names, broken = scan_folder(folder)
    assert set(names) == {"good"} and broken == expected


def test_a_fixed_file_is_picked_up_by_the_running_daemon(tmp_path: Path) -> None:
    """The safety tick notices the changed file (no queue change needed) and wakes the dispatcher."""
    folder, db = tmp_path / "schedules", tmp_path / "q.db"
    broken = write(folder, "late", "campaign: late\nzone: Mars/Olympus\n")
    clock_now = datetime(2030, 3, 2, 2, 0, tzinfo=UTC)
    (post_id,) = queue(db, "late", "hello", at=clock_now - timedelta(minutes=5))

    async def scenario() -> list[str]:
        with Store.open(str(db)) as store:
            directory = CampaignDirectory(folder=folder, placeholder=True, clock=lambda: clock_now)
            assert str(broken) in directory.errors
            seen: list[Outcome] = []
            dispatcher = Dispatcher(
                store, directory, DispatchConfig(owner="t", dry_run=True), clock=lambda: clock_now,
                on_outcome=seen.append,
            )
            daemon = Daemon(store, dispatcher, directory, timing=DaemonTiming(tick=0.05),
                            clock=lambda: clock_now)
            await dispatcher.dispatch_due(clock_now)
            assert [o.outcome for o in seen] != ["sent"]  # waits: its file is broken
            write(folder, "late")  # the operator fixes the file
            daemon._revision = store.queue_revision()
            await daemon._tick()
            assert daemon._wake.is_set() and not directory.errors and "late" in directory.campaigns
            await dispatcher.dispatch_due(clock_now + timedelta(hours=1))
            return [o.outcome for o in seen if o.post_id == post_id]

    outcomes = asyncio.run(scenario())
    assert outcomes[-1] == "sent", outcomes


def test_adapters_of_a_removed_campaign_are_let_go(tmp_path: Path) -> None:
    """A daemon that runs for months sees campaign files come and go: the adapters (and resolved secrets) of
    one removed, or of an account it no longer has, are dropped at the reload; the others are kept."""
    import os
    import weakref

    folder = tmp_path / "schedules"
    write(folder, "stays")
    gone = write(folder, "goes")
    directory = CampaignDirectory(folder=folder, placeholder=True)
    kept = directory.adapter("stays", "w1")
    dropped = weakref.ref(directory.adapter("goes", "w1"))
    gone.unlink()
    assert directory.refresh_if_changed() and set(directory.campaigns) == {"stays"}
    assert dropped() is None
    assert directory.adapter("stays", "w1") is kept
    renamed = weakref.ref(kept)
    del kept
    write(folder, "stays", HOOKS.format(name="stays").replace("w1", "w2"))  # the account is renamed
    os.utime(folder / "stays.yaml", ns=(10**18, 10**18))
    assert directory.refresh_if_changed()
    assert renamed() is None


def test_reloading_campaign_files_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """The daemon freezes its start-up heap (``gc.freeze()``), and a frozen object dropped inside a
    reference cycle is never freed. Reloading the example campaign (every channel) with changed accounts
    must therefore drop the campaign and adapters it replaces by reference counting alone: the collector
    finds nothing afterwards."""
    import gc
    import os
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    directory = CampaignDirectory(folder=tmp_path / "schedules", placeholder=True)

    files = {path: path.read_text(encoding="utf-8") for path in (tmp_path / "schedules").glob("*.yaml")}

    def build_adapters() -> list[Adapter]:
        return [directory.adapter(c.name, a) for c in directory.campaigns.values() for a in c.accounts]

    built = build_adapters()
    assert len(built) >= 5 and not directory.errors
    gc.collect()
    gc.disable()
    try:
        for round_ in range(1, 4):
            for path, text in files.items():  # every account reads its secrets from other variables now
                path.write_text(text.replace("CAMPAIGN_", f"CAMPAIGN_R{round_}_"), encoding="utf-8")
                os.utime(path, ns=(round_ * 10**18, round_ * 10**18))
            assert directory.refresh_if_changed() and not directory.errors
            rebuilt = build_adapters()
            assert not {id(a) for a in rebuilt} & {id(a) for a in built}  # both alive: ids are distinct
            built = rebuilt
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.fixture(autouse=True)
def _allow_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGN_SECRET_ENV", "*")
