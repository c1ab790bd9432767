"""Reading a post's counts back (issue 15): each platform's documented request and response shapes.

One table: the adapter, the receipts asked about, the documented answer(s), and the counts expected under our
names (a count the platform does not give is absent, never 0; a post the platform says is gone maps to None).
Then the rules every ``metrics`` exchange keeps: only GETs, a batch no larger than ``metrics_batch``, rate
limits classified, and no read API declared where there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from campaign import channels
from campaign.channels.base import METRIC_NAMES, Adapter, Receipt
from campaign.errors import RateLimitedError, TransientError
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import assert_outcome, drive, make_account, respond

TOKEN = "metrics-token-1"


def adapter(channel: str) -> Adapter:
    settings: dict[str, dict[str, Any]] = {
        "x": {},
        "mastodon": {"instance": "https://mastodon.example"},
        "bluesky": {"handle": "alice.example.com", "service": "https://pds.example"},
        "linkedin": {"author": "urn:li:organization:42"},
        "facebook": {"page_id": "1234"},
        "threads": {},
    }
    secrets = {"bluesky": {"app_password": TOKEN}}.get(channel, {"token": TOKEN})
    return channels.load(channel)(make_account(channel, settings[channel], secrets))


SESSION = respond(
    200, {"accessJwt": "jwt-a", "refreshJwt": "jwt-r", "handle": "alice.example.com", "did": "did:plc:a"}
)
THREADS_VALUES = {"views": 300, "likes": 8, "replies": 2, "reposts": 1, "quotes": 0}


def insight(name: str, value: int) -> dict[str, object]:
    """One entry of a Threads media insights answer, as documented."""
    return {
        "name": name,
        "period": "lifetime",
        "values": [{"value": value}],
        "id": f"1789/insights/{name}/lifetime",
    }


AT1 = "at://did:plc:a/app.bsky.feed.post/3kabc"
AT2 = "at://did:plc:a/app.bsky.feed.post/3kdef"


@dataclass
class MetricsCase:
    channel: str
    ids: list[str]
    responses: list[httpx.Response]
    expect: object
    urls: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.channel}-{len(self.responses)}"


CASES = [
    MetricsCase(
        "x",
        ["1", "2"],
        [
            respond(
                200,
                {
                    "data": [
                        {
                            "id": "1",
                            "text": "hello",
                            "public_metrics": {
                                "retweet_count": 2,
                                "reply_count": 1,
                                "like_count": 7,
                                "quote_count": 0,
                                "bookmark_count": 3,
                                "impression_count": 120,
                            },
                        }
                    ],
                    "errors": [
                        {
                            "value": "2",
                            "detail": "Could not find tweet with ids: [2].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "ids",
                            "resource_id": "2",
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ],
                },
            )
        ],
        {
            "1": {"reposts": 2, "replies": 1, "likes": 7, "quotes": 0, "bookmarks": 3, "impressions": 120},
            "2": None,
        },
        ["https://api.x.com/2/tweets?ids=1,2&tweet.fields=public_metrics"],
    ),
    MetricsCase(
        "mastodon",
        ["109"],
        [respond(200, {"id": "109", "replies_count": 4, "reblogs_count": 5, "favourites_count": 6})],
        {"109": {"replies": 4, "reposts": 5, "likes": 6}},
        ["https://mastodon.example/api/v1/statuses/109"],
    ),
    MetricsCase(
        "mastodon",
        ["110"],
        [respond(404, {"error": "Record not found"})],
        {"110": None},
    ),
    MetricsCase(
        "bluesky",
        [AT1, AT2],
        [
            SESSION,
            respond(
                200,
                {
                    "posts": [
                        {
                            "uri": AT1,
                            "cid": "bafy1",
                            "likeCount": 9,
                            "repostCount": 2,
                            "replyCount": 1,
                            "quoteCount": 1,
                            "indexedAt": "2027-01-18T01:00:00Z",
                        }
                    ]
                },
            ),
        ],
        {AT1: {"likes": 9, "reposts": 2, "replies": 1, "quotes": 1}, AT2: None},
    ),
    MetricsCase(
        "linkedin",
        ["urn:li:share:7001"],
        [
            respond(
                200,
                {
                    "likesSummary": {"totalLikes": 12, "likedByCurrentUser": False},
                    "commentsSummary": {"totalFirstLevelComments": 3, "aggregatedTotalComments": 4},
                    "target": "urn:li:share:7001",
                },
            )
        ],
        {"urn:li:share:7001": {"likes": 12, "replies": 4}},
        ["https://api.linkedin.com/rest/socialActions/urn%3Ali%3Ashare%3A7001"],
    ),
    MetricsCase(
        "facebook",
        ["1234_5678"],
        [
            respond(
                200,
                {
                    "id": "1234_5678",
                    "shares": {"count": 3},
                    "reactions": {"data": [], "summary": {"total_count": 21, "viewer_reaction": "NONE"}},
                    "comments": {
                        "data": [],
                        "summary": {"order": "ranked", "total_count": 5, "can_comment": True},
                    },
                },
            )
        ],
        {"1234_5678": {"reposts": 3, "likes": 21, "replies": 5}},
    ),
    MetricsCase(
        "facebook",
        ["1234_9"],
        [
            respond(
                400,
                {
                    "error": {
                        "message": "Unsupported get request. Object with ID '1234_9' does not exist",
                        "type": "GraphMethodException",
                        "code": 100,
                        "error_subcode": 33,
                    }
                },
            )
        ],
        {"1234_9": None},
    ),
    MetricsCase(
        "threads",
        ["1789"],
        [
            respond(
                200,
                {"data": [insight(name, value) for name, value in THREADS_VALUES.items()]},
            )
        ],
        {"1789": {"views": 300, "likes": 8, "replies": 2, "reposts": 1, "quotes": 0}},
        ["https://graph.threads.net/v1.0/1789/insights?metric=views%2Clikes%2Creplies%2Creposts%2Cquotes"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_documented_answers_become_our_counts(case: MetricsCase) -> None:
    a = adapter(case.channel)
    sent, outcome = drive(a, a.metrics([Receipt(remote_id=i) for i in case.ids]), case.responses)
    assert_outcome(outcome, case.expect)
    reads = [r for r in sent if r.method == "GET"]
    assert [r.method for r in sent if "createSession" not in str(r.url)] == ["GET"] * len(reads)
    if case.urls:
        assert [str(r.url) for r in reads] == case.urls
    assert all(r.headers.get("authorization", "").endswith(("jwt-a", TOKEN)) for r in reads)


def test_every_count_is_under_one_of_our_names() -> None:
    for case in CASES:
        for counts in (case.expect or {}).values():  # type: ignore[union-attr]
            assert counts is None or set(counts) <= set(METRIC_NAMES)


@pytest.mark.parametrize("channel", ["x", "mastodon", "linkedin", "facebook", "threads"])
def test_rate_limits_and_outages_are_classified(channel: str) -> None:
    a = adapter(channel)
    limited = respond(429, {"error": "Too many requests"}, {"retry-after": "60"})
    if channel in ("facebook", "threads"):
        limited = respond(400, {"error": {"message": "Application request limit reached", "code": 4}})
    _, outcome = drive(a, a.metrics([Receipt(remote_id="1")]), [limited])
    assert isinstance(outcome, RateLimitedError)
    _, outcome = drive(a, a.metrics([Receipt(remote_id="1")]), [respond(503, {"error": "down"})])
    assert isinstance(outcome, TransientError)


def test_a_batch_never_exceeds_what_the_platform_takes() -> None:
    assert channels.load("x").metrics_batch == 100
    assert channels.load("bluesky").metrics_batch == 25
    for name in ("mastodon", "linkedin", "facebook", "threads"):
        assert channels.load(name).metrics_batch == 1


@pytest.mark.parametrize("name", channels.names())
def test_every_adapter_says_whether_it_can_read_counts_back(name: str) -> None:
    cls = channels.load(name)
    readable = {"x", "mastodon", "bluesky", "linkedin", "facebook", "threads"}
    assert (cls.metrics is not Adapter.metrics) == (name in readable)
    assert cls.metrics_scopes, "the README's table needs the scopes, or why there is no read API"


@pytest.mark.parametrize("channel", ["x", "mastodon", "bluesky", "linkedin", "facebook", "threads"])
def test_a_dry_run_shows_the_read_and_answers_it(channel: str) -> None:
    a = adapter(channel)
    ids = [AT1] if channel == "bluesky" else ["1"]
    recording = Recording()
    found = run_dry(a.metrics([Receipt(remote_id=i) for i in ids]), a, None, recording)
    assert set(found) == set(ids)
    assert all(isinstance(v, dict) for v in found.values())
    assert any(r.method == "GET" for r in recording.requests)


@pytest.mark.parametrize(
    ("channel", "responses", "expect"),
    [
        (
            "x",
            [respond(200, {"data": {"id": "1", "username": "a", "public_metrics": {"followers_count": 12}}})],
            12,
        ),
        ("mastodon", [respond(200, {"id": "1", "acct": "a", "followers_count": 34})], 34),
        ("bluesky", [SESSION, respond(200, {"did": "did:plc:a", "handle": "a", "followersCount": 56})], 56),
        ("mastodon", [respond(200, {"id": "1", "acct": "a"})], None),  # not said: unknown, not zero
    ],
)
def test_follower_counts(channel: str, responses: list[httpx.Response], expect: int | None) -> None:
    a = adapter(channel)
    sent, outcome = drive(a, a.followers(), responses)
    assert outcome == expect
    assert sent[-1].method == "GET"


def test_only_platforms_that_give_follower_counts_claim_to() -> None:
    readable = {name for name in channels.names() if channels.load(name).followers is not Adapter.followers}
    assert readable == {"x", "mastodon", "bluesky"}


#: 200 answers no platform documents: a reader must treat each as "no counts" or as a classified error.
HOSTILE_BODIES: list[object] = [
    {}, [], None, "x", 5, {"data": 5}, {"data": [5]}, {"data": [{"id": "1"}]},
    {"data": [{"id": "1", "public_metrics": "x"}]},
    {"data": [{"id": "1", "public_metrics": {"like_count": "9"}}]},
    {"errors": 5}, {"favourites_count": "x"}, {"favourites_count": -3}, {"favourites_count": True},
    {"posts": 5}, {"posts": [5]}, {"posts": [{"uri": AT1, "likeCount": "x"}]},
    {"data": [{"name": "views", "values": 5}]}, {"data": [{"name": "likes", "values": [{"value": True}]}]},
    {"data": [{"name": "likes", "values": [{"value": -1}]}]}, {"elements": 5}, {"elements": [5]},
    {"likes": {"summary": 5}}, {"likes": {"summary": {"total_count": "x"}}}, {"reactions": 5},
]
HOSTILE_RAW = [b"not json", b"", b"\xff\xfe"]


@pytest.mark.parametrize("channel", ["x", "mastodon", "bluesky", "linkedin", "facebook", "threads"])
def test_an_undocumented_answer_is_no_count_or_a_classified_error(channel: str) -> None:
    """A platform's answer is untrusted input. Whatever a 200 holds, a read ends in counts that are whole
    numbers, in "gone", or in a ChannelError: never in another exception (which, before, escaped the
    collector: X and Threads iterated a number under ``data``, Bluesky one under ``posts``)."""
    ids = [AT1] if channel == "bluesky" else ["1"]
    answers = [respond(200, body) for body in HOSTILE_BODIES]
    json_type = {"content-type": "application/json"}
    answers += [httpx.Response(200, content=raw, headers=json_type) for raw in HOSTILE_RAW]
    for answer in answers:
        a = adapter(channel)
        responses = ([SESSION] if channel == "bluesky" else []) + [answer] * 4
        _, outcome = drive(a, a.metrics([Receipt(remote_id=i) for i in ids]), responses)
        if isinstance(outcome, Exception):
            continue  # drive returns only ChannelErrors; anything else would have raised
        assert isinstance(outcome, dict), (answer.content, outcome)
        for counts in outcome.values():
            assert counts is None or all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()
            ), (answer.content, counts)
