"""The adapter contract suite (:mod:`campaign.channels.contract`) over every installed adapter.

These checks replace what each adapter's test module used to repeat (dry-run placeholders, canaries in
dry-run requests, verify sending nothing, generic status classification); the modules keep the
platform-specific cases.
"""

from __future__ import annotations

import pytest

from campaign import channels
from campaign.channels import contract


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
