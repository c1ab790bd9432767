"""A pull request must not read the machine: paths resolve inside the project root (issue 11).

Real files, real symlinks and a real FIFO in tmp_path; nothing is mocked.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from campaign.errors import ConfigError, TemplateError
from campaign.source.paths import (
    ConfinedLoader,
    confine,
    find_project_root,
    read_confined,
    resolve_inside,
)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A project: repo/.git, repo/schedules/c.yaml, repo/templates/c/*.j2, repo/releases/r.txt."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "schedules" / "c.yaml").write_text("campaign: c\n", encoding="utf-8")
    (root / "templates" / "c").mkdir(parents=True)
    (root / "templates" / "c" / "launch.j2").write_text("Hello {{ name }}", encoding="utf-8")
    (root / "releases").mkdir()
    (root / "releases" / "r.txt").write_text("A release\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("SECRET-OUTSIDE-CANARY", encoding="utf-8")
    return root


def where(repo: Path, path: str | Path, *, kind: str = "file") -> Path:
    return resolve_inside(
        repo,
        path,
        "'release'",
        campaign_file="schedules/c.yaml",
        line=3,
        base=repo / "schedules",
        kind=kind,  # type: ignore[arg-type]
    )


# -- the project root -------------------------------------------------------------------------------------


def test_root_is_the_enclosing_git_work_tree(repo: Path) -> None:
    deep = repo / "schedules" / "team" / "q1"
    deep.mkdir(parents=True)
    (deep / "c.yaml").write_text("", encoding="utf-8")
    assert find_project_root(deep / "c.yaml") == repo.resolve()


def test_root_of_a_git_worktree_whose_dot_git_is_a_file(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    (wt / "schedules").mkdir(parents=True)
    (wt / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n", encoding="utf-8")
    assert find_project_root(wt / "schedules" / "c.yaml") == wt.resolve()


def test_root_without_git_is_the_parent_of_the_campaign_folder(tmp_path: Path) -> None:
    (tmp_path / "p" / "schedules").mkdir(parents=True)
    assert find_project_root(tmp_path / "p" / "schedules" / "c.yaml") == (tmp_path / "p").resolve()


def test_explicit_root_wins_and_must_be_a_directory(repo: Path, tmp_path: Path) -> None:
    assert find_project_root(repo / "schedules" / "c.yaml", explicit=tmp_path) == tmp_path.resolve()
    with pytest.raises(ConfigError, match="is not a directory"):
        find_project_root(repo / "schedules" / "c.yaml", explicit=tmp_path / "outside.txt")


# -- resolve_inside ---------------------------------------------------------------------------------------


def test_paths_inside_the_root_resolve_to_their_real_path(repo: Path) -> None:
    assert where(repo, "../releases/r.txt") == (repo / "releases" / "r.txt").resolve()
    assert where(repo, repo / "releases" / "r.txt") == (repo / "releases" / "r.txt").resolve()
    assert where(repo, "../templates/c", kind="dir") == (repo / "templates" / "c").resolve()
    link = repo / "schedules" / "alias.txt"
    link.symlink_to(repo / "releases" / "r.txt")  # a symlink that stays inside is fine
    assert where(repo, "alias.txt") == (repo / "releases" / "r.txt").resolve()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "is outside the project root"),  # release: /etc/passwd
        ("../../outside.txt", "is outside the project root"),  # .. out of the root
        ("/proc/self/environ", "nothing under /proc may be read"),
        ("/sys/kernel/hostname", "nothing under /sys may be read"),
        ("/dev/zero", "nothing under /dev may be read"),  # a release that is /dev/zero
        ("../missing.txt", "does not exist"),
    ],
)
def test_refusals_name_the_campaign_file_line_key_and_path(repo: Path, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        where(repo, path)
    message = str(info.value)
    assert message.startswith(f"schedules/c.yaml:3: 'release' {path!r} ")
    assert reason in message
    assert "\n" not in message


def test_symlinks_are_resolved_before_the_check(repo: Path, tmp_path: Path) -> None:
    (repo / "schedules" / "passwd").symlink_to("/etc/passwd")
    (repo / "schedules" / "out").symlink_to(tmp_path / "outside.txt")
    (repo / "schedules" / "env").symlink_to("/proc/self/environ")
    (repo / "schedules" / "outdir").symlink_to(tmp_path)  # a directory symlink leading out
    for name, reason in [
        ("passwd", "resolves to /etc/passwd"),
        ("out", "is outside the project root"),
        ("env", "nothing under /proc may be read"),
        ("outdir/outside.txt", "is outside the project root"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            where(repo, name)


def test_even_a_root_of_slash_never_reaches_proc_sys_dev(tmp_path: Path) -> None:
    for path in ("proc/self/environ", "/proc/1/cmdline", "sys/kernel", "dev/null", "/dev/stdin"):
        with pytest.raises(ValueError, match=r"nothing under /(proc|sys|dev) may be read"):
            confine(Path("/"), path, kind="file")
    assert confine(Path("/"), "etc/hostname") == Path("/etc/hostname").resolve()


def test_fifo_socket_and_directory_are_not_files(repo: Path) -> None:
    fifo = repo / "releases" / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block CI forever
    with pytest.raises(ConfigError, match=r"is a FIFO \(named pipe\), not a regular file"):
        where(repo, fifo)
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        where(repo, "../releases")
    with pytest.raises(ConfigError, match="is a regular file, not a directory"):
        where(repo, "../releases/r.txt", kind="dir")
    sock_path = repo / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(ConfigError, match="is a socket, not a regular file"):
            where(repo, sock_path)


def test_a_symlink_loop_and_a_nul_byte_are_clear_errors(repo: Path) -> None:
    (repo / "schedules" / "a").symlink_to(repo / "schedules" / "b")
    (repo / "schedules" / "b").symlink_to(repo / "schedules" / "a")
    with pytest.raises(ConfigError, match="cannot be resolved"):
        where(repo, "a")
    with pytest.raises(ConfigError, match="contains a NUL character"):
        where(repo, "r\x00.txt")


# -- read_confined ----------------------------------------------------------------------------------------


def test_read_confined_reads_what_was_checked_and_nothing_else(repo: Path, tmp_path: Path) -> None:
    real = where(repo, "../releases/r.txt")
    assert read_confined(real) == b"A release\n"
    with pytest.raises(ValueError, match="larger than 4 bytes"):
        read_confined(real, max_bytes=4)
    # swapped for a symlink after the check: not followed
    real.unlink()
    real.symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ValueError, match="symbolic link"):
        read_confined(real)
    # swapped for a FIFO after the check: refused without blocking
    real.unlink()
    os.mkfifo(real)
    with pytest.raises(ValueError, match="FIFO"):
        read_confined(real)


# -- templates: the Jinja loader --------------------------------------------------------------------------


def env_for(root: Path, folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=ConfinedLoader(root, folder, origin="schedules/c.yaml"), undefined=jinja2.StrictUndefined
    )


def test_templates_and_includes_inside_the_root_render(repo: Path) -> None:
    folder = repo / "templates" / "c"
    (repo / "templates" / "footer.j2").write_text(" -- the team", encoding="utf-8")
    (folder / "macros.j2").write_text("{% macro shout(x) %}{{ x | upper }}{% endmacro %}", encoding="utf-8")
    (folder / "post.j2").write_text(
        '{% import "macros.j2" as m %}{{ m.shout("hi") }}{% include "../footer.j2" %}', encoding="utf-8"
    )
    env = env_for(repo, folder)
    assert env.get_template("launch.j2").render(name="HK") == "Hello HK"
    assert env.get_template("post.j2").render() == "HI -- the team"
    assert env.from_string('{% include "launch.j2" %}!').render(name="x") == "Hello x!"
    assert "launch.j2" in env.loader.list_templates()  # type: ignore[union-attr]


def test_missing_templates_stay_template_not_found(repo: Path) -> None:
    env = env_for(repo, repo / "templates" / "c")
    with pytest.raises(jinja2.TemplateNotFound):
        env.get_template("nope.j2")
    assert env.from_string('{% include "nope.j2" ignore missing %}ok').render() == "ok"


def test_include_of_proc_self_environ_with_templates_at_slash(tmp_path: Path) -> None:
    """The issue's first case: ``templates: /`` plus ``{% include "proc/self/environ" %}``."""
    os.environ["CAMPAIGN_TEST_CANARY_ENV"] = "canary-environ-value-31337"
    try:
        for root in (Path("/"), tmp_path):
            env = env_for(root, Path("/"))
            with pytest.raises(TemplateError) as info:
                env.from_string('{% include "proc/self/environ" %}').render()
            assert "canary-environ-value-31337" not in str(info.value)
            assert "schedules/c.yaml: template 'proc/self/environ'" in str(info.value)
    finally:
        del os.environ["CAMPAIGN_TEST_CANARY_ENV"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('{% include "passwd.j2" %}', "is outside the project root"),  # symlink to /etc/passwd
        ('{% include "leak.j2" %}', "is outside the project root"),  # symlink to a file outside
        ('{% include "../../../outside.txt" %}', "is outside the project root"),
        ('{% include "/etc/passwd" %}', "is outside the project root"),
        ('{% import "../../../outside.txt" as x %}', "is outside the project root"),
        ('{% from "/proc/self/environ" import x %}', "nothing under /proc may be read"),
        ('{% extends "pipe.j2" %}', "FIFO"),
        ('{% include "sub" %}', "is a directory"),
    ],
)
def test_hostile_template_names_are_refused(repo: Path, tmp_path: Path, source: str, reason: str) -> None:
    folder = repo / "templates" / "c"
    (folder / "passwd.j2").symlink_to("/etc/passwd")
    (folder / "leak.j2").symlink_to(tmp_path / "outside.txt")
    os.mkfifo(folder / "pipe.j2")
    (folder / "sub").mkdir()
    env = env_for(repo, folder)
    with pytest.raises(TemplateError, match=reason) as info:
        env.from_string(source).render()
    assert "SECRET-OUTSIDE-CANARY" not in str(info.value)
    assert "root:" not in str(info.value)


def test_get_template_through_a_symlinked_name_is_refused(repo: Path) -> None:
    folder = repo / "templates" / "c"
    (folder / "launch.x.j2").symlink_to("/etc/passwd")
    with pytest.raises(TemplateError, match=r"template 'launch.x.j2' is outside the project root"):
        env_for(repo, folder).get_template("launch.x.j2")
