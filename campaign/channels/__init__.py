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

import importlib
import importlib.util
import sys
import types
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from campaign.errors import ConfigError

if TYPE_CHECKING:
    from campaign.channels.base import Adapter

GROUP = "campaign.channels"


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module until one of its names is first read, then imports it and takes
    on all its names (so references to the stand-in keep working). ``import x`` alone does not load it (the
    standard library's LazyLoader does, on Python 3.11)."""

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_deferred_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__.update(real.__dict__)
            self.__dict__["_deferred_real"] = real
        return getattr(real, name)


def _defer_httpx() -> None:
    """Make ``import httpx`` cheap until httpx is used: adapters name httpx everywhere, but describing posts
    (`check`, `preview`) never builds a request, and httpx with what it imports (ssl, email, http.client)
    costs ~70 ms of every such command. A process that already imported httpx keeps it as it is."""
    if "httpx" in sys.modules:
        return
    spec = importlib.util.find_spec("httpx")
    if spec is None:
        return  # not installed: the adapters' own `import httpx` reports it
    stand_in = _DeferredModule("httpx")
    stand_in.__spec__ = spec
    sys.modules["httpx"] = stand_in


_defer_httpx()


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
