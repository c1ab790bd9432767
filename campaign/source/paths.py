"""Confining a campaign's files to its project root: templates, includes, releases, media.

Campaign files arrive as pull requests, so every path a campaign file names (``release:``, ``templates:``, a
template's ``{% include %}``, media) is untrusted. The rules:

* The **project root** is the enclosing git work tree of the campaign file (the nearest directory upwards
  holding ``.git``, a directory or a worktree's ``.git`` file; found by walking up from where the file is
  named, no ``git`` subprocess), else the campaign file's parent's parent (``schedules/x.yaml`` -> the folder
  holding ``schedules/``), or the root the operator names (``CAMPAIGN_ROOT``, :data:`ENV_ROOT`). The
  campaign file itself must lie inside it too, symlinks followed: a pull request's ``schedules/x.yaml`` that
  links elsewhere is refused before it is read.
* A path resolves (relative paths against the campaign file's folder) with **every symlink followed first**,
  then must lie inside the root. ``/proc``, ``/sys`` and ``/dev`` are refused even when the root contains
  them (a root of ``/``), and so is anything in a folder named ``.git`` (git's own files: a CI checkout
  keeps the job's token in ``.git/config``) or in one of the operator's secrets folders
  (``CAMPAIGN_SECRETS_DIR``, :func:`campaign.secrets.secret_dirs`) that lies inside the root. Where a file
  is wanted only a regular file is accepted (never a FIFO, device, socket or directory), and where a folder
  is wanted only a directory.
* Every refusal is one :class:`~campaign.errors.ConfigError` line naming the campaign file (and line), the
  key and the path as written; template lookups fail with a :class:`~campaign.errors.TemplateError` naming
  the template.

:func:`read_confined` opens a checked file without following a symlink swapped in after the check
(``O_NOFOLLOW``) and without blocking on a FIFO (``O_NONBLOCK``), re-checks it is regular, and reads at most a
byte budget: what was checked is what is read.

:class:`ConfinedLoader` is the Jinja2 loader that applies the same rules to template names, so ``{% include
"proc/self/environ" %}``, ``{% import "../../etc/passwd" %}`` or a symlink in the template folder pointing
out of the root are refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import jinja2

from campaign.errors import ConfigError, TemplateError
from campaign.secrets import ENV_DIRS, secret_dirs

#: Pseudo file systems a campaign may never read, whatever the root: process environments and memory
#: (/proc/self/environ holds every credential), kernel state, devices (/dev/zero never ends).
FORBIDDEN_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))

#: Git's own folder (of the work tree or a nested repository): inside the root, but never a campaign's to
#: read. A CI checkout keeps the job's token in ``.git/config`` (actions/checkout's ``extraheader``), and a
#: template including it would print the token in the preview CI posts on the pull request.
GIT_FOLDER = ".git"

#: The operator's project root (a directory), for every campaign file: a CI job sets it to its checkout.
#: Only the environment sets it (never a campaign file).
ENV_ROOT = "CAMPAIGN_ROOT"

#: Largest template or release read (bytes); bigger files are refused rather than read into memory.
MAX_FILE_BYTES = 4 * 1024 * 1024

Kind = Literal["file", "dir"]


def find_project_root(campaign_file: str | Path, explicit: str | Path | None = None) -> Path:
    """The project root of ``campaign_file`` (rules in the module docstring), resolved (no symlinks).

    ``explicit``, else ``$CAMPAIGN_ROOT``, wins and must be an existing directory (ConfigError otherwise).
    Otherwise the walk starts where the file is named, not where a symlink leads: a campaign file that links
    out of its checkout does not carry the root along (:func:`confine_campaign_file` then refuses it).
    """
    from_env = explicit is None and bool(os.environ.get(ENV_ROOT))
    if from_env:
        explicit = os.environ[ENV_ROOT]
    if explicit is not None:
        root = Path(os.path.realpath(explicit))
        if not root.is_dir():
            name = f"project root ({ENV_ROOT})" if from_env else "project root"
            raise ConfigError(f"{name} {str(explicit)!r} is not a directory")
        return root
    folder = Path(os.path.abspath(campaign_file)).parent
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(folder.parent))


def confine_campaign_file(root: Path, campaign_file: Path, display: str) -> Path:
    """``root``, once the campaign file is known to lie inside it. Raises ConfigError naming ``display`` when
    the campaign file is a regular file that resolves outside ``root`` (a symlink out of the checkout) or into
    a place no campaign reads. A missing file, a FIFO or a device is left to the reader's own message
    (:func:`campaign.source.yamlfile.load_yaml`)."""
    try:
        if not stat.S_ISREG(os.stat(campaign_file).st_mode):
            return root
        real = Path(os.path.realpath(campaign_file))
        if not real.is_relative_to(root):
            raise ConfigError(
                f"the campaign file resolves to {real}, outside the project root {root} (an operator who "
                f"keeps campaign files apart from their project names its folder in {ENV_ROOT})",
                file=display,
            )
        confine(root, real, kind="file")
    except OSError:  # missing, unreadable, a symlink loop: the reader says so
        return root
    except ValueError as exc:
        raise ConfigError(f"the campaign file {exc}", file=display) from None
    return root


def _forbidden(real: Path) -> Path | None:
    for tree in FORBIDDEN_TREES:
        if real == tree or real.is_relative_to(tree):
            return tree
    return None


def _refuse_secrets(real: Path, real_root: Path, joined: Path) -> None:
    """Raise ValueError when ``real`` is in one of the operator's secrets folders that lies inside the root
    (a git-ignored folder of the checkout). A folder holding the whole root (a home folder) says nothing
    about the project's own files, so it refuses nothing."""
    for folder in secret_dirs():
        folder = Path(os.path.realpath(folder))
        if folder != real_root and folder.is_relative_to(real_root) and real.is_relative_to(folder):
            shown = f" (resolves to {real})" if str(real) != os.path.normpath(joined) else ""
            raise ValueError(
                f"is in the operator's secrets folder {folder} ({ENV_DIRS}){shown}: nothing there may be read"
            )


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "not a regular file"


