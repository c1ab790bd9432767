"""Secrets on the error paths: what a platform or a receiver says back, and what a client library makes of a
URL, must not carry a secret, or a piece of one, into a message, the queue or a receipt.

Each case was a leak before its fix: error text shortened (or its whitespace squashed) before redaction, so
the rest of a token survived the cut; a URL named with its path percent-decoded and its host in Unicode; a
webhook token echoed alone from a query or a path segment; ``user:password@`` in a webhook URL, which two of
our three transports send as Basic auth; a receiver's receipt quoting the URL it was called at; a non-ASCII
credential reported through a Python error naming its character and position; the text of a bug; a database
URL SQLAlchemy cannot parse; percent-escapes in lower case. Real adapters over ``httpx.MockTransport``.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import httpx
import pytest

from campaign.channels.base import Part, Receipt
from campaign.channels.mastodon import MastodonAdapter
from campaign.channels.slack import SlackAdapter
from campaign.channels.webhook import WebhookAdapter
from campaign.dispatch.decide import decide
from campaign.dispatch.dispatcher import DispatchConfig
from campaign.errors import AmbiguousError, CredentialsError, PermanentError, StoreError
from campaign.http.exchange import url_for_message
from campaign.queue.dialect import create_engine
from campaign.secrets import redact
from tests.helpers.channels import make_account, respond, run_with

TOKEN = "canaryTOKENabcdefghijklmnopqrstuvwxyz0123456789"
PART = Part(post_id="p", idempotency_key="k" * 32, text="Hello.", campaign="c")


def pieces(secret: str, size: int = 8) -> list[str]:
    """Every run of ``size`` characters of ``secret``: none may be left in a message."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_no_piece(text: str, secret: str) -> None:
    left = [p for p in pieces(secret) if p in text]
    assert not left, f"{left[0]!r} of the secret is in {text!r}"


def mastodon(token: str = TOKEN) -> MastodonAdapter:
    return MastodonAdapter(make_account("mastodon", {"instance": "https://social.example"}, {"token": token}))


@pytest.mark.parametrize("before", [0, 229, 250])
def test_an_echoed_token_is_redacted_before_the_message_is_cut(before: int) -> None:
    """Mastodon's messages keep 300 characters: a token echoed across that cut used to keep its head."""
    body = {"error": "x" * before + f" invalid token in 'Authorization: Bearer {TOKEN}'"}
    channel = mastodon()
    with pytest.raises(PermanentError) as caught:
        run_with(lambda r: respond(401, body), channel.publish(PART), channel)
    assert_no_piece(str(caught.value), TOKEN)
    assert_no_piece(caught.value.platform_message or "", TOKEN)


def test_a_token_with_whitespace_runs_is_redacted_before_they_are_squashed() -> None:
    token = "canary  double\tspace-token-77"
    channel = mastodon(token)
    with pytest.raises(PermanentError) as caught:
        run_with(lambda r: respond(401, text=f"bad token {token} given"), channel.publish(PART), channel)
    assert "double space-token" not in str(caught.value)
    assert "[REDACTED]" in str(caught.value)


def test_slack_quotes_of_the_webhook_token_are_redacted_before_the_cut() -> None:
    hook = "https://hooks.slack.com/services/T0CANARY/B0CANARY/" + TOKEN
    slack = SlackAdapter(make_account("slack", {}, {"webhook_url": hook}))
    text = "y" * 180 + " token " + TOKEN
    with pytest.raises(PermanentError) as caught:
        run_with(lambda r: respond(404, text=text), slack.publish(PART), slack)
    assert_no_piece(str(caught.value), TOKEN)


def test_urls_are_named_as_sent_so_the_secret_url_is_found() -> None:
    url = httpx.URL("https://xn--bcher-kva.example:8443/hooks/s3cr%2Bet%20path%C3%A9?sig=abc")
    assert url_for_message(url) == "https://xn--bcher-kva.example:8443/hooks/s3cr%2Bet%20path%C3%A9"
    assert url_for_message(httpx.URL("http://[::1]:9/x")) == "http://[::1]:9/x"
    hook = "https://xn--bcher-kva.example:8443/hooks/s3cr%2Bet%20path%C3%A9"
    assert redact(f"POST {url_for_message(url)} refused", [hook]) == "POST [REDACTED] refused"
    assert "s3cr+et pathé" not in redact("POST /hooks/s3cr+et pathé failed", [hook])


