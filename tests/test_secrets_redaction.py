"""Redaction covers the forms a secret takes in transit (issue 11): canaries in each encoding.

Every canary holds characters that change under some encoding: a double quote and a backslash (JSON), a
slash, a plus and a space (URL encoding), non-ASCII letters (JSON's \\u escapes, UTF-8 percent-encoding).
The requests are built by httpx itself, as the adapters build them.
"""

from __future__ import annotations

import base64
import gc
import json
import math
import threading
import weakref
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import httpx
import pytest

from campaign.secrets import REDACTED, redact, secret_forms

CANARIES = [
    'canary "quoted" secret-1',
    "canary\\back\\slash-2",
    "canary/with/slashes-3",
    "canary+plus+signs-4",
    "canary with spaces 5",
    "canary-é-漢字-ß-6",
    'canary "all" \\ /p+ q é-漢字-7',
]


def assert_clean(text: str, secret: str) -> None:
    assert REDACTED in text
    for form in (secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)):
        assert form not in text, form


@pytest.mark.parametrize("secret", CANARIES)
def test_raw(secret: str) -> None:
    assert redact(f"error: token {secret} rejected", [secret]) == f"error: token {REDACTED} rejected"


@pytest.mark.parametrize("secret", CANARIES)
def test_json_escaped_as_httpx_and_json_dumps_write_it(secret: str) -> None:
    body = httpx.Request("POST", "https://api.example/x", json={"token": secret}).content.decode()
    assert_clean(redact(body, [secret]), secret)
    for ascii_only in (True, False):
        dumped = json.dumps({"token": secret, "nested": [secret]}, ensure_ascii=ascii_only)
        clean = redact(dumped, [secret])
        assert_clean(clean, secret)
        assert json.loads(clean) == {"token": REDACTED, "nested": [REDACTED]}  # still valid JSON


@pytest.mark.parametrize("secret", CANARIES)
def test_url_encoded_in_queries_and_forms(secret: str) -> None:
    url = str(httpx.Request("GET", "https://api.example/x", params={"access_token": secret}).url)
    assert redact(url, [secret]) == f"https://api.example/x?access_token={REDACTED}"
    form = httpx.Request("POST", "https://api.example/x", data={"t": secret, "n": "1"}).content.decode()
    assert redact(form, [secret]) == f"t={REDACTED}&n=1"
    for encoded in (quote(secret), quote(secret, safe=""), quote_plus(secret), urlencode({"k": secret})[2:]):
        assert redact(f"GET /x?k={encoded} 401", [secret]) == f"GET /x?k={REDACTED} 401"


@pytest.mark.parametrize("secret", CANARIES)
@pytest.mark.parametrize("user", ["u", "us", "usr", "client-id-1234"])
def test_base64_in_basic_auth_whatever_the_user_name(secret: str, user: str) -> None:
    request = next(httpx.BasicAuth(user, secret).auth_flow(httpx.Request("GET", "https://api.example/")))
    header = request.headers["authorization"]
    clean = redact(f"sent Authorization: {header}", [secret])
    assert REDACTED in clean
    # what is left of the base64 text decodes to at most 2 bytes of the secret on each side
    left = clean.split("Basic ", 1)[1].split(REDACTED)
    assert all(len(part.rstrip("=")) <= len(base64.b64encode((user + ":").encode())) + 4 for part in left)
    plain = base64.b64encode(secret.encode()).decode()
    assert redact(plain, [secret]).count(REDACTED) == 1
    urlsafe = base64.urlsafe_b64encode(("x:" + secret).encode()).decode()
    assert REDACTED in redact(urlsafe, [secret])


def test_a_secret_url_without_its_query_and_its_path_alone() -> None:
    hook = "https://hooks.example.com/services/T0/B0/canary-path+secret?sig=abc123&v=1"
    bare = "https://hooks.example.com/services/T0/B0/canary-path+secret"
    path = "/services/T0/B0/canary-path+secret"
    assert redact(f"POST {hook} failed", [hook]) == f"POST {REDACTED} failed"
    assert redact(f"POST {bare} failed", [hook]) == f"POST {REDACTED} failed"  # the query dropped
    assert redact(f'"POST {path} HTTP/1.1" 500', [hook]) == f'"POST {REDACTED} HTTP/1.1" 500'  # a server log
    assert redact(json.dumps({"url": bare}), [hook]) == json.dumps({"url": REDACTED})  # "/" is not escaped
    assert REDACTED in redact(quote(bare, safe=""), [hook])  # the URL as a query parameter


def test_short_paths_and_short_secrets_are_left_alone() -> None:
    assert redact("GET / and /hook", ["https://example.com/hook?k=v"]) == "GET / and /hook"
    assert redact("short ab", ["ab"]) == "short ab"
    assert all(len(form) >= 4 for form in secret_forms("abcd"))
    assert "" not in secret_forms("a b c d")