def confine(root: Path, path: str | Path, *, base: Path | None = None, kind: Kind = "file") -> Path:
    """``path`` resolved (symlinks followed) and checked against ``root``; raises ValueError(reason).

    The reason is a short phrase (``"is outside the project root /repo"``) that callers wrap with where the
    path came from; :func:`resolve_inside` and :class:`ConfinedLoader` do. Relative paths are taken from
    ``base`` (default ``root``). A missing path raises FileNotFoundError.
    """
    text = str(path)
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    joined = Path(text) if os.path.isabs(text) else (base or root) / text
    real_root = Path(os.path.realpath(root))
    # Forbidden places first, even for a path that does not exist there: the answer must not depend on it.
    # (Where the path exists, this lenient resolution is the strict one below: one check covers both.)
    resolved = Path(os.path.realpath(joined))
    _refuse_secrets(resolved, real_root, joined)
    tree = _forbidden(resolved)
    if tree is None:
        try:
            real = Path(os.path.realpath(joined, strict=True))
        except FileNotFoundError:
            raise
        except OSError as exc:  # ELOOP (a symlink loop), EACCES on a parent, ENAMETOOLONG
            raise ValueError(f"cannot be resolved ({exc.strerror or exc})") from None
        tree = _forbidden(real)
    if tree is not None:
        raise ValueError(f"resolves to {resolved}: nothing under {tree} may be read")
    shown = f" (resolves to {real})" if str(real) != os.path.normpath(joined) else ""
    if not real.is_relative_to(real_root):
        raise ValueError(f"is outside the project root {real_root}{shown}")
    if GIT_FOLDER in real.relative_to(real_root).parts:
        raise ValueError(f"is in git's own folder {GIT_FOLDER}{shown}: nothing there may be read")
    mode = os.stat(real).st_mode
    if kind == "file" and not stat.S_ISREG(mode):
        raise ValueError(f"is {_kind_of(mode)}, not a regular file")
    if kind == "dir" and not stat.S_ISDIR(mode):
        raise ValueError(f"is {_kind_of(mode)}, not a directory")
    return real