def test_a_token_in_a_query_or_a_path_segment_is_redacted_when_echoed_alone() -> None:
    sig = "SIGabcdefghijklmnopqrstuvwxyz0123456789"
    teams = (
        "https://prod.example.com/workflows/abc/triggers/manual/paths/invoke"
        f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
    )
    said = redact(f"The signature '{sig}' for sp=/triggers/manual/run is not valid.", [teams])
    assert said == "The signature '[REDACTED]' for sp=[REDACTED] is not valid."
    slack = f"https://hooks.slack.com/services/T0CANARY/B0CANARY/{TOKEN}"
    assert redact(f"no_service: {TOKEN}", [slack]) == "no_service: [REDACTED]"


def test_percent_escapes_in_lower_case_are_redacted() -> None:
    secret = "can+ary/tok=abc"
    assert redact("echo can%2bary%2ftok%3dabc end", [secret]) == "echo [REDACTED] end"
    assert redact("echo can%2Bary%2Ftok%3Dabc end", [secret]) == "echo [REDACTED] end"


def test_a_webhook_url_with_a_user_and_password_is_refused_without_showing_them() -> None:
    account = make_account("webhook", {}, {"webhook_url": "https://hookuser:PassCanary77@hooks.example/in/abc"})
    channel = WebhookAdapter(account)
    sent: list[httpx.Request] = []
    with pytest.raises(PermanentError) as caught:
        run_with(lambda r: sent.append(r) or respond(200, {}), channel.publish(PART), channel)
    assert "user name or password" in str(caught.value)
    assert "PassCanary77" not in str(caught.value) and "hookuser" not in str(caught.value)
    assert sent == []


def test_a_receivers_receipt_is_redacted_and_bounded() -> None:
    hook = f"https://hooks.example/in/{TOKEN}"
    channel = WebhookAdapter(make_account("webhook", {}, {"webhook_url": hook}))
    answer = {"id": f"/in/{TOKEN}?x=1" + "i" * 1000, "url": hook}
    receipt = run_with(lambda r: respond(200, answer), channel.publish(PART), channel)
    assert isinstance(receipt, Receipt)
    assert_no_piece(receipt.remote_id + (receipt.url or ""), TOKEN)
    assert len(receipt.remote_id) <= 500


def test_a_non_ascii_credential_is_one_clear_error_naming_no_character() -> None:
    channel = mastodon("tökén-canary-value-123")
    with pytest.raises(CredentialsError) as caught:
        run_with(lambda r: respond(200, {"id": "1"}), channel.publish(PART), channel)
    message = str(caught.value)
    assert "non-ASCII" in message and "acct" in message
    assert "ö" not in message and "position" not in message and "canary" not in message


def test_an_answer_whose_encoding_does_not_decode_is_an_unknown_outcome() -> None:
    """httpx's own decoder raises DecodingError, which is no TransportError: it used to be a bug."""
    def gzipped(body: bytes) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(body))

    channel = mastodon()
    with pytest.raises(AmbiguousError, match="DecodingError after the request was sent"):
        run_with(lambda r: gzipped(b"not gzip at all"), channel.publish(PART), channel)
    sent = run_with(lambda r: gzipped(gzip.compress(b'{"id": "9"}')), channel.publish(PART), channel)
    assert sent.remote_id == "9"


def test_the_text_of_a_bug_is_scrubbed_before_it_is_stored() -> None:
    mastodon()  # resolves TOKEN in this process
    now = datetime(2027, 1, 1, tzinfo=UTC)
    bug = KeyError(f"header Bearer {TOKEN}")
    decision = decide(bug, attempt=1, requests_sent=True, now=now, policy=DispatchConfig(owner="t"))
    assert decision.reason is not None and "KeyError" in decision.reason
    assert_no_piece(decision.reason, TOKEN)


def test_a_database_url_that_does_not_parse_hides_its_password() -> None:
    with pytest.raises(StoreError) as caught:
        create_engine("postgresql+psycopg ://auditor:Pg/Pass@Canary77@db.internal/campaign", 5.0)
    assert "Canary77" not in str(caught.value) and "Pg/Pass" not in str(caught.value)
    assert "auditor:***@db.internal" in str(caught.value)
