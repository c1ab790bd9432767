"""Characters refused in post text (campaign/text/characters.py), end to end through the CLI.

Each case writes a real project (tests.conftest.mini_project), puts a character into a template, a campaign
variable, an alt text or a link card title, and runs `campaign check` / `preview` through
:func:`campaign.cli.main`: a refused character is one error line naming the campaign file and line, the post,
the account and channel (and the thread part), the character as U+XXXX with its name and its line:column in
the rendered text; right-to-left text with its marks, balanced bidi formatting and emoji sequences pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campaign.text import characters
from tests.conftest import EXAMPLE, mini_project
from tests.helpers.cli import run_cli

NOW = "2030-03-01T00:00:00+00:00"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return mini_project(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(list(args), capsys)


def errors_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("campaign: error:")]


def check_with_launch(project: Path, capsys: pytest.CaptureFixture[str], template: str) -> tuple[int, str]:
    """`campaign check` of the mini campaign whose launch template is ``template``: (exit code, stderr)."""
    (project / "templates" / "launch.j2").write_text(template, encoding="utf-8", newline="")
    code, _out, err = run(capsys, "check", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    assert "Traceback" not in err
    return code, err


REFUSED = [
    ("\x00", "U+0000 <control>", "is an invisible control character"),
    ("\x07", "U+0007 <control>", "is an invisible control character"),
    ("\x1b", "U+001B <control>", "is an invisible control character"),
    ("\x0b", "U+000B <control>", "is an invisible control character"),
    ("\x7f", "U+007F <control>", "is an invisible control character"),
    ("\x85", "U+0085 <control>", "is an invisible C1 control character"),
    ("\x9b", "U+009B <control>", "is an invisible C1 control character"),
    ("\u2028", "U+2028 LINE SEPARATOR", "is shown as a line break, a box or nothing depending on the reader"),
    (
        "\u2029",
        "U+2029 PARAGRAPH SEPARATOR",
        "is shown as a line break, a box or nothing depending on the reader",
    ),
    ("\ufdd0", "U+FDD0 <noncharacter>", "is a Unicode noncharacter"),
    ("\ufffe", "U+FFFE <noncharacter>", "is a Unicode noncharacter"),
    ("\U0001ffff", "U+1FFFF <noncharacter>", "is a Unicode noncharacter"),
    ("\U0010ffff", "U+10FFFF <noncharacter>", "is a Unicode noncharacter"),
]


@pytest.mark.parametrize(("char", "named", "why"), REFUSED, ids=[r[1] for r in REFUSED])
def test_each_refused_character_in_a_template(
    project: Path, capsys: pytest.CaptureFixture[str], char: str, named: str, why: str
) -> None:
    code, err = check_with_launch(project, capsys, f"Hello\nwor{char}ld {{{{ link }}}}\n")
    assert code != 0
    errors = errors_of(err)
    assert len(errors) == 2, err  # one per account of the launch post
    for line, account in zip(errors, ("main_x (x)", "main_mastodon (mastodon)"), strict=True):
        assert f"mini.yaml:20: post 'launch' on {account}: {named} at 2:4 " in line
        assert line.endswith(why) or f" {why} " in line, line


def test_a_lone_surrogate_from_a_template_expression(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A UTF-8 file cannot hold a lone surrogate, but a Jinja string literal can make one.
    code, err = check_with_launch(project, capsys, 'ab{{ "\\ud800" }} {{ link }}\n')
    assert code != 0
    assert "U+D800 <surrogate> at 1:3 is a lone surrogate (not encodable as UTF-8)" in err


def test_the_exact_line_for_an_unterminated_override(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = check_with_launch(project, capsys, "Hello\n wor\u202eld {{ link }}\n")
    assert code == 1
    campaign_file = project / "schedules" / "mini.yaml"
    assert errors_of(err)[0] == (
        f"campaign: error: {campaign_file}:20: post 'launch' on main_x (x):"
        " U+202E RIGHT-TO-LEFT OVERRIDE at 2:5 is not closed by U+202C POP DIRECTIONAL FORMATTING"
        " in its paragraph (an unbalanced bidi control)"
    )


UNBALANCED = [
    # Trojan Source (CVE-2021-42574): an override left open reorders the rest of the line.
    ("if admin \u202e} \u2066// note\u2069 {{ link }}", "U+202E RIGHT-TO-LEFT OVERRIDE at 1:10"),
    ("a \u2067b\nc\u2069 {{ link }}", "U+2067 RIGHT-TO-LEFT ISOLATE at 1:3 is not closed by U+2069"),
    ("a\u2069 {{ link }}", "U+2069 POP DIRECTIONAL ISOLATE at 1:2 matches no embedding"),
    ("a \u202c {{ link }}", "U+202C POP DIRECTIONAL FORMATTING at 1:3 matches no embedding"),
    ("\u2067a\u202ab\u2069c\u202c {{ link }}", "U+2069 POP DIRECTIONAL ISOLATE at 1:5 matches no"),
    ("x \u2068 {{ link }}", "U+2068 FIRST STRONG ISOLATE at 1:3 is not closed"),
    (
        "\u202a" * 126 + "x" + "\u202c" * 126 + " {{ link }}",
        "U+202A LEFT-TO-RIGHT EMBEDDING at 1:126 is nested",
    ),
]


@pytest.mark.parametrize(("template", "needle"), UNBALANCED)
def test_unbalanced_bidi_formatting_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], template: str, needle: str
) -> None:
    code, err = check_with_launch(project, capsys, template + "\n")
    assert code != 0
    assert needle in errors_of(err)[0], err


PASSING = [
    "Arabic: مرحبا بالعالم \u200fHKSTP\u200f {{ link }}",
    "Hebrew: שלום \u200e2030\u200e עולם {{ link }}",
    "ALM: \u061c١٢٣ {{ link }}",
    "Persian ZWNJ: می\u200cخواهم {{ link }}",
    "Emoji: 👩\u200d💻 👨\u200d👩\u200d👧 🏳\ufe0f\u200d🌈 {{ link }}",
    "Devanagari: क्\u200dष {{ link }}",
    "Isolated: the speaker said \u2067مرحبا\u2069 and \u202bשלום \u2066HK\u2069\u202c. {{ link }}",
    "Override closed: \u202eabc\u202c\nNext \u2068line\u2069 {{ link }}",
    "Tabs\tare fine {{ link }}",
    "Cantonese past the BMP: 𠝹 𨋢 \U0002a6d6 {{ link }}",
]


@pytest.mark.parametrize("template", PASSING)
def test_right_to_left_text_and_balanced_formatting_pass(
    project: Path, capsys: pytest.CaptureFixture[str], template: str
) -> None:
    code, err = check_with_launch(project, capsys, template + "\n")
    assert code == 0, err
    assert not errors_of(err)


def test_carriage_returns_become_line_feeds(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A template file's own CR LF is already normalised by Jinja; a value from the campaign file is not.
    campaign_file = project / "schedules" / "mini.yaml"
    text = campaign_file.read_text(encoding="utf-8")
    campaign_file.write_text(
        text.replace("threads: [x]\n", 'threads: [x]\nvars: {note: "one\\r\\ntwo\\rthree"}\n')
    )
    (project / "templates" / "launch.j2").write_text("{{ vars.note }} {{ link }}\n", encoding="utf-8")
    target = project / "preview.json"
    code, _out, err = run(
        capsys, "preview", str(campaign_file), "--format", "json", "-o", str(target), "--now", NOW
    )
    assert code == 0, err
    document = json.loads(target.read_text(encoding="utf-8"))
    texts = [part for post in document["posts"] for part in post["parts"]]
    assert any(t.startswith("one\ntwo\nthree https://") for t in texts), texts
    assert not any("\r" in t for t in texts)


def test_a_thread_split_inside_an_isolate_names_the_part(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Balanced as a whole, but X's 280 split it: part 1 would leave the isolate open.
    words = " ".join(f"word{i}" for i in range(60))
    code, err = check_with_launch(project, capsys, f"Intro \u2067{words}\u2069 end.\n")
    assert code != 0
    line = errors_of(err)[0]
    assert "post 'launch' on main_x (x), part 1 of " in line, err
    assert "U+2067 RIGHT-TO-LEFT ISOLATE at 1:7 is not closed" in line
    assert not any("main_mastodon" in e for e in errors_of(err))  # fits Mastodon's 500: no thread there


def test_dropping_a_trailing_hashtag_that_closes_an_isolate_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Mastodon (no threads here) drops the trailing tags to fit 500; the last one held the isolate's PDI.
    words = " ".join(f"word{i}" for i in range(72))
    code, err = check_with_launch(project, capsys, f"\u2067{words}x #Tag\u2069\n")  # 501 characters
    assert code != 0
    line = next(e for e in errors_of(err) if "main_mastodon" in e)
    assert "on main_mastodon (mastodon): U+2067 RIGHT-TO-LEFT ISOLATE at 1:1 is not closed" in line


def test_an_alt_text_with_a_control_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), "white").save(project / "photo.png")
    campaign_file = project / "schedules" / "mini.yaml"
    old = "    accounts: [main_mastodon]\n"
    text = campaign_file.read_text(encoding="utf-8")
    media = '    media: [{file: ../photo.png, alt: "A photo\\x1b[2J of {{ release.title }}"}]\n'
    campaign_file.write_text(text.replace(old, old + media), encoding="utf-8")
    code, _out, err = run(capsys, "check", str(campaign_file), "--now", NOW)
    assert code != 0
    errors = errors_of(err)
    assert len(errors) == 1, err
    assert "post 'quote' on main_mastodon" in errors[0]
    assert (
        "../photo.png: alt text: U+001B <control> at 1:8 is an invisible control character (alt-characters)"
        in (errors[0])
    )


def test_a_link_card_title_with_an_override_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_file = project / "schedules" / "mini.yaml"
    text = campaign_file.read_text(encoding="utf-8")
    campaign_file.write_text(
        text.replace("threads: [x]\n", 'threads: [x]\nlink_title: "Mixer \\u202e2030"\n')
    )
    code, _out, err = run(capsys, "check", str(campaign_file), "--now", NOW)
    assert code != 0
    assert (
        "mini.yaml:21: post 'launch' on main_x (x): link card title: U+202E RIGHT-TO-LEFT OVERRIDE at 1:7"
        in err
    )


def test_the_example_campaign_still_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(EXAMPLE), "--now", "2026-12-01T00:00:00Z")
    assert code == 0, err
    assert "0 errors" in out


def test_the_common_text_is_one_search() -> None:
    # The table's cost claim: a text without suspects never reaches the walk (no per-character loop).
    assert characters.first_refused("Plain text, 中文, العربية, emoji 👍 and a tab\there.\n" * 50) is None
    assert characters.first_refused("𠝹 \U0010fffd \U0001fffd") is None  # past U+1FFFE, no noncharacter
    assert characters.first_refused("𠝹 \U0002ffff") == characters.Refused(
        2, "\U0002ffff", "is a Unicode noncharacter (not for interchange)"
    )
    assert not characters.has_bidi("Arabic with marks \u200f\u200e\u061c and ZWJ \u200d")
