"""Shared fixtures: a small valid campaign written into a temporary folder, ready to be broken by tests."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs property tests with a fixed seed, so a run never fails or passes by luck; locally they explore.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

# The operator's credential allow-list (campaign/secrets.py). The suite's campaigns name many variables and
# keep secret files in temporary folders, so the suite allows them; the policy itself is tested with explicit
# environments (tests/test_secrets_policy.py), and the example campaign against the default one.
os.environ.setdefault("CAMPAIGN_SECRET_ENV", "*")
os.environ.setdefault("CAMPAIGN_SECRETS_DIR", tempfile.gettempdir())
# Each test's campaigns find their own project root (tests set CAMPAIGN_ROOT themselves where they need it).
os.environ.pop("CAMPAIGN_ROOT", None)

pytest_plugins = ["tests.helpers.pg"]  # the PostgreSQL fixtures (pg_template, pg_url)

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "releases" / "hkstp-innovation-mixer-us-2024.txt"
EXAMPLE = ROOT / "schedules" / "hkstp-innovation-mixer-us.yaml"

MINI_CAMPAIGN = """\
campaign: mini
release: release.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
hashtags: ["#HKSTP", "#InnovationMixer"]
link: https://www.hkstp.org
threads: [x]
accounts:
  main_x:
    channel: x
    credentials:
      token: MINI_X_TOKEN
  main_mastodon:
    channel: mastodon
    instance: https://mastodon.example
    credentials:
      token: MINI_MASTODON_TOKEN
posts:
  - key: launch
    when: "+0d 09:00"
  - key: quote
    when: "+1d 10:30"
    accounts: [main_mastodon]
"""

LAUNCH_TEMPLATE = "{{ release.title | shorten(200) }}\n\n{{ link }}\n\n{{ tags | hashtags }}\n"
QUOTE_TEMPLATE = "“{{ release.quotes[0].text | shorten(300) }}” — {{ release.quotes[0].speaker }}\n"


def mini_project(parent: Path) -> Path:
    """A git work tree ``parent/repo`` holding the mini campaign: schedules/mini.yaml, templates/, release.txt
    (the campaign names them as ``../release.txt`` and ``../templates``)."""
    root = parent / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "templates").mkdir()
    (root / "release.txt").write_bytes(RELEASE.read_bytes())
    (root / "templates" / "launch.j2").write_text(LAUNCH_TEMPLATE, encoding="utf-8")
    (root / "templates" / "quote.j2").write_text(QUOTE_TEMPLATE, encoding="utf-8")
    campaign = MINI_CAMPAIGN.replace("release: release.txt", "release: ../release.txt").replace(
        "templates: templates", "templates: ../templates"
    )
    (root / "schedules" / "mini.yaml").write_text(campaign, encoding="utf-8")
    return root


@pytest.fixture
def mini(tmp_path: Path) -> Callable[..., Path]:
    """Write the mini campaign (optionally with other YAML or templates); returns the campaign file path."""

    def write(yaml_text: str = MINI_CAMPAIGN, templates: dict[str, str] | None = None) -> Path:
        (tmp_path / "release.txt").write_bytes(RELEASE.read_bytes())
        folder = tmp_path / "templates"
        folder.mkdir(exist_ok=True)
        files = {"launch.j2": LAUNCH_TEMPLATE, "quote.j2": QUOTE_TEMPLATE}
        files.update(templates or {})
        for name, body in files.items():
            (folder / name).write_text(textwrap.dedent(body), encoding="utf-8")
        path = tmp_path / "mini.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        return path

    return write


@pytest.fixture(params=["asyncio", "uvloop"])
def on_each_loop(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test on asyncio's event loop, then again on uvloop (the daemon's default where installed:
    campaign/dispatch/eventloop.py). ``asyncio.run`` and ``asyncio.Runner()`` make the loop the policy
    makes."""
    name: str = request.param
    if name == "asyncio":
        yield name
        return
    import uvloop  # a dependency of campaign on every platform CI runs on: missing means a broken setup

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield name
    finally:
        asyncio.set_event_loop_policy(None)


REAL_SERVER_MARKERS = ("postgres", "pds", "oracle", "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true a test that needs a real server (PostgreSQL, the PDS, Node oracles, Chromium) must run:
    a skip there means the provisioning step failed, so it is reported as a failure."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("CI") == "true"
        and any(item.get_closest_marker(name) for name in REAL_SERVER_MARKERS)
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, but {item.nodeid} needs a real server: {report.longrepr}"


@pytest.fixture
def root_logging_restored() -> Iterator[None]:
    """The root logger's handlers and level put back after the test: ``campaign daemon`` run in-process
    configures logging for its process, with a handler on the test's captured (then closed) stderr."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
