"""Every dry-run request of every built-in adapter conforms to its platform's published specification.

For Bluesky the specification is machine-readable and published on npm: the AT Protocol lexicons (shipped
in ``@atproto/api``) checked by the reference validator ``@atproto/lexicon``, run through node
(tests/oracles/lexicon_check.js). For the other platforms, tests/conformance/schemas/<channel>.json is a
JSON Schema written for these tests from the platform's documentation (the URLs are in each file). Each
file lists its endpoints (``x-endpoints``: a pattern on ``"METHOD url"`` and the schema of that request);
every recorded request must match exactly one endpoint and validate against its schema.

The schemas require what the platforms require of every request (a User-Agent, versioned Discord URLs,
escaped Slack text, ...); the negative tests below show they catch each such mistake.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from campaign.channels import contract
from campaign.http.exchange import Recording, run_dry
from tests.conformance.platform_requests import (
    DOCUMENTED,
    MISSING,
    TRICKY,
    Scenario,
    as_document,
    bluesky_checks,
    problems,
    recorded,
    scenarios,
    schema,
    stand_in,
    validate_lexicons,
)


def test_schemas_are_valid_and_cite_their_documentation() -> None:
    for channel in DOCUMENTED:
        spec = schema(channel)
        Draft202012Validator.check_schema(spec)
        assert spec["x-docs"] and all(url.startswith("https://") for url in spec["x-docs"]), channel
        assert "Written for campaign's tests" in spec["description"], channel
        for endpoint in spec["x-endpoints"]:
            assert endpoint["schema"].removeprefix("#/$defs/") in spec["$defs"], (channel, endpoint)


def test_every_built_in_platform_has_a_specification() -> None:
    from campaign import channels

    assert set(channels.names()) >= {*DOCUMENTED, "bluesky", "webhook"}


@pytest.mark.parametrize("scenario", scenarios(DOCUMENTED), ids=lambda s: s.id)
def test_dry_run_requests_conform(scenario: Scenario) -> None:
    requests = recorded(scenario)
    assert requests, "the dry run recorded no request"
    found = [p for request in requests for p in problems(scenario.channel, as_document(request))]
    assert found == []


# -- the schemas catch the mistakes they exist for --------------------------------------------------------


def _first(channel: str) -> dict[str, Any]:
    return as_document(recorded(Scenario(channel, "sample"))[0])


@pytest.mark.parametrize("channel", DOCUMENTED)
def test_a_request_without_user_agent_is_refused(channel: str) -> None:
    document = _first(channel)
    assert problems(channel, document) == []
    del document["headers"]["user-agent"]
    assert any("user-agent" in p for p in problems(channel, document))


@pytest.mark.parametrize(
    ("channel", "mutate", "complaint"),
    [
        ("discord", lambda d: d.update(url=d["url"].replace("/api/v10/", "/api/")), "documented endpoints"),
        ("slack", lambda d: d["body"].update(text="ping <!channel> & R&D"), "body/text"),
        ("slack", lambda d: d["body"].update(text="5 > 3"), "body/text"),
        ("telegram", lambda d: d["body"].update(reply_parameters={"message_id": "12"}), "message_id"),
        ("mastodon", lambda d: d["body"].update(visibility="everyone"), "body/visibility"),
        ("linkedin", lambda d: d["body"].update(commentary="Hello (world) #tag"), "body/commentary"),
        ("x", lambda d: d["body"].update(reply={"in_reply_to_tweet_id": 12}), "in_reply_to_tweet_id"),
        ("teams", lambda d: d["body"]["attachments"][0]["content"].update(version="1.6"), "version"),
        ("threads", lambda d: d["body"].update(media_type="STORY"), "body/media_type"),
        ("facebook", lambda d: d["body"].update(message_tags="x"), "body"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_schemas_refuse_known_mistakes(channel: str, mutate: Any, complaint: str) -> None:
    document = copy.deepcopy(_first(channel))
    mutate(document)
    found = problems(channel, document)
    assert any(complaint in p for p in found), found


def test_tricky_text_is_sent_escaped_where_the_platform_requires_it() -> None:
    slack = [as_document(r) for r in recorded(Scenario("slack", "sample"))]
    (tricky,) = [d for d in slack if "R&amp;D" in d["body"]["text"]]
    assert "&lt;!channel&gt;" in tricky["body"]["text"] and "<!channel>" not in tricky["body"]["text"]


# -- Bluesky ------------------------------------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
@pytest.mark.parametrize("scenario", scenarios(["bluesky"]), ids=lambda s: s.id)
def test_bluesky_dry_run_requests_conform_to_the_lexicons(scenario: Scenario) -> None:
    checks = bluesky_checks(recorded(scenario))
    kinds = {(c["kind"], c["nsid"]) for c in checks}
    assert ("record", "app.bsky.feed.post") in kinds
    assert ("params", "com.atproto.identity.resolveHandle") in kinds
    answers = validate_lexicons(checks)
    failed = [(c["kind"], c["nsid"], a["error"]) for c, a in zip(checks, answers, strict=True) if not a["ok"]]
    assert failed == []


@pytest.mark.oracle
@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_bluesky_dry_run_answers_are_documented_shapes() -> None:
    """The adapter's fake answers (what previews show as the platform's reply) follow the lexicons too."""
    scenario = Scenario("bluesky", "sample")
    adapter = scenario.adapter()
    recording = Recording()
    first = run_dry(adapter.publish(contract.FIRST), adapter, contract.FIRST, recording)
    second = contract.second_part(first)
    run_dry(adapter.publish(second), adapter, second, recording)
    run_dry(adapter.publish(TRICKY), adapter, TRICKY, recording)
    checks = []
    for request, response in zip(recording.requests, recording.responses, strict=True):
        nsid = request.url.path.rsplit("/", 1)[-1]
        checks.append({"kind": "output", "nsid": nsid, "value": stand_in(response.json())})
    answers = validate_lexicons(checks)
    failed = [(c["nsid"], a["error"]) for c, a in zip(checks, answers, strict=True) if not a["ok"]]
    assert failed == []


@pytest.mark.oracle
@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_the_lexicon_validator_refuses_known_mistakes() -> None:
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2027-01-18T09:00:00.000Z"}
    checks = [
        {"kind": "record", "nsid": "app.bsky.feed.post", "value": record},
        {"kind": "record", "nsid": "app.bsky.feed.post", "value": {**record, "text": "x" * 301}},
        {"kind": "record", "nsid": "app.bsky.feed.post", "value": {**record, "langs": ["en"] * 4}},
        {"kind": "params", "nsid": "com.atproto.repo.getRecord", "value": {"repo": "alice.test"}},
        # getRecord's answer may leave out the cid (the adapter must not demand it).
        {
            "kind": "output",
            "nsid": "com.atproto.repo.getRecord",
            "value": {"uri": "at://did:plc:alice/app.bsky.feed.post/3jul4i2fsrg5p", "value": record},
        },
    ]
    assert [a["ok"] for a in validate_lexicons(checks)] == [True, False, False, False, True]

