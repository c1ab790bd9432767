"""The `campaign` command line (Click).

Exit codes: 0 clean, 1 campaign errors (invalid file, template, schedule, fit, queue, channel),
2 usage errors.
Every failure prints one line ``campaign: error: ...`` to stderr, click's usage errors too
(:func:`usage_line`); ``--debug`` shows the traceback instead.
An exception outside :mod:`campaign.errors` is a bug; it too becomes one line (naming it an internal error).

The root group loads each command's module only when that command runs (:class:`~.lazy.LazyGroup`), one
module per command group: :mod:`.release` (``release show``, ``init``), :mod:`.preview` (``check``,
``preview``, ``measure``), :mod:`.daemon` (``plan``, ``apply``, ``daemon``, ``simulate``), :mod:`.queue`
(``status`` ... ``resume``), :mod:`.report` (``report``, ``metrics``), :mod:`.channels` and :mod:`.db`.
Commands that need no database (`check`,
`preview`, `measure`, `release show`, `init`) never import SQLModel. Per-run state (``--debug``) travels
in the Click context object (:class:`~.options.CliState`), never in a module global. ``--root`` is the
exception by design: it becomes ``$CAMPAIGN_ROOT``, which every loader (and the daemon's reloads) reads; an
in-process call of :func:`main` restores the variable after.
"""

from __future__ import annotations

import errno
import os
import sys

import click

from campaign import __version__
from campaign.cli.lazy import LazyGroup
from campaign.cli.options import CliState, error_line
from campaign.errors import CampaignError

#: What the one line says when an exception outside the tree of :mod:`campaign.errors` escapes (a bug).
INTERNAL_ERROR = "internal error, please report it"
#: errno values that mean output could not be written (a full disk, a quota, a failing device): not a bug.
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})

#: The variable ``--root`` sets (:data:`campaign.source.paths.ENV_ROOT`; that module imports Jinja2).
_ENV_ROOT = "CAMPAIGN_ROOT"

#: Command name -> where it lives, in the order of the data flow (the order `campaign --help` lists them).
COMMANDS: dict[str, str] = {
    "release": "campaign.cli.release:release",
    "init": "campaign.cli.release:init",
    "check": "campaign.cli.preview:check",
    "preview": "campaign.cli.preview:preview",
    "measure": "campaign.cli.preview:measure",
    "plan": "campaign.cli.daemon:plan",
    "apply": "campaign.cli.daemon:apply",
    "daemon": "campaign.cli.daemon:daemon",
    "simulate": "campaign.cli.daemon:simulate",
    "status": "campaign.cli.queue:status",
    "show": "campaign.cli.queue:show",
    "cancel": "campaign.cli.queue:cancel",
    "retry": "campaign.cli.queue:retry",
    "pause": "campaign.cli.queue:pause",
    "resume": "campaign.cli.queue:resume",
    "report": "campaign.cli.report:report",
    "metrics": "campaign.cli.report:metrics",
    "channels": "campaign.cli.channels:channels",
    "db": "campaign.cli.db:db",
}


@click.group(
    cls=LazyGroup, lazy_subcommands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="campaign")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--root",
    metavar="DIR",
    help="The project root every campaign file's templates, release and media must lie in (default: the "
    "campaign file's git work tree, else its parent's parent; sets $CAMPAIGN_ROOT, which it overrides).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, root: str | None) -> None:
    """Turn a press release into a reviewed, scheduled, multi-channel social media campaign."""
    state = ctx.ensure_object(CliState)
    state.debug = debug or bool(os.environ.get("CAMPAIGN_DEBUG"))
    if root is not None:
        _name_root(root)


def _name_root(root: str) -> None:
    """``--root``: checked now (one line if it is not a directory), then handed to every loader (and to the
    daemon's reloads) as ``$CAMPAIGN_ROOT``, the one place the project root is read from."""
    from campaign.errors import ConfigError

    if not root or not os.path.isdir(root):
        raise ConfigError(f"--root {root!r} is not a directory")
    os.environ[_ENV_ROOT] = os.path.abspath(root)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the CLI, turning CampaignErrors into one line and an exit code."""
    state = CliState(whole_process=argv is None)
    named_root = os.environ.get(_ENV_ROOT)
    try:
        rv = cli.main(args=argv, prog_name="campaign", standalone_mode=False, obj=state)
        if state.whole_process:
            sys.stdout.flush()  # a full disk behind stdout fails here, inside the handlers, not at exit
    except click.exceptions.Abort:
        click.echo("campaign: aborted", err=True)
        return 130
    except click.UsageError as exc:  # click's own: a bad option or argument, before any command ran
        click.echo(f"campaign: error: {usage_line(exc)}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except CampaignError as exc:
        if state.debug:
            raise
        click.echo(f"campaign: error: {error_line(str(exc))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("campaign: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if state.debug or exc.errno not in WRITE_FAILURES:
            return _internal_error(exc, state)
        where = exc.filename or "standard output"
        if exc.filename is None and state.whole_process:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (what is still buffered must not fail at exit)
        click.echo(f"campaign: error: cannot write to {error_line(str(where))} ({exc.strerror})", err=True)
        return 1
    except Exception as exc:
        return _internal_error(exc, state)
    finally:
        if not state.whole_process:  # an in-process run (tests, embedding) leaves the environment as it was
            _restore(_ENV_ROOT, named_root)
    return rv if isinstance(rv, int) else 0


def _restore(name: str, value: str | None) -> None:
    """Set or unset environment variable ``name`` back to ``value``."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def usage_line(exc: click.UsageError) -> str:
    """Click's usage error as our one line: its message (a misspelt option keeps click's "did you mean"), the
    command it was for, where to read more. Click's own form is three lines (usage, hint, error); the value
    quoted in it came from the command line, so it is redacted and escaped like any other line
    (:func:`error_line`)."""
    command = exc.ctx.command_path if exc.ctx is not None else "campaign"
    message = exc.format_message().rstrip(".").replace(". (", " (")
    return error_line(f"{command}: {message[:1].lower()}{message[1:]} (see '{command} --help')")


def _internal_error(exc: Exception, state: CliState) -> int:
    """Anything outside our error tree is a bug, but the operator still gets one line (tests assert it never
    appears)."""
    if state.debug:
        raise exc
    click.echo(
        f"campaign: error: {INTERNAL_ERROR} ({type(exc).__name__}: {error_line(str(exc))}); "
        "run with --debug for the traceback",
        err=True,
    )
    return 1


__all__ = ["COMMANDS", "INTERNAL_ERROR", "cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
