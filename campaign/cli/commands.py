"""Registers the command groups that live in their own modules on the main `campaign` CLI.

Each module keeps its import light (Click only); the heavy work is imported inside the command functions.
"""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the queue, daemon, channel and database commands to ``cli`` (idempotent)."""
    if "status" in cli.commands:
        return
    from campaign.cli import channels as cli_channels
    from campaign.cli import daemon as cli_daemon
    from campaign.cli import db as cli_db
    from campaign.cli import queue as cli_queue

    for command in cli_daemon.COMMANDS:
        cli.add_command(command)
    for command in cli_queue.COMMANDS:
        cli.add_command(command)
    cli.add_command(cli_channels.channels)
    for command in cli_db.COMMANDS:
        cli.add_command(command)
