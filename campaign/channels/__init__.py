"""Channel adapters, found by name through the ``campaign.channels`` entry-point group.

The built-in adapters are registered in ``pyproject.toml`` exactly as a third-party package registers its
own::

    [project.entry-points."campaign.channels"]
    myplatform = "my_package.module:MyAdapter"

Owns the adapter contract (`base`), shared helpers (`helpers`), the contract suite (`contract`) and one module
per platform. Adapters describe exchanges
(requests and how to read their responses); they never send, sleep or read the wall clock.
May import: the foundation modules, `campaign.text` and `campaign.schedule`; never `campaign.http` or later.
Every adapter, built in or not, must pass the contract suite :mod:`campaign.channels.contract`
(``python -m campaign.channels.contract myplatform``); the contract itself is :mod:`campaign.channels.base`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from campaign.errors import ConfigError

if TYPE_CHECKING:
    from campaign.channels.base import Adapter

GROUP = "campaign.channels"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Installed channel names, sorted."""
    return sorted(_entry_points())


@cache
def load(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``. Raises ConfigError listing the installed names."""
    from campaign.channels.base import Adapter

    ep = _entry_points().get(name)
    if ep is None:
        raise ConfigError(f"unknown channel {name!r} (installed: {', '.join(names()) or 'none'})")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"channel {name!r} ({ep.value}) is not a campaign.channels.base.Adapter subclass")
    return cls
