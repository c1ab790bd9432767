"""The adapter contract suite (:mod:`campaign.channels.contract`) over every installed adapter.

These checks replace what each adapter's test module used to repeat (dry-run placeholders, canaries in
dry-run requests, verify sending nothing, generic status classification); the modules keep the
platform-specific cases.
"""

from __future__ import annotations

import json

import pytest

from campaign import channels
from campaign.channels import contract
from campaign.http.exchange import Recording, describe_request, run_dry


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", channels.names())
def test_adapter_meets_the_contract(name: str, check: contract.Check) -> None:
    cls = channels.load(name)
    assert cls.name == name, f"{cls.__name__}.name is {cls.name!r}, registered as {name!r}"
    check(cls)


def test_every_built_in_adapter_is_checked() -> None:
    built_in = {
        "bluesky", "discord", "facebook", "linkedin", "mastodon", "slack", "teams", "telegram", "threads",
        "webhook", "x",
    }  # fmt: skip
    assert built_in <= set(channels.names())


@pytest.mark.parametrize("name", channels.names())
def test_dry_run_report_hides_every_secret(name: str) -> None:
    """What `preview --requests` shows of a dry run with real credentials holds none of them, in any form.

    The contract proves secrets travel only verbatim; this proves the report's redaction then finds them.
    """
    cls = channels.load(name)
    adapter = contract.sample_adapter(cls, placeholder=False)
    recording = Recording()
    run_dry(adapter.publish(contract.FIRST), adapter, contract.FIRST, recording)
    run_dry(adapter.verify(), adapter, None, recording)
    secrets = contract.secret_values(cls) | contract.canaries(cls)
    for request in recording.requests:
        described = json.dumps(describe_request(request, adapter.account.credentials.known_values()))
        assert not contract.find_secrets(described, secrets), described
