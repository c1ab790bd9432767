"""The fake platform's own behaviour, through plain httpx: documented shapes, idempotency, faults, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import parse_rate_limit_headers, retry_after_seconds
from tests.fakeplatform.server import (
    STYLES,
    FakePlatform,
    Fault,
    RateLimitPolicy,
    ServerProcess,
    ServerThread,
    read_log,
)
from tests.helpers.clock import Clock

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole multiple of 60 s


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def server(clock: Clock) -> Iterator[ServerThread]:
    with ServerThread(FakePlatform(clock=clock.epoch)) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as c:
        yield c


def post(
    client: httpx.Client, text: str = "Hello", *, token: str = "tok-a", key: str | None = "k1", **kw: object
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/statuses", json={"status": text, **kw}, headers=headers)


# -- the documented endpoint --------------------------------------------------------------------------


def test_create_returns_a_status_with_documented_fields(client: httpx.Client, server: ServerThread) -> None:
    response = post(client, "Hello <world>", visibility="unlisted", language="en")
    assert response.status_code == 200
    status = response.json()
    assert status["id"].isdigit()
    assert status["url"] == f"{server.url}/@user1/{status['id']}"
    assert status["content"] == "<p>Hello &lt;world&gt;</p>"
    assert (status["visibility"], status["language"], status["in_reply_to_id"]) == ("unlisted", "en", None)
    assert status["created_at"] == "2027-01-15T08:00:00.000Z"
    reply = post(client, "Second", key="k2", in_reply_to_id=status["id"])
    assert reply.json()["in_reply_to_id"] == status["id"]


def test_form_bodies_are_accepted_like_json(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/statuses", data={"status": "Form post"}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 200 and response.json()["content"] == "<p>Form post</p>"


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        ({}, {"status": "x"}, 401, "The access token is invalid"),
        ({"Authorization": "Basic dTpw"}, {"status": "x"}, 401, "The access token is invalid"),
        ({"Authorization": "Bearer t"}, {"status": "  "}, 422, "Validation failed: Text can't be blank"),
        ({"Authorization": "Bearer t"}, {"status": "x" * 501}, 422, "character limit of 500"),
        (
            {"Authorization": "Bearer t"},
            {"status": "x", "in_reply_to_id": "1"},
            404,
            "does not appear to exist",
        ),
    ],
)
def test_errors_have_the_documented_shape(
    client: httpx.Client, headers: dict[str, str], body: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/api/v1/statuses", json=body, headers=headers)
    assert response.status_code == status
    assert error in response.json()["error"]


def test_known_tokens_only_when_configured(clock: Clock) -> None:
    platform = FakePlatform(clock=clock.epoch, tokens={"good": "alice"})
    with ServerThread(platform) as server, httpx.Client() as c:
        url = f"{server.url}/api/v1/statuses"
        ok = c.post(url, json={"status": "x"}, headers={"Authorization": "Bearer good"})
        bad = c.post(url, json={"status": "x"}, headers={"Authorization": "Bearer bad"})
        who = c.get(
            f"{server.url}/api/v1/accounts/verify_credentials", headers={"Authorization": "Bearer good"}
        )
    assert ok.status_code == 200 and "/@alice/" in ok.json()["url"]
    assert bad.status_code == 401
    assert who.json()["acct"] == "alice"


def test_instance_reports_its_character_limit(client: httpx.Client) -> None:
    body = client.get("/api/v2/instance").json()
    assert body["configuration"]["statuses"]["max_characters"] == 500


# -- idempotency --------------------------------------------------------------------------------------


def test_same_key_same_token_returns_the_first_status(client: httpx.Client, server: ServerThread) -> None:
    first = post(client, key="same").json()
    again = post(client, "edited text is ignored", key="same").json()
    assert again == first
    other_token = post(client, key="same", token="tok-b").json()
    assert other_token["id"] != first["id"]
    assert server.platform.created_per_key() == {"same": 2}
    assert [r.replayed for r in server.platform.records] == [False, True, False]
    assert [r.created for r in server.platform.records] == [True, False, True]


def test_keys_expire_after_the_window(client: httpx.Client, server: ServerThread, clock: Clock) -> None:
    first = post(client, key="k").json()
    clock.t += 3599
    assert post(client, key="k").json()["id"] == first["id"]
    clock.t += 2  # 3601 s after the first: Mastodon's key has expired
    assert post(client, key="k").json()["id"] != first["id"]
    assert server.platform.created_per_key() == {"k": 2}


def test_requests_without_key_always_create(client: httpx.Client, server: ServerThread) -> None:
    post(client, key=None)
    post(client, key=None)
    assert server.platform.created_per_key() == {"": 2}


def test_webhook_receiver_honours_idempotency_key(client: httpx.Client, server: ServerThread) -> None:
    headers = {"Idempotency-Key": "h1"}
    first = client.post("/hooks/team", json={"text": "x"}, headers=headers).json()
    again = client.post("/hooks/team", json={"text": "x"}, headers=headers).json()
    other = client.post("/hooks/other", json={"text": "x"}, headers=headers).json()
    assert again == first and other["id"] != first["id"]
    assert first["url"].startswith(f"{server.url}/hooks/team/")
    assert [r.account for r in server.platform.records] == ["team", "team", "other"]


# -- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_fault_answers_and_creates_nothing(
    client: httpx.Client, server: ServerThread, status: int
) -> None:
    server.platform.add_fault(Fault("status", status=status))
    failed = post(client)
    assert failed.status_code == status and "error" in failed.json()
    assert server.platform.created_per_key() == {}
    assert post(client).status_code == 200  # times=1: the next one passes
    assert server.platform.created_per_key() == {"k1": 1}


def test_status_fault_with_create_is_the_ambiguous_500(client: httpx.Client, server: ServerThread) -> None:
    server.platform.add_fault(Fault("status", status=500, create=True))
    assert post(client).status_code == 500
    retry = post(client)
    assert retry.status_code == 200 and server.platform.records[1].replayed
    assert server.platform.created_per_key() == {"k1": 1}


def test_faults_by_account_and_count(client: httpx.Client, server: ServerThread) -> None:
    server.platform.add_fault(Fault("status", status=502, account="tok-b", after=1, times=2))
    codes = [
        post(client, token=token, key=f"{token}{i}").status_code
        for i in range(5)
        for token in ("tok-a", "tok-b")
    ]
    assert codes == [200, 200, 200, 502, 200, 502, 200, 200, 200, 200]


def test_auth_fault(client: httpx.Client, server: ServerThread) -> None:
    server.platform.add_fault(Fault("auth", times=None))
    response = post(client)
    assert response.status_code == 401 and response.json() == {"error": "The access token is invalid"}
    assert server.platform.records[0].fault == "auth"


def test_delay_fault_answers_late(client: httpx.Client, server: ServerThread) -> None:
    server.platform.add_fault(Fault("delay", delay=0.3))
    started = time.monotonic()
    assert post(client).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert server.platform.created_per_key() == {"k1": 1}


@pytest.mark.parametrize("create", [True, False])
def test_hang_fault_never_answers(server: ServerThread, create: bool) -> None:
    server.platform.add_fault(Fault("hang", create=create) if not create else Fault("hang"))
    with (
        httpx.Client(base_url=server.url, timeout=httpx.Timeout(5, read=0.3)) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        post(c)
    record = server.platform.records[0]
    assert record.status is None and record.created is create and record.fault == "hang"


def test_reset_before_body_creates_nothing(client: httpx.Client, server: ServerThread) -> None:
    server.platform.add_fault(Fault("reset_before_body"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)):
        post(client)
    record = server.platform.records[0]
    assert (record.status, record.body, record.created) == (None, None, False)
    assert post(client).status_code == 200  # a fresh connection works
    assert server.platform.created_per_key() == {"k1": 1}


def test_reset_after_body_creates_then_a_retry_is_deduplicated(
    client: httpx.Client, server: ServerThread
) -> None:
    server.platform.add_fault(Fault("reset_after_body"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post(client)
    assert server.platform.records[0].created
    assert post(client).status_code == 200
    assert server.platform.records[1].replayed
    assert server.platform.created_per_key() == {"k1": 1}


# -- rate limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_rate_limit_fault_in_each_header_style(
    client: httpx.Client, server: ServerThread, clock: Clock, style: str
) -> None:
    clock.t += 0.25  # not on a whole second: styles without fractions must round the reset up
    server.platform.add_fault(Fault("rate_limit", style=style, wait=10))  # type: ignore[arg-type]
    limited = post(client)
    assert limited.status_code == 429 and limited.json() == {"error": "Too many requests"}
    now = clock.dt()
    if style.startswith("retry-after"):
        wait = retry_after_seconds(limited.headers, now)
    else:
        limit = parse_rate_limit_headers(limited.headers, now)
        assert limit is not None and limit.remaining == 0 and limit.reset_at is not None
        wait = (limit.reset_at - now).total_seconds()
    assert wait is not None and 10 <= wait <= 11
    clock.t += wait - 0.001
    assert post(client).status_code == 429  # still inside the window: refused and counted
    clock.t += 0.001
    assert post(client).status_code == 200
    assert [r.violation for r in server.platform.records] == [False, True, False]
    assert server.platform.stats()["violations"] == 1


def test_enforced_budget_per_account_and_window(
    client: httpx.Client, server: ServerThread, clock: Clock
) -> None:
    server.platform.set_rate_limit(RateLimitPolicy(limit=3, window=60, style="mastodon"))
    clock.t += 15
    remaining = [post(client, key=f"a{i}").headers["X-RateLimit-Remaining"] for i in range(3)]
    assert remaining == ["2", "1", "0"]
    assert post(client, key="other", token="tok-b").status_code == 200  # budgets are per account
    over = post(client, key="a3")
    assert over.status_code == 429
    assert over.headers["X-RateLimit-Reset"] == "2027-01-15T08:01:00.000000Z"  # aligned window end
    assert not server.platform.records[-1].violation  # the first 429 is the platform's word, not ours
    clock.t += 44.9
    assert post(client, key="a4").status_code == 429
    assert server.platform.records[-1].violation
    clock.t += 0.1
    assert post(client, key="a5").status_code == 200
    assert server.platform.stats()["violations"] == 1


# -- control, log, process ---------------------------------------------------------------------------


def test_control_endpoint(client: httpx.Client, server: ServerThread) -> None:
    stats = client.post(
        "/_control", json={"faults": [{"kind": "status", "status": 502, "times": None}]}
    ).json()
    assert stats["faults"][0]["status"] == 502
    assert post(client).status_code == 502
    client.post("/_control", json={"rate_limit": {"limit": 1, "window": 60, "style": "x"}, "faults": []})
    assert "x-rate-limit-remaining" in post(client).headers
    assert client.post("/_control", json={"faults": [{"kind": "nope"}]}).status_code == 400
    log = client.get("/_control/log").json()["records"]
    assert [r["status"] for r in log] == [502, 200]  # control requests are not recorded
    assert client.get("/_control/stats").json()["per_key"] == {"k1": 1}
    client.post("/_control", json={"reset": True})
    assert client.get("/_control/stats").json()["requests"] == 0


def test_wait_answers_once_the_counters_are_reached(client: httpx.Client, server: ServerThread) -> None:
    """``GET /_control/wait`` answers with the stats the moment every named counter has its value."""
    answers: list[httpx.Response] = []

    def wait() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as patient:
            answers.append(patient.get("/_control/wait", params={"requests": 2, "hung": 1, "timeout": 100}))

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert post(client, key="a").status_code == 200
    client.post("/_control", json={"faults": [{"kind": "hang"}]})
    with (
        httpx.Client(base_url=server.url, timeout=httpx.Timeout(5, read=0.2)) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        post(impatient, key="b")  # held: never answered
    waiter.join(120)
    (answer,) = answers
    assert answer.status_code == 200
    assert (answer.json()["requests"], answer.json()["hung"]) == (2, 1)
    timed_out = client.get("/_control/wait", params={"created": 99, "timeout": 0.1})
    assert timed_out.status_code == 504 and timed_out.json()["created"] == 2  # the hung one was created
    assert client.get("/_control/wait", params={"nope": 1}).status_code == 400
    assert server.platform.wait_for(0, requests=2) == (True, server.platform.stats())


def test_log_file_survives_a_restart(tmp_path: Path, clock: Clock) -> None:
    log = tmp_path / "requests.jsonl"
    with (
        ServerThread(FakePlatform(clock=clock.epoch, log_path=log)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        first = post(c, key="kept").json()
    with (
        ServerThread(FakePlatform(clock=clock.epoch, log_path=log)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        assert post(c, key="kept").json()["id"] == first["id"]
        assert server.platform.created_per_key() == {"kept": 1}
        assert post(c, key="new").json()["id"] != first["id"]
    records = list(read_log(log))
    assert [(r.seq, r.created, r.replayed) for r in records] == [
        (1, True, False),
        (2, False, True),
        (3, True, False),
    ]


def test_runs_as_a_subprocess(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with ServerProcess(log=log, args=["--rate-limit", "2/86400/bluesky"]) as server:
        server.control(add_faults=[{"kind": "status", "status": 503}])
        with httpx.Client(base_url=server.url) as c:
            codes = [post(c, key=f"k{i}").status_code for i in range(4)]
        stats = server.stats()
        records = server.records()
    assert codes == [503, 200, 429, 429]
    assert stats["per_key"] == {"k1": 1} and stats["violations"] == 1
    assert [r.status for r in records] == codes
    assert [r.status for r in read_log(log)] == codes
