"""Campaign files and templates as a hostile pull request writes them: defects found by the files audit.

Each case runs on real files (a git work tree in tmp_path) through the code CI runs: the confined paths, the
renderer, the campaign loader or :func:`campaign.cli.main`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaign.cli import main
from campaign.errors import ConfigError, TemplateError
from campaign.source.paths import ConfinedLoader, resolve_inside
from campaign.text.render import Renderer
from tests.conftest import mini_project
from tests.test_hostile_campaigns import edit

NOW = "2030-01-01T00:00:00Z"
#: What actions/checkout leaves in .git/config (persist-credentials): the job's token, base64 in a header.
GIT_TOKEN = "eC1hY2Nlc3MtdG9rZW46Z2hzX0NBTkFSWTE="
GIT_CONFIG = f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {GIT_TOKEN}\n'


@pytest.fixture(autouse=True)
def _allow_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CAMPAIGN_SECRET_ENV", "MINI_*")
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git work tree with the mini campaign (schedules/mini.yaml, templates/, release.txt) and a
    .git/config holding a CI token."""
    root = mini_project(tmp_path)
    (root / ".git" / "config").write_text(GIT_CONFIG, encoding="utf-8")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


# -- git's own folder is inside the root, and holds the CI job's credentials -----------------------------


@pytest.mark.parametrize(
    "source", ["{% include '../.git/config' %}", "{% import '../.git/config' as c %}", "{% include 'git' %}"]
)
def test_a_template_never_reads_gits_own_folder(
    project: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    (project / "templates" / "git").symlink_to(project / ".git" / "config")
    (project / "templates" / "quote.j2").write_text(source, encoding="utf-8")
    code, output = run(capsys, "preview", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    assert code != 0
    assert GIT_TOKEN not in output
    assert ".git" in output and "git's own folder" in output, output


@pytest.mark.parametrize(("key", "path", "kind"), [
    ("release", "../.git/config", "file"),
    ("templates", "../.git", "dir"),
    ("templates", "../.git/hooks", "dir"),
    ("media", "../sub/.git/config", "file"),
])
def test_no_campaign_path_reaches_a_git_folder(project: Path, key: str, path: str, kind: str) -> None:
    (project / ".git" / "hooks").mkdir()
    (project / "sub" / ".git").mkdir(parents=True)
    (project / "sub" / ".git" / "config").write_text(GIT_CONFIG, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mini\.yaml:3: .*git's own folder"):
        resolve_inside(project, path, key, campaign_file="mini.yaml", line=3, base=project / "schedules",
                       kind=kind)  # type: ignore[arg-type]


def test_a_file_merely_named_like_git_is_still_read(project: Path) -> None:
    (project / "templates" / ".gitignore").write_text("x\n", encoding="utf-8")
    (project / "templates" / "git.j2").write_text("x\n", encoding="utf-8")
    for name in (".gitignore", "git.j2"):
        assert resolve_inside(project, name, "t", campaign_file="c", base=project / "templates").is_file()


# -- an error in an included, imported or extended template names that template and its line -----------------


def _renderer(project: Path, files: dict[str, str]) -> Renderer:
    folder = project / "templates"
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    return Renderer(folder, loader=ConfinedLoader(project, folder, origin="mini.yaml"))


@pytest.mark.parametrize(("top", "part", "expected"), [
    ("one\n{% include 'part.j2' %}\n", "a\nb\n{{ nope }}\n", "part.j2:3: 'nope' is undefined"),
    ("one\n{% include 'part.j2' %}\n", "a\nb\nc\n{% if %}\n", "part.j2:4: template syntax error"),
    ("{% import 'part.j2' as m %}\n{{ m.f() }}\n", "{% macro f() %}\n\n{{ nope }}\n{% endmacro %}\n",
     "part.j2:3: 'nope' is undefined"),
    ("{% extends 'part.j2' %}\n", "a\n\n\n{{ ''.__class__ }}\n", "part.j2:4: access to attribute"),
    ("{% include 'part.j2' %}\n", "a\n{{ 1/0 }}\n", "part.j2:2: ZeroDivisionError"),
])
def test_errors_in_a_template_read_by_another_name_that_template(
    project: Path, top: str, part: str, expected: str
) -> None:
    renderer = _renderer(project, {"top.j2": top, "part.j2": part})
    with pytest.raises(TemplateError) as info:
        renderer.render_file("top.j2", {})
    assert expected in str(info.value), str(info.value)
    with pytest.raises(TemplateError) as inline:
        renderer.render_string(top, {}, where="post 'p'")
    assert expected in str(inline.value), str(inline.value)


# -- a typo is named with the key it was surely meant to be --------------------------------------------------


#: (text of the mini campaign, its typo, what the one error line says)
TYPOS = [
    ("zone: Asia/Hong_Kong", "zonee: Asia/Hong_Kong",
     "mini.yaml:4: unknown key 'zonee' in the campaign: did you mean 'zone'?"),
    ('    when: "+1d 10:30"', '    wehn: "+1d 10:30"',
     "mini.yaml:23: unknown key 'wehn' in post 'quote': did you mean 'when'?"),
    ("    channel: mastodon", "    channel: mastodn", "unknown channel 'mastodn': did you mean 'mastodon'?"),
    ("    channel: mastodon", "    chanel: mastodon",
     "account 'main_mastodon' needs 'channel': did you mean 'chanel'?"),
    ("      token: MINI_MASTODON_TOKEN", "      tokn: MINI_MASTODON_TOKEN",
     "mini.yaml:18: account 'main_mastodon' (mastodon): unknown credential 'tokn': did you mean 'token'?"),
    ("    instance: https", "    instanse: https",
     "account 'main_mastodon' (mastodon) needs setting 'instance': did you mean 'instanse'?"),
    ("    accounts: [main_mastodon]", "    accounts: [main_mastdon]",
     "unknown account 'main_mastdon': did you mean 'main_mastodon'?"),
    ("    accounts: [main_mastodon]", "    channels: [mastdon]",
     "unknown channel 'mastdon': did you mean 'mastodon'?"),
    ("threads: [x]", "threads: [mastodn]",
     "'threads' names 'mastodn', which is neither an account nor a channel: did you mean 'mastodon'?"),
    ("threads: [x]", "threads: [x]\nalerts: main_mastdon",
     "'alerts' names unknown account 'main_mastdon': did you mean"),
    ("    accounts: [main_mastodon]", "    accounts: [main_mastodon]\n    overrides: {mastodn: {text: x}}",
     "override for 'mastodn', which is neither an account nor a channel used by this campaign: did you mean"),
]


@pytest.mark.parametrize(("old", "new", "expected"), TYPOS)
def test_a_typo_is_named_with_a_suggestion(
    project: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    path = edit(project, old, new)
    code, output = run(capsys, "check", str(path), "--now", NOW)
    errors = [line for line in output.splitlines() if line.startswith("campaign: error:")]
    assert code != 0 and len(errors) == 1, output
    assert expected in errors[0], errors[0]


def test_no_suggestion_for_a_word_like_none_of_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edit(project, "zone: Asia/Hong_Kong", "quux: 1\nzone: Asia/Hong_Kong")
    code, output = run(capsys, "check", str(path), "--now", NOW)
    assert code != 0 and "unknown key 'quux' in the campaign (expected one of:" in output, output
    assert "did you mean" not in output


# -- the operator's secrets folder may sit inside the project (a git-ignored folder of the checkout) ---------

SECRET = "tok-SECRET-in-the-checkout-5521"


@pytest.mark.parametrize("source", [
    "{% include '../.secrets/mastodon' %}",
    "{% include 'token' %}",  # a symlink into the folder
    "{% include '../.secrets/nope' ignore missing %}{% include '../.secrets/mastodon' %}",
])
def test_a_template_never_reads_the_operators_secrets_folder(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    secrets = project / ".secrets"
    secrets.mkdir()
    (secrets / "mastodon").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_SECRETS_DIR", str(secrets))
    (project / "templates" / "token").symlink_to(secrets / "mastodon")
    path = edit(project, "token: MINI_MASTODON_TOKEN", "token: {file: ../.secrets/mastodon}")
    (project / "templates" / "quote.j2").write_text(source, encoding="utf-8")
    code, output = run(capsys, "preview", str(path), "--now", NOW, "--format", "json")
    assert code != 0
    assert SECRET not in output
    assert "secrets folder" in output and "CAMPAIGN_SECRETS_DIR" in output, output


@pytest.mark.parametrize(("key", "kind"), [("release", "file"), ("media", "file"), ("templates", "dir")])
def test_no_campaign_path_reaches_the_secrets_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch, key: str, kind: str
) -> None:
    secrets = project / "config" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "token").write_text(SECRET, encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_SECRETS_DIR", f"/nonexistent{':'}{secrets}")
    path = "../config/secrets" + ("/token" if kind == "file" else "")
    with pytest.raises(ConfigError, match=r"mini\.yaml:3: .*secrets folder") as info:
        resolve_inside(project, path, key, campaign_file="mini.yaml", line=3, base=project / "schedules",
                       kind=kind)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)


def test_a_secrets_folder_holding_the_whole_project_refuses_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator whose secrets folder holds the checkout (a home folder) said nothing about its files."""
    monkeypatch.setenv("CAMPAIGN_SECRETS_DIR", str(project.parent))
    base = project / "schedules"
    assert resolve_inside(project, "../release.txt", "release", campaign_file="c", base=base).is_file()


# -- a mapping key is a name as written: YAML's null, booleans and numbers not in Python's spelling ---------


def test_keys_are_names_as_written(tmp_path: Path) -> None:
    from campaign.source.yamlfile import load_yaml

    path = tmp_path / "k.yaml"
    keys = "no: 1\nyes: 2\n'on': 3\n~: 4\nnull: 5\n1.50: 6\n0x1F: 7\n12: 8\ntrue: 9\n"
    path.write_text(keys, encoding="utf-8")
    doc = load_yaml(path)
    assert list(doc) == ["no", "yes", "on", "~", "null", "1.50", "0x1F", "12", "true"]
    assert doc.line_of("null") == 5


def test_a_null_account_name_is_refused_not_called_none(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edit(project, "  main_x:", "  ~:")
    code, output = run(capsys, "check", str(path), "--now", NOW)
    assert code != 0 and "mini.yaml:10: account name '~' may use letters" in output, output


def test_an_account_called_no_keeps_its_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = edit(project, "  main_x:", "  no:")
    code, output = run(capsys, "preview", str(path), "--now", NOW)
    assert code == 0, output
    assert "x/no " in output and "x/False" not in output, output


# -- a post's link is an http(s) URL: any other lost its UTM tags silently and failed only at the platform --


@pytest.mark.parametrize("value", ["12", "www.hkstp.org", "'javascript:alert(1)'", "'https://'", "'http:/x'"])
@pytest.mark.parametrize(("old", "new", "line"), [
    ("link: https://www.hkstp.org", "link: {}", 7),
    ("    accounts: [main_mastodon]", "    accounts: [main_mastodon]\n    link: {}", 25),
    ("    accounts: [main_mastodon]",
     "    accounts: [main_mastodon]\n    overrides: {{main_mastodon: {{link: {}}}}}", 25),
])
def test_a_link_that_is_no_web_address_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], value: str, old: str, new: str, line: int
) -> None:
    path = edit(project, old, new.format(value))
    code, output = run(capsys, "check", str(path), "--now", NOW)
    errors = [e for e in output.splitlines() if e.startswith("campaign: error:")]
    assert code != 0 and len(errors) == 1, output
    assert f"mini.yaml:{line}: 'link'" in errors[0], errors[0]
    assert "must be a URL (http or https)" in errors[0], errors[0]


def test_a_link_per_language_is_checked_too(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = edit(project, "link: https://www.hkstp.org", "languages: [en]\nlink: {en: www.hkstp.org}")
    code, output = run(capsys, "check", str(path), "--now", NOW)
    assert code != 0 and "'link' of en must be a URL (http or https)" in output, output


# -- a template saved with a byte-order mark (an editor's choice on Windows) --------------------------------


def test_a_templates_byte_order_mark_is_not_part_of_the_post(project: Path) -> None:
    renderer = _renderer(project, {})
    (project / "templates" / "bom.j2").write_bytes("\ufeffHello {{ 1 }}\r\nWorld\r\n".encode())
    (project / "templates" / "part.j2").write_bytes("\ufeffpart".encode())
    assert renderer.render_file("bom.j2", {}) == "Hello 1\nWorld"
    assert renderer.render_string("{% include 'part.j2' %}!", {}, where="p") == "part!"


# -- a template nested deeper than Python compiles: one line naming the template, never an internal error --


def _nested(open_: str, close: str, depth: int) -> str:
    return open_ * depth + "x" + close * depth


DEEP = [
    "{{ " + _nested("(", ")", 3000) + " }}",
    "{{ " + _nested("[", "]", 3000) + " }}",
    _nested("{% for a in [1] %}", "{% endfor %}", 30),
    _nested("{% if 1 %}", "{% endif %}", 200),
    _nested("{% filter upper %}", "{% endfilter %}", 300),
]


@pytest.mark.parametrize("source", DEEP, ids=["parens", "lists", "for", "if", "filter"])
def test_a_template_nested_too_deeply_is_one_clear_line(
    project: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    (project / "templates" / "quote.j2").write_text("line one\n" + source, encoding="utf-8")
    code, output = run(capsys, "check", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    errors = [line for line in output.splitlines() if line.startswith("campaign: error:")]
    assert code != 0 and len(errors) == 1, output
    assert "internal error" not in output, output
    assert "quote.j2: template syntax error: nested too deeply" in errors[0], errors[0]


@pytest.mark.parametrize("source", DEEP[:2] + DEEP[3:4], ids=["parens", "lists", "if"])
def test_an_included_or_inline_template_nested_too_deeply_is_named(project: Path, source: str) -> None:
    renderer = _renderer(project, {"deep.j2": source, "top.j2": "{% include 'deep.j2' %}"})
    with pytest.raises(TemplateError, match=r"deep\.j2: template syntax error: nested too deeply"):
        renderer.render_file("top.j2", {})
    with pytest.raises(TemplateError, match=r"^post 'p': template syntax error: nested too deeply"):
        renderer.render_string(source, {}, where="post 'p'")
    with contextlib.suppress(TemplateError):  # asked of a file that may not parse: an answer, never a crash
        renderer.template_name("deep", "x", "a", "fr", default_language="en")


# -- YAML nested deeper than the loader recurses: a located error, never an internal one ---------------


@pytest.mark.parametrize("value", [
    "[" * 900 + "]" * 900,
    "{a: " * 900 + "1" + "}" * 900,
    "[" * 150 + "]" * 150,
])
def test_yaml_nested_too_deeply_is_one_located_line(
    project: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = edit(project, "  - key: quote\n", f"  - key: quote\n    vars: {{deep: {value}}}\n")
    code, output = run(capsys, "check", str(path), "--now", NOW)
    errors = [line for line in output.splitlines() if line.startswith("campaign: error:")]
    assert code != 0 and len(errors) == 1, output
    assert "internal error" not in output
    assert "mini.yaml:23: values nested more than 100 deep" in errors[0], errors[0]


def test_yaml_nested_to_the_limit_loads(tmp_path: Path) -> None:
    from campaign.source.yamlfile import MAX_DEPTH, load_yaml

    path = tmp_path / "k.yaml"
    path.write_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", encoding="utf-8")
    value = load_yaml(path)["a"]
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == []


# -- a big number is no format width: figures and phone numbers in formatted text render -------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ '{} visitors'.format(2500000) }}", "2500000 visitors"),
    ("{{ '{:,} visitors'.format(2500000) }}", "2,500,000 visitors"),
    ("{{ 'Raised 25000000 USD for {}'.format('x') }}", "Raised 25000000 USD for x"),
    ("{{ 'Raised 25000000 USD for %s' % 'x' }}", "Raised 25000000 USD for x"),
    ("{{ 'Call +85212345678901 about %s' | format('x') }}", "Call +85212345678901 about x"),
    ("{{ '%d visitors' % 2500000 }}", "2500000 visitors"),
    ("{{ '{n} visitors'.format(n=2500000) }}", "2500000 visitors"),
])
def test_numbers_in_formatted_text_are_no_widths(tmp_path: Path, source: str, expected: str) -> None:
    renderer = Renderer(tmp_path)
    assert renderer.render_string(source, {}, where="p") == expected


@pytest.mark.parametrize(("source", "needle"), [
    ("{{ '{:>{}}'.format(1, 10**10) }}", "format width of 10000000000"),
    ("{{ '{:{w}.{p}}'.format(1.5, w=1, p=10**10) }}", "format width of 10000000000"),
    ("{{ '%*d' % (10**10, 1) }}", "format width of 10000000000"),
    ("{{ '%-9999999999s' % 'x' }}", "format width or precision of 9999999999"),
    ("{{ '%(a)9999999999s' % {'a': 1} }}", "format width or precision of 9999999999"),
    ("{{ '%.9999999999f' % 1.5 }}", "format width or precision of 9999999999"),
    ("{{ '{0:>9999999999}'.format(1) }}", "format width or precision of 9999999999"),
    ("{{ '{:>{}}'.format(1, 10**4000) }}", "format width of about 10**4000 is over"),
    ("{{ '{:>{}}'.format(1, 10**5000) }}", "format width of about 10**5000 is over"),
])
def test_real_widths_are_still_refused(tmp_path: Path, source: str, needle: str) -> None:
    with pytest.raises(TemplateError) as info:
        Renderer(tmp_path).render_string(source, {}, where="p")
    assert needle in str(info.value), str(info.value)
    assert len(str(info.value)) < 200, str(info.value)
