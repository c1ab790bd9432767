"""Platforms' answers are untrusted input: numbers no clock can reach, fields of the wrong type, headers
that are not what their names promise. None of them may end an exchange with anything but a classified
ChannelError, fail a post that was sent, or hold an account for ever.

- :func:`campaign.http.exchange.run`: an answer its adapter cannot read is ambiguous (it may have
  published), or transient for an upload (publishes nothing); rate-limit headers that cannot be read are
  ignored. Exercised with a real adapter over ``httpx.MockTransport``.
- The shared parsers (``Retry-After``, rate-limit resets and counts, Meta's usage headers) and
  :class:`~campaign.errors.RateLimitedError` turn absurd numbers into "no time given".
- X's media STATUS poll with a ``check_after_secs`` that is no number waits its default second.
- A count (likes, followers) is a whole number a BIGINT column holds, or unknown.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from campaign.channels.base import (
    UPLOAD_EXTENSION,
    Exchange,
    Part,
    as_seconds,
    parse_rate_limit_headers,
    parse_reset,
    retry_after_seconds,
)
from campaign.channels.facebook import _post_counts
from campaign.channels.helpers import MAX_COUNT, usage_report, whole_count
from campaign.channels.mastodon import MastodonAdapter
from campaign.channels.upload_media import DELAY
from campaign.channels.x_media import _wait_processed
from campaign.errors import MAX_RETRY_AFTER, AmbiguousError, RateLimitedError, TransientError
from campaign.http.exchange import run
from tests.helpers.channels import NOW, make_account, respond, run_with

TOKEN = "canary-hostile-token-77c1"
BASE = "https://mastodon.example"
#: Values a JSON answer parsed by Python, or a header's text, can carry where a number of seconds belongs.
ABSURD = ["inf", "-inf", "nan", "1e300", "1e400", "99999999999999", "1e18"]


def adapter() -> MastodonAdapter:
    return MastodonAdapter(make_account("mastodon", {"instance": BASE}, {"token": TOKEN}, name="m"))


def reading(
    channel: MastodonAdapter, upload: bool, read: Callable[[httpx.Response], object]
) -> Exchange[object]:
    """One request (to a path holding the account's token, as Telegram's do), its answer read by ``read``."""
    extensions = {UPLOAD_EXTENSION: True} if upload else {}
    token = channel.account.credentials.get("token")
    response = yield httpx.Request("POST", f"{BASE}/api/{token}/x", extensions=extensions)
    return read(response)


@pytest.mark.parametrize(("upload", "expected"), [(False, AmbiguousError), (True, TransientError)])
def test_an_answer_its_adapter_cannot_read_is_one_classified_error(upload: bool, expected: type) -> None:
    def read(response: httpx.Response) -> object:
        return int(response.json()["id"]) + 1  # a list where a number belongs: TypeError

    answer = respond(200, {"id": [TOKEN]})
    channel = adapter()
    with pytest.raises(expected) as caught:
        run_with(lambda request: answer, reading(channel, upload, read), channel)
    error = caught.value
    assert type(error) is expected and error.status == 200
    message = str(error)
    assert "HTTP 200 answer to POST" in message and "unreadable (TypeError" in message
    assert TOKEN not in message  # the URL's path and the exception's text are scrubbed
    assert isinstance(error.__cause__, TypeError)  # kept for the DEBUG log's traceback


@pytest.mark.parametrize("header", [
    {"X-RateLimit-Remaining": "1e400", "X-RateLimit-Reset": "99999999999999"},
    {"X-RateLimit-Remaining": "inf", "X-RateLimit-Limit": "nan", "X-RateLimit-Reset": "1e18"},
    {"X-RateLimit-Reset": "1e300"},
])
def test_a_published_post_with_unreadable_rate_limit_headers_is_sent(header: dict[str, str]) -> None:
    """Before, a reset no datetime can hold raised ValueError from the header reading, after the post was
    published: every such post ended ``unknown``."""
    status = {"id": "1093", "url": f"{BASE}/@m/1093", "uri": f"{BASE}/users/m/statuses/1093"}
    part = Part(post_id="p1", idempotency_key="ab" * 16, text="Launch day")
    limits: list[Any] = []
    receipt = run_with(lambda request: respond(200, status, header), adapter().publish(part), adapter(),
                       limits=limits)
    assert receipt.remote_id == "1093"
    assert all(limit.reset_at is None for limit in limits)


@pytest.mark.parametrize("value", ABSURD)
def test_parsers_read_absurd_numbers_as_no_time(value: str) -> None:
    assert parse_reset(value, NOW) is None
    names = ("Retry-After", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    headers = httpx.Headers({name: value for name in names})
    wait = retry_after_seconds(headers, NOW)
    assert wait is None or (math.isfinite(wait) and wait >= 0)
    parse_rate_limit_headers(headers, NOW)  # no exception
    number = float(value)
    assert as_seconds(value) == (max(0.0, number) if math.isfinite(number) else None)


def test_as_seconds_takes_numbers_only() -> None:
    assert [as_seconds(v) for v in (3, 2.5, "7", -4, None, True, "soon", [1], {"s": 1})] == [
        3.0, 2.5, 7.0, 0.0, None, None, None, None, None]


@pytest.mark.parametrize(("given", "kept"), [
    (30.0, 30.0), (-5.0, 0.0), (math.inf, None), (math.nan, None), (1e300, None),
    (MAX_RETRY_AFTER, MAX_RETRY_AFTER),
])
def test_a_rate_limit_keeps_only_a_wait_a_clock_can_reach(given: float, kept: float | None) -> None:
    error = RateLimitedError("HTTP 429", retry_after=given)
    assert error.retry_after == kept
    if kept is not None:
        assert NOW + timedelta(seconds=kept) > NOW - timedelta(seconds=1)  # representable


@pytest.mark.parametrize("body", [
    '{"call_count": 1e999, "total_time": NaN}',
    '{"123": [{"type": "pages", "call_count": 95, "estimated_time_to_regain_access": 1e999}]}',
    '{"call_count": "95", "estimated_time_to_regain_access": 1e300}',
])
def test_meta_usage_headers_with_absurd_numbers_still_read(body: str) -> None:
    report = usage_report(httpx.Headers({"x-business-use-case-usage": body}), NOW)
    if report is not None:
        assert report.remaining is not None and 0 <= report.remaining <= 100
        assert report.reset_at is None or report.reset_at > NOW


@pytest.mark.parametrize("check_after", ["soon", math.nan, math.inf, [1], None, 0])
def test_x_media_status_poll_waits_its_default_when_told_no_number(check_after: object) -> None:
    processing = {"processing_info": {"state": "in_progress", "check_after_secs": check_after}}
    poll = _wait_processed({}, "https://api.x.com", "1880", processing, "video.mp4", lambda: NOW)
    request = next(poll)
    assert request.extensions[DELAY] == 1.0
    assert request.url.params["command"] == "STATUS"


def test_the_runner_never_waits_longer_than_its_cap_or_for_a_delay_that_is_no_number() -> None:
    """The runner's own guard on ``campaign.delay``: NaN is no wait, a day is its 60 s cap."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    def polls() -> Exchange[int]:
        for delay in (math.nan, 86400.0):
            yield httpx.Request("GET", f"{BASE}/status", extensions={DELAY: delay, UPLOAD_EXTENSION: True})
        return 1

    async def go() -> int:
        transport = httpx.MockTransport(lambda request: respond(200, {}))
        async with httpx.AsyncClient(transport=transport) as client:
            return await run(polls(), client, adapter(), sleep=sleep, now=lambda: datetime.now(UTC))

    assert asyncio.run(go()) == 1
    assert waited == [60.0]


@pytest.mark.parametrize(("value", "kept"), [
    (0, 0), (42, 42), (MAX_COUNT, MAX_COUNT),
    (MAX_COUNT + 1, None), (10**30, None), (-1, None), (True, None), (1.0, None), ("7", None), (None, None),
])
def test_a_count_is_a_whole_number_a_bigint_holds(value: object, kept: int | None) -> None:
    assert whole_count(value) == kept


def test_facebook_counts_read_the_same_way() -> None:
    summary = {"summary": {"total_count": 10**30}}
    post = {"reactions": summary, "comments": {"summary": {"total_count": 5}}, "shares": {"count": False}}
    assert _post_counts(post) == {"replies": 5}
