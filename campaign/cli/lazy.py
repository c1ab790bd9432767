"""A Click group whose subcommands are imported only when used (Click's documented lazy-loading pattern).

https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands: ``list_commands`` names
the commands from a table, and ``get_command`` imports a command's module on demand. So ``campaign check``
imports the preview commands and never the queue's (SQLModel), and a broken optional module fails only
the commands that live in it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A group whose ``lazy_subcommands`` map a command name to ``"package.module:attribute"``.

    Commands are listed in table order (the data flow), not alphabetically; commands added eagerly with
    :meth:`add_command` come first.
    """

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands: dict[str, str] = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = [name for name in self.commands if name not in self.lazy_subcommands]
        return eager + list(self.lazy_subcommands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's lookup; a misspelt command (``campaign chek``) is told the near names as well."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            import difflib  # only here: every command would pay ~1 ms to import it

            name = args[0] if args else ""
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if not near:
                raise
            hint = " or ".join(repr(command) for command in near)
            raise click.UsageError(f"no such command {name!r}; did you mean {hint}?", ctx) from None

    def _load(self, cmd_name: str) -> click.Command:
        """Import the command's module (Python caches it) and return the command object it names."""
        module_name, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command (for {cmd_name!r})")
        return command
