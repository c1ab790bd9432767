"""Which credentials a campaign may use is the operator's allow-list, never the campaign file's (issue 11)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from campaign.errors import ConfigError, CredentialsError
from campaign.secrets import (
    RESERVED_ENV,
    Credentials,
    SecretPolicy,
    SecretRef,
    parse_ref,
)


def policy(tmp_path: Path, **environ: str) -> SecretPolicy:
    return SecretPolicy.from_environ({"HOME": str(tmp_path / "home"), **environ})


def ref(raw: object, pol: SecretPolicy, base: Path) -> SecretRef:
    return parse_ref("token", raw, base_dir=base, file="schedules/c.yaml", line=12, policy=pol, account="m")


# -- environment variables ---------------------------------------------------------------------------------


def test_default_allows_the_campaign_prefix_only(tmp_path: Path) -> None:
    pol = policy(tmp_path)
    assert pol.env_patterns == ("CAMPAIGN_*",)
    assert ref("CAMPAIGN_MASTODON_TOKEN", pol, tmp_path) == SecretRef(env="CAMPAIGN_MASTODON_TOKEN")
    assert ref({"env": "CAMPAIGN_X_TOKEN"}, pol, tmp_path) == SecretRef(env="CAMPAIGN_X_TOKEN")


@pytest.mark.parametrize(
    "name", ["OTHER_TEAM_DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "HOME", "PATH", "CAMPAIGN"]
)
def test_a_pull_request_cannot_name_other_variables(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        ref(name, policy(tmp_path), tmp_path)
    assert str(info.value) == (
        f"schedules/c.yaml:12: credential 'token' of account 'm': environment variable {name} is not on the"
        " operator's allow-list (CAMPAIGN_SECRET_ENV: CAMPAIGN_*)"
    )
    with pytest.raises(ConfigError, match="not on the operator's allow-list"):
        ref({"env": name}, policy(tmp_path), tmp_path)


@pytest.mark.parametrize(
    "name",
    ["CAMPAIGN_DB", "CAMPAIGN_DB_URL", "CAMPAIGN_SECRET_ENV", "CAMPAIGN_SECRETS_DIR", "CAMPAIGN_TEST_PG_URL"],
)
def test_campaigns_own_settings_are_never_credentials_even_under_star(tmp_path: Path, name: str) -> None:
    for pol in (policy(tmp_path), policy(tmp_path, CAMPAIGN_SECRET_ENV="*")):
        with pytest.raises(ConfigError, match=r"reserved for campaign's own settings"):
            ref(name, pol, tmp_path)
    assert any(name.startswith(r.rstrip("*")) for r in RESERVED_ENV)


def test_the_operator_chooses_names_and_patterns(tmp_path: Path) -> None:
    pol = policy(tmp_path, CAMPAIGN_SECRET_ENV=" HKSTP_*, MASTODON_TOKEN ,X_?_TOKEN")
    assert pol.env_patterns == ("HKSTP_*", "MASTODON_TOKEN", "X_?_TOKEN")
    for name in ("HKSTP_X_TOKEN", "MASTODON_TOKEN", "X_1_TOKEN"):
        ref(name, pol, tmp_path)
    for name in ("CAMPAIGN_X_TOKEN", "MASTODON_TOKEN_2", "X_12_TOKEN", "OTHER_TEAM_DB_PASSWORD"):
        with pytest.raises(ConfigError):
            ref(name, pol, tmp_path)


def test_an_empty_list_allows_no_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(CAMPAIGN_SECRET_ENV: none\)"):
        ref("CAMPAIGN_X_TOKEN", policy(tmp_path, CAMPAIGN_SECRET_ENV=""), tmp_path)


@pytest.mark.parametrize("bad", ["lower_case", "A B", "X-Y", "[A-Z]*", "../x"])
def test_malformed_patterns_are_clear_errors(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^CAMPAIGN_SECRET_ENV: .* is not a variable name or pattern"):
        policy(tmp_path, CAMPAIGN_SECRET_ENV=f"CAMPAIGN_*,{bad}")


def test_without_a_policy_parse_ref_keeps_its_old_contract(tmp_path: Path) -> None:
    assert parse_ref("t", "ANY_NAME", base_dir=tmp_path, file="c.yaml", line=1) == SecretRef(env="ANY_NAME")


# -- secret files ------------------------------------------------------------------------------------------


@pytest.fixture()
def secrets_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    (folder / "bsky").write_text("canary-file-secret-1\n", encoding="utf-8")
    (tmp_path / "repo" / "schedules").mkdir(parents=True)
    (tmp_path / "repo" / "schedules" / "committed").write_text("x", encoding="utf-8")
    (tmp_path / "elsewhere").write_text("canary-outside-secret-2\n", encoding="utf-8")
    return folder


def test_secret_files_come_from_the_secrets_folders_only(tmp_path: Path, secrets_dir: Path) -> None:
    pol = policy(tmp_path, CAMPAIGN_SECRETS_DIR=str(secrets_dir))
    base = tmp_path / "repo" / "schedules"
    assert ref({"file": str(secrets_dir / "bsky")}, pol, base) == SecretRef(file=secrets_dir / "bsky")
    ref({"file": "../../run-secrets/bsky"}, pol, base)  # relative to the campaign file, landing inside
    for raw, reason in [
        ({"file": "/etc/passwd"}, "secret file /etc/passwd is outside the secrets folders"),
        ({"file": "committed"}, "is outside the secrets folders"),  # a file in the repository
        ({"file": str(tmp_path / "elsewhere")}, "is outside the secrets folders"),
        ({"file": "/proc/self/environ"}, "is outside the secrets folders"),
        ({"file": str(secrets_dir / ".." / "elsewhere")}, "is outside the secrets folders"),
    ]:
        with pytest.raises(ConfigError) as info:
            ref(raw, pol, base)
        message = str(info.value)
        assert message.startswith("schedules/c.yaml:12: credential 'token' of account 'm': ")
        assert reason in message
        assert f"CAMPAIGN_SECRETS_DIR: {secrets_dir}" in message
        assert "canary" not in message


def test_symlinks_and_fifos_in_the_secrets_folder_are_refused(tmp_path: Path, secrets_dir: Path) -> None:
    pol = policy(tmp_path, CAMPAIGN_SECRETS_DIR=str(secrets_dir))
    (secrets_dir / "escape").symlink_to(tmp_path / "elsewhere")
    (secrets_dir / "inside").symlink_to(secrets_dir / "bsky")
    os.mkfifo(secrets_dir / "pipe")
    ref({"file": str(secrets_dir / "inside")}, pol, tmp_path)
    with pytest.raises(ConfigError, match="is outside the secrets folders"):
        ref({"file": str(secrets_dir / "escape")}, pol, tmp_path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        ref({"file": str(secrets_dir / "pipe")}, pol, tmp_path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        ref({"file": str(secrets_dir)}, pol, tmp_path)


def test_default_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert policy(tmp_path).dirs == (Path("/run/secrets"), home / ".config" / "campaign" / "secrets")
    systemd = policy(tmp_path, CREDENTIALS_DIRECTORY="/run/credentials/campaign.service")
    assert systemd.dirs[0] == Path("/run/credentials/campaign.service")
    several = policy(tmp_path, CAMPAIGN_SECRETS_DIR=f"/a{os.pathsep}/b")
    assert several.dirs == (Path("/a"), Path("/b"))
    none = policy(tmp_path, CAMPAIGN_SECRETS_DIR="")
    with pytest.raises(ConfigError, match="none allowed"):
        ref({"file": "/run/secrets/x"}, none, tmp_path)


def test_a_missing_file_inside_the_folder_is_reported_when_read(tmp_path: Path, secrets_dir: Path) -> None:
    pol = policy(tmp_path, CAMPAIGN_SECRETS_DIR=str(secrets_dir))
    missing = ref({"file": str(secrets_dir / "later")}, pol, tmp_path)
    with pytest.raises(CredentialsError, match="cannot be read"):
        Credentials({"t": missing}, account="a", environ={}).get("t")


def test_reading_a_fifo_named_as_a_secret_never_blocks(tmp_path: Path) -> None:
    """``NAME_FILE`` is the operator's own, but a FIFO there must still fail instead of hanging the daemon."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            Credentials(
                {"t": SecretRef(env="CAMPAIGN_T")}, account="a", environ={"CAMPAIGN_T_FILE": str(fifo)}
            ).get("t")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], CredentialsError) and "is not a regular file" in str(outcome[0])


def test_the_campaign_file_has_no_say(tmp_path: Path) -> None:
    """The policy is built from the process environment only; load_campaign refuses unknown top-level keys."""
    from campaign.source.config import load_campaign

    path = tmp_path / "c.yaml"
    path.write_text(
        "campaign: c\nsecret_env: '*'\nzone: UTC\nstart: '2030-01-01 09:00'\naccounts: {}\nposts: []\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="secret_env"):
        load_campaign(path)


def test_the_example_campaign_follows_the_default_allow_list() -> None:
    from campaign.secrets import SecretPolicy
    from campaign.source.config import load_campaign
    from tests.conftest import EXAMPLE

    campaign = load_campaign(EXAMPLE, policy=SecretPolicy.from_environ({}))
    names = {ref.env for account in campaign.accounts.values() for ref in account.credentials.values()}
    assert names and all(name is not None and name.startswith("CAMPAIGN_") for name in names)