def resolve_inside(
    root: Path,
    path: str | Path,
    what: str,
    *,
    campaign_file: str,
    line: int | None = None,
    base: Path | None = None,
    kind: Kind = "file",
) -> Path:
    """``path`` (as written for key ``what`` in ``campaign_file``) resolved inside ``root``.

    Returns the real path (symlinks resolved). Raises one ConfigError line naming the campaign file, line,
    key and path as written for a missing path, one outside the root, under /proc, /sys or /dev, or of the
    wrong kind (FIFO, device, socket, directory for a file; a file for a folder).
    """
    try:
        return confine(root, path, base=base, kind=kind)
    except FileNotFoundError:
        reason = "does not exist"
    except ValueError as exc:
        reason = str(exc)
    raise ConfigError(f"{what} {str(path)!r} {reason}", file=campaign_file, line=line)


def read_confined(real: Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``real``, a path :func:`confine` returned, read without trusting it to be unchanged.

    Opened with ``O_NOFOLLOW`` (a symlink swapped in after the check fails) and ``O_NONBLOCK`` (a FIFO
    swapped in does not block), re-checked to be a regular file, and read up to ``max_bytes``. Raises
    ValueError(reason) or OSError.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if os.path.islink(real):
            raise ValueError("became a symbolic link after it was checked") from None
        raise exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"is {_kind_of(mode)}, not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"is larger than {max_bytes} bytes")
    return data


class ConfinedLoader(jinja2.BaseLoader):
    """Loads templates from ``folder`` only if they resolve inside ``root`` (rules in the module docstring).

    Template names are ``/``-separated paths relative to ``folder``, as Jinja passes them for
    ``get_template``, ``{% include %}``, ``{% import %}``, ``{% from %}`` and ``{% extends %}``. A missing
    template raises ``jinja2.TemplateNotFound`` (so ``ignore missing`` and lookups work); one that resolves
    outside the root, under /proc, /sys or /dev, or to something other than a regular file raises
    :class:`~campaign.errors.TemplateError` naming the template as written and why. ``origin`` (e.g. the
    campaign file) is added to messages.
    """

    def __init__(
        self, root: Path, folder: Path, *, origin: str = "", max_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self.folder = folder
        self.origin = origin
        self.max_bytes = max_bytes

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            real = confine(self.root, template, base=self.folder, kind="file")
            data = read_confined(real, max_bytes=self.max_bytes)
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        except (ValueError, OSError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"cannot be read ({exc.strerror or exc})"
            where = f"{self.origin}: " if self.origin else ""
            raise TemplateError(f"{where}template {template!r} {reason}") from None
        try:
            source = data.decode("utf-8-sig")  # an editor's byte-order mark is no part of a post
        except UnicodeDecodeError:
            raise TemplateError(f"{real}: template is not UTF-8 text") from None
        mtime = os.stat(real).st_mtime

        def uptodate() -> bool:
            try:
                return os.stat(real).st_mtime == mtime
            except OSError:
                return False

        return source, str(real), uptodate

    def list_templates(self) -> list[str]:
        found = []
        for dirpath, _dirs, files in os.walk(self.folder):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.folder)
                found.append(rel.replace(os.sep, "/"))
        return sorted(found)


__all__ = [
    "ENV_ROOT",
    "FORBIDDEN_TREES",
    "GIT_FOLDER",
    "MAX_FILE_BYTES",
    "ConfinedLoader",
    "confine",
    "confine_campaign_file",
    "find_project_root",
    "read_confined",
    "resolve_inside",
]
