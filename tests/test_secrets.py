"""Credentials: references only in files, lazy resolution, redaction everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign.errors import CredentialsError, CredentialsInFileError
from campaign.secrets import Credentials, SecretRef, parse_ref, redact, redact_resolved


def ref(raw: object, tmp_path: Path) -> SecretRef:
    return parse_ref("token", raw, base_dir=tmp_path, file="c.yaml", line=7)


def test_accepted_reference_forms(tmp_path: Path) -> None:
    assert ref("MASTODON_TOKEN", tmp_path) == SecretRef(env="MASTODON_TOKEN")
    assert ref({"env": "X_TOKEN"}, tmp_path) == SecretRef(env="X_TOKEN")
    assert ref({"file": "secrets/x"}, tmp_path) == SecretRef(file=tmp_path / "secrets/x")


@pytest.mark.parametrize("raw", ["sk-live-123456", "ghp_abcdefABCDEF1234", "lower_case_name", "Bearer abc"])
def test_values_are_refused_without_echoing_them(tmp_path: Path, raw: str) -> None:
    with pytest.raises(CredentialsInFileError) as info:
        ref(raw, tmp_path)
    assert "c.yaml:7" in str(info.value)
    assert raw not in str(info.value)


def test_resolution_from_env_file_var_and_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "tok"
    secret_file.write_text("  from-file-secret\n", encoding="utf-8")
    creds = Credentials(
        {"a": SecretRef(env="A"), "b": SecretRef(env="B"), "c": SecretRef(file=secret_file)},
        account="acct",
        environ={"A": "env-secret-value", "B_FILE": str(secret_file)},
    )
    assert creds.get("a") == "env-secret-value"
    assert creds.get("b") == "from-file-secret"
    assert creds.get("c") == "from-file-secret"
    assert "env-secret-value" not in repr(creds)
    assert sorted(creds.known_values()) == ["env-secret-value", "from-file-secret", "from-file-secret"]


def test_missing_secret_names_the_variable_only(tmp_path: Path) -> None:
    creds = Credentials({"a": SecretRef(env="MISSING_TOKEN")}, account="acct", environ={})
    with pytest.raises(
        CredentialsError, match="account 'acct': environment variable MISSING_TOKEN is not set"
    ):
        creds.get("a")
    with pytest.raises(CredentialsError, match="no credential 'zzz'"):
        creds.get("zzz")
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CredentialsError, match="is empty"):
        Credentials({"a": SecretRef(file=empty)}, account="acct", environ={}).get("a")


@pytest.mark.parametrize("value", ["Q", "Zq9"])
def test_a_secret_too_short_to_redact_is_refused_without_showing_it(value: str) -> None:
    """Redaction leaves texts under 4 characters alone (they would mangle ordinary words), so a credential
    that short would reach logs and error messages as it is: it is refused when it is first used."""
    creds = Credentials({"token": SecretRef(env="SHORT")}, account="acct", environ={"SHORT": value})
    with pytest.raises(CredentialsError, match="'acct': credential 'token' has fewer than 4") as caught:
        creds.get("token")
    assert value not in str(caught.value)
    assert Credentials({"t": SecretRef(env="T")}, account="a", environ={"T": "abcd"}).get("t") == "abcd"


def test_placeholders_for_dry_runs_are_never_registered() -> None:
    creds = Credentials(
        {"token": SecretRef(env="T")}, account="acct", environ={"T": "real-value-xyz"}, placeholder=True
    )
    assert creds.get("token") == "<T>"
    assert creds.known_values() == ["<T>"]
    assert redact_resolved("real-value-xyz") == "real-value-xyz"  # never resolved, so nothing to scrub


def test_redaction_longest_first_and_process_wide() -> None:
    assert redact("token abcdef and abcdefgh", ["abcdef", "abcdefgh"]) == "token [REDACTED] and [REDACTED]"
    assert redact("short ab", ["ab"]) == "short ab"  # too short to be a credential
    creds = Credentials({"t": SecretRef(env="T")}, account="a", environ={"T": "canary-process-wide-42"})
    creds.get("t")
    assert redact_resolved("GET /botcanary-process-wide-42/sendMessage") == "GET /bot[REDACTED]/sendMessage"
    creds.remember("refreshed-token-canary-99")
    assert "refreshed" not in redact_resolved("Bearer refreshed-token-canary-99")


def test_a_secret_registered_again_is_kept_once() -> None:
    """Webhook adapters register the URL's path (a secret of its own) on every request; a daemon sending for
    months kept one more copy per request, and every error's redaction went through all of them."""
    from campaign.channels.base import Account, Part
    from campaign.channels.slack import SlackAdapter

    url = "https://hooks.slack.com/services/T0CANARY/B0CANARY/remembered0canary0path0x"
    creds = Credentials({"webhook_url": SecretRef(env="W")}, account="s", environ={"W": url})
    adapter = SlackAdapter(Account("s", "slack", {}, creds))
    for i in range(50):
        next(adapter.publish(Part(post_id="p", idempotency_key=f"k{i}", text="hi")))
    creds.remember(url)
    assert creds.known_values() == [url, "/services/T0CANARY/B0CANARY/remembered0canary0path0x"]
    assert redact_resolved("POST /services/T0CANARY/B0CANARY/remembered0canary0path0x") == "POST [REDACTED]"


def test_rotated_secrets_are_used_persisted_to_files_and_redacted(tmp_path: Path) -> None:
    refresh = tmp_path / "refresh"
    refresh.write_text("old-refresh-value\n", encoding="utf-8")
    via_env_file = tmp_path / "token"
    via_env_file.write_text("old-access-value\n", encoding="utf-8")
    creds = Credentials(
        {
            "refresh_token": SecretRef(file=refresh),
            "token": SecretRef(env="TOK"),
            "other": SecretRef(env="OTHER"),
        },
        account="acct",
        environ={"TOK_FILE": str(via_env_file), "OTHER": "plain-env-value"},
    )
    assert creds.get("refresh_token") == "old-refresh-value"
    assert creds.rotate("refresh_token", "new-refresh-canary-1") is True
    assert creds.get("refresh_token") == "new-refresh-canary-1"
    assert refresh.read_text(encoding="utf-8") == "new-refresh-canary-1\n"
    assert refresh.stat().st_mode & 0o777 == 0o600
    assert creds.rotate("token", "new-access-canary-2") is True
    assert via_env_file.read_text(encoding="utf-8").strip() == "new-access-canary-2"
    # an environment variable cannot be written back: used in memory, reported as not persisted
    assert creds.rotate("other", "new-other-canary-3") is False
    assert creds.get("other") == "new-other-canary-3"
    assert redact_resolved("x new-refresh-canary-1 new-other-canary-3") == "x [REDACTED] [REDACTED]"
    assert not list(tmp_path.glob(".*.new"))  # no temporary file left behind