def test_forms_are_computed_once_per_secret() -> None:
    secret = "canary-cached-form-8"
    assert secret_forms(secret) is secret_forms(secret)


# -- many secrets at once: one Aho-Corasick search (campaign.secrets._Redactor) ----------------------------

MANY = [f"token-{n:04d}-{'x' * (n % 7)}-{n * 7919 % 10007}" for n in range(200)] + CANARIES


@pytest.mark.parametrize("secrets", [CANARIES, MANY], ids=["few (per form)", "many (one search)"])
def test_every_form_of_every_secret_is_redacted_among_many(secrets: list[str]) -> None:
    forms = sorted({form for secret in secrets for form in secret_forms(secret)})
    text = " | ".join(f"before {form} after" for form in forms)
    scrubbed = redact(text, secrets)
    for secret in secrets:
        assert_clean(scrubbed, secret)
    assert scrubbed.count("before ") == len(forms) and scrubbed.count(" after") == len(forms)


@pytest.mark.parametrize("secrets", [CANARIES, MANY], ids=["few", "many"])
def test_overlapping_and_adjacent_occurrences(secrets: list[str]) -> None:
    one, two = secrets[0], secrets[1]
    assert redact(f"<{one}{two}>", secrets) == f"<{REDACTED}{REDACTED}>"  # adjacent: each its own
    glued = one + one[len(one) // 2 :]  # the second occurrence would start inside the first
    assert redact(f"<{one}{one}>", secrets) == f"<{REDACTED}{REDACTED}>"
    assert one not in redact(glued + one, secrets)
    assert redact("no secret here at all, nothing to do", secrets) == "no secret here at all, nothing to do"


@pytest.mark.parametrize("secrets", [CANARIES, MANY], ids=["few", "many"])
def test_text_around_secrets_is_kept_whatever_its_characters(secrets: list[str]) -> None:
    """Occurrences are located by character, not byte: wide characters before a secret move nothing."""
    one = secrets[-1]
    text = f"ä漢字😀 {one} tail 😀{one}é"
    assert redact(text, secrets) == f"ä漢字😀 {REDACTED} tail 😀{REDACTED}é"


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> Any:
    """campaign.secrets with no secret resolved yet (restored after the test)."""
    from campaign import secrets

    monkeypatch.setattr(secrets, "_RESOLVED", {})
    monkeypatch.setattr(secrets, "_fresh", {})
    monkeypatch.setattr(secrets, "_added", 0)
    monkeypatch.setattr(secrets, "_retired", 0)
    monkeypatch.setattr(secrets, "_layers", secrets._Layers())
    monkeypatch.setattr(secrets, "_quiet", 0)
    return secrets


@pytest.fixture
def forms_built(resolved: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of forms of each redactor built from now on."""
    built: list[int] = []

    class Counting(resolved._Redactor):  # type: ignore[misc,name-defined]
        def __init__(self, forms: frozenset[str]) -> None:
            built.append(len(forms))
            super().__init__(forms)

    monkeypatch.setattr(resolved, "_Redactor", Counting)
    return built


def _token(i: int) -> str:
    return f"tok{i:05d}-{i * 7919 % 100_003:06d}-secret"


def test_each_secret_is_redacted_from_the_line_after_it_is_resolved(resolved: Any) -> None:
    """Secrets resolved one by one (an account's token on its first post, a refreshed token) are each
    scrubbed from the next line on, with every one resolved before, in every form, at every level size."""
    for i in range(300):
        resolved._resolved(_token(i))
        earlier = _token(i * 37 % (i + 1))
        line = f"sent {_token(i)} via {quote(earlier, safe='')} and {json.dumps(_token(i // 2))}"
        assert resolved.redact_resolved(line).count(REDACTED) == 3, i
    everything = " ".join(_token(i) for i in range(300))
    assert resolved.redact_resolved(everything) == " ".join([REDACTED] * 300)


def test_secrets_resolved_one_by_one_are_not_rebuilt_each_time(resolved: Any, forms_built: list[int]) -> None:
    """Rebuilding one redactor per new secret costs the whole set each time (quadratic in the accounts);
    the levels rebuild each form about log(n) times."""
    n = 2000
    for i in range(n):
        resolved._resolved(_token(i))
        resolved.redact_resolved("a line")
    forms = sum(len(secret_forms(_token(i))) for i in range(n))
    assert sum(forms_built) <= forms * (math.log(forms, 1.5) + 1)  # one redactor per secret: ~forms * n / 2
    assert len(resolved._layers.levels) <= math.log2(forms) + 1


def test_the_levels_become_one_after_a_quiet_spell_and_the_old_ones_are_freed(resolved: Any) -> None:
    for i in range(100):
        resolved._resolved(_token(i))
        resolved.redact_resolved("a line")
    assert len(resolved._layers.levels) > 1
    outgrown = [weakref.ref(level) for level in resolved._layers.levels]
    for _ in range(resolved.COMPACT_AFTER):
        resolved.redact_resolved("a line")
    assert len(resolved._layers.levels) == 1
    gc.collect()
    assert all(ref() is None for ref in outgrown)
    assert resolved.redact_resolved(f"{_token(0)} {_token(99)}") == f"{REDACTED} {REDACTED}"


def test_threads_that_resolve_and_redact_at_once_lose_no_secret(resolved: Any) -> None:
    """The commit thread logs while the event loop's thread resolves tokens: each snapshot stays whole."""
    start = threading.Barrier(4)
    leaked: list[int] = []

    def work(first: int) -> None:
        start.wait()
        for i in range(first, first + 250):
            resolved._resolved(_token(i))
            if _token(i) in resolved.redact_resolved(f"x {_token(i)} y"):
                leaked.append(i)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert leaked == []
    line = " ".join(_token(k * 1000 + i) for k in range(4) for i in range(250))
    assert resolved.redact_resolved(line) == " ".join([REDACTED] * 1000)


def test_replaced_tokens_stay_redacted_a_while_then_are_forgotten(resolved: Any) -> None:
    """A daemon renews tokens for months (X every two hours, Bluesky sessions too). Each value replaced
    stays redacted for the next SUPERSEDED_KEPT renewals (an answer or error about a request sent just
    before may carry it), then is forgotten: the set of secrets, and the redactors, stay the same size."""
    from campaign.secrets import SUPERSEDED_KEPT, Credentials, SecretRef

    creds = Credentials({"token": SecretRef(env="T")}, account="x", environ={"T": "env-token-canary-0"})
    creds.get("token")
    values = [f"rotated-token-canary-{i:04d}" for i in range(200)]
    for value in values:
        creds.rotate("token", value)
        assert resolved.redact_resolved(f"Bearer {value}") == f"Bearer {REDACTED}"
    held = values[-1 - SUPERSEDED_KEPT :]
    # the value resolved from the environment is held for good: the variable still holds it
    assert set(resolved._RESOLVED) == {"env-token-canary-0", *held}
    assert sorted(creds.known_values()) == sorted(held)
    assert resolved.redact_resolved(" ".join(held)) == " ".join([REDACTED] * len(held))
    # forgotten secrets leave the redactors lazily: at most as many as are held are still built in
    assert resolved._layers.built <= 2 * len(resolved._RESOLVED)
    built = {form for level in resolved._layers.levels for form in level.forms}
    assert built >= set().union(*(secret_forms(s) for s in resolved._RESOLVED))


def test_forgotten_secrets_do_not_rebuild_the_redactors_each_time(
    resolved: Any, forms_built: list[int]
) -> None:
    """A rebuild of every held secret's forms takes about 80 ms at 2,000 secrets; one per renewal would
    stall a daemon with many X accounts every few seconds. Rebuilds wait until more secrets left than half
    of those built in, so each renewal costs O(1) forms built on average, as each new secret does."""
    from campaign.secrets import Credentials

    accounts = [Credentials({}, account=f"a{i}", environ={}) for i in range(100)]
    values = []
    for renewal in range(30):
        for i, creds in enumerate(accounts):
            value = f"issued-{i:03d}-{renewal:02d}-canary"
            values.append(value)
            creds.issued("token", value)
            assert resolved.redact_resolved(value) == REDACTED
    forms = sum(len(secret_forms(v)) for v in values)
    assert sum(forms_built) <= forms * (math.log(forms, 1.5) + 1)  # a rebuild per renewal: ~forms * 300 / 2
    assert len(resolved._RESOLVED) == 100 * 3


def test_values_issued_to_credentials_are_forgotten_with_them(resolved: Any) -> None:
    """A campaign reload drops the adapters of accounts no file defines; the session tokens they were
    issued go with them, unless other credentials hold the same value. Resolved secrets stay."""
    from campaign.secrets import Credentials, SecretRef

    def credentials() -> Credentials:
        return Credentials({"p": SecretRef(env="P")}, account="b", environ={"P": "app-password-canary"})

    one, two = credentials(), credentials()
    one.get("p")
    one.issued("session access token", "session-jwt-canary-1")
    one.issued("session refresh token", "shared-jwt-canary-2")
    two.issued("session refresh token", "shared-jwt-canary-2")
    assert resolved.redact_resolved("session-jwt-canary-1") == REDACTED
    del one
    gc.collect()
    assert set(resolved._RESOLVED) == {"app-password-canary", "shared-jwt-canary-2"}
    assert resolved.redact_resolved("shared-jwt-canary-2 app-password-canary") == f"{REDACTED} {REDACTED}"
    assert two.known_values() == ["shared-jwt-canary-2"]
