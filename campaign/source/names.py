"""A campaign name belongs to one file: find other campaign files in the same folder that declare it.

Queued posts are matched to their campaign file by the ``campaign:`` name alone (the daemon reads a folder
of campaign files), so a second file reusing a name would take over the first one's posts: re-route them to
its accounts, or cancel them on `apply`. `check`, `plan`, `apply` and the daemon therefore treat a name
declared by two files of one folder as an error naming both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from campaign.errors import CampaignError, ConfigError
from campaign.source.yamlfile import load_yaml

#: Which files of a folder are campaign files (as the daemon reads them).
CAMPAIGN_GLOBS = ("*.yaml", "*.yml")


def campaign_files(folder: Path) -> list[Path]:
    """The campaign files of ``folder``, sorted by name."""
    return sorted({p for pattern in CAMPAIGN_GLOBS for p in folder.glob(pattern) if p.is_file()})


def declared_name(path: Path) -> str | None:
    """The ``campaign:`` of the file at ``path``; None when it cannot be read (reported on its own)."""
    try:
        root = load_yaml(path)
    except CampaignError:
        return None
    name = root.get("campaign") if isinstance(root, Mapping) else None
    return name if isinstance(name, str) else None


def clashes(files: Iterable[Path]) -> dict[str, list[Path]]:
    """Campaign name -> the files declaring it, for names declared by more than one of ``files``."""
    by_name: dict[str, list[Path]] = {}
    for path in files:
        name = declared_name(path)
        if name is not None:
            by_name.setdefault(name, []).append(path)
    return {name: paths for name, paths in by_name.items() if len(paths) > 1}


def clash_error(name: str, paths: Iterable[Path]) -> ConfigError:
    """The one-line error for a name declared by several files."""
    listed = " and ".join(str(p) for p in paths)
    return ConfigError(
        f"campaign name {name!r} is declared by {listed}: a campaign name belongs to one file; rename one "
        "(nothing was queued, re-routed or cancelled)"
    )


def check_unique_name(path: Path, name: str) -> None:
    """Raise :func:`clash_error` when another campaign file beside ``path`` declares ``name`` too."""
    here = path.resolve()
    others = [p for p in campaign_files(path.parent) if p.resolve() != here and declared_name(p) == name]
    if others:
        raise clash_error(name, [path, *others])


def scan_folder(folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Load every campaign file of ``folder`` as the daemon does: (campaign name -> its file, broken file
    -> its one-line error). A name declared by several files makes each of them broken (none is used)."""
    from campaign.source.config import load_campaign

    loaded: dict[str, list[Path]] = {}
    broken: dict[str, str] = {}
    for path in campaign_files(folder):
        try:
            campaign = load_campaign(path)
        except CampaignError as exc:
            broken[str(path)] = str(exc)
            continue
        except Exception as exc:  # a bug met on one file: it is listed as broken, the others still load
            broken[str(path)] = f"{path}: internal error ({type(exc).__name__}); please report it"
            continue
        loaded.setdefault(campaign.name, []).append(path)
    for name, paths in loaded.items():
        if len(paths) > 1:
            for path in paths:
                broken[str(path)] = str(clash_error(name, paths))
    return {name: paths[0] for name, paths in loaded.items() if len(paths) == 1}, broken
