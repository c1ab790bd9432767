"""Rendering is bounded: hostile templates stop with one clear error within the budget (issue 11).

Every hostile case runs with a small time budget and must finish well inside a generous bound, so a
regression shows up as a failure, never as a hung CI job.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from campaign.errors import TemplateError
from campaign.text.budget import (
    BudgetedEnvironment,
    RenderBudget,
    RenderBudgetError,
    render_bounded,
)
from campaign.text.render import _shorten_filter, first_sentence

TEMPLATES = {
    "self.j2": "again {% include 'self.j2' %}",
    "ping.j2": "{% include 'pong.j2' %}",
    "pong.j2": "{% include 'ping.j2' %}",
    "importer.j2": "{% import 'importer.j2' as me %}x",
    "post.j2": "line one\n{{ 'x' * 10**10 }}",
}
FAST = RenderBudget(seconds=0.3)
#: ``s``, a string of the largest allowed size, held 1000 times by list ``l`` (no value is over budget yet).
MANY_S = "{% set s = 'x' * 1000000 %}{% set l = [] %}{% for i in range(1000) %}{{ l.append(s) }}{% endfor %}"
#: ``b``, bytes of the largest allowed size, held 1000 times by list ``l``.
MANY_B = (
    "{% set b = ('x' * 1000000).encode() %}{% set l = [] %}"
    "{% for i in range(1000) %}{{ l.append(b) }}{% endfor %}"
)
#: ``a``, a list of 100,000 numbers (allowed), and ``l`` holding it 100 times (its text: about 70 MB).
BIG_A = "{% set a = range(100000) | list %}"
MANY_A = BIG_A + "{% set l = [] %}{% for i in range(100) %}{{ l.append(a) }}{% endfor %}"
#: Generous bound on any hostile render (the budget is 0.3 s): only a hang or a near-hang exceeds it.
BOUND = 5.0


def make_env() -> BudgetedEnvironment:
    env = BudgetedEnvironment(loader=jinja2.DictLoader(TEMPLATES), undefined=jinja2.StrictUndefined)
    env.filters["shorten"] = _shorten_filter  # added after construction, as the Renderer does
    env.filters["first_sentence"] = first_sentence
    return env


def render(source: str, budget: RenderBudget = FAST, **context: Any) -> str:
    env = make_env()
    return render_bounded(env.from_string(source), context, budget=budget, where="c.yaml:12")


def refused(source: str, budget: RenderBudget = FAST, **context: Any) -> str:
    started = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(source, budget, **context)
    assert time.monotonic() - started < BOUND
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    return message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # the issue's cases
        ("{{ 9**(9**9) }}", "9 ** 387420489 would have about"),
        ("{{ 'x' * 10**10 }}", "10,000,000,000 characters or items long, over the budget of 1,000,000"),
        ("{{ [1] * 10**9 }}", "1,000,000,000 characters or items long"),
        ("{{ 10**9 * [1] }}", "1,000,000,000 characters or items long"),
        # amplifiers that are not operators
        ("{{ 'x'.center(10**10) }}", "str.center would be"),
        ("{{ 'x'.ljust(10**10) }}", "str.ljust would be"),
        ("{{ 'x'.zfill(10**10) }}", "str.zfill would be"),
        ("{{ ('\t' * 1000).expandtabs(10**6) }}", "str.expandtabs would be"),
        ("{{ 'x' | center(10**10) }}", "str.center would be"),
        ("{{ '{:>9999999999}'.format(1) }}", "format width or precision of 9999999999"),
        ("{{ '{:>{w}}'.format(1, w=10**10) }}", "format width of 10000000000"),
        ("{{ '%9999999999d' % 1 }}", "format width or precision of 9999999999"),
        ("{{ '%*d' % (10**10, 1) }}", "format width of 10000000000"),
        ("{{ '%9999999999d' | format(1) }}", "format width or precision"),
        ("{% set s = 'x' * 100000 %}{{ s.replace('x', s) }}", "a replaced string would be"),
        ("{% set s = 'x' * 100000 %}{{ s | replace('x', s) }}", "a replaced string would be"),
        (f"{MANY_S}{{{{ ''.join(l) }}}}", "a joined string would be"),
        (f"{MANY_S}{{{{ l | join }}}}", "a joined string would be"),
        ("{{ ('x\n' * 400000) | indent(1000) }}", "an indented string would be"),
        ("{{ lipsum(10**9) }}", "lipsum is limited"),
        # str.translate: each character may become a whole string of the table
        ("{{ ('a' * 999999).translate({97: 'x' * 999999}) | length }}", "str.translate would be"),
        ("{{ ('a' * 999999).translate([''] * 97 + ['x' * 999999]) | length }}", "str.translate would be"),
        # bytes are checked like str
        ("{{ 'x'.encode().center(3*10**9) | length }}", "bytes.center would be 3,000,000,000"),
        ("{{ 'x'.encode().zfill(3*10**9) | length }}", "bytes.zfill would be"),
        ("{{ 'x'.encode().ljust(3*10**9) | length }}", "bytes.ljust would be"),
        ("{{ 'x'.encode().rjust(3*10**9) | length }}", "bytes.rjust would be"),
        ("{{ ('\t' * 1000).encode().expandtabs(10**7) | length }}", "bytes.expandtabs would be"),
        (
            "{% set b = ('x' * 100000).encode() %}{{ b.replace('x'.encode(), b) | length }}",
            "a replaced string would be",
        ),
        ("{{ 'x'.encode() * (3*10**9) }}", "a repeated value would be 3,000,000,000"),
        (f"{MANY_B}{{{{ ''.encode().join(l) | length }}}}", "a joined string would be"),
        ("{{ '%9999999999d'.encode() % 1 }}", "format width or precision of 9999999999"),
        # batch fills its last batch up to linecount; slice makes one list per slice
        ("{{ [1] | batch(3*10**8, 'x') | first | length }}", "a batch would be 300,000,000"),
        ("{{ [1] | batch(linecount=3*10**8, fill_with='x') | first | length }}", "a batch would be"),
        ("{{ [1] | slice(3*10**8) | list | length }}", "a list of slices would be 300,000,000"),
        # growth by doubling, one step at a time
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "a concatenated string would be 1,048,576",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "a concatenation would be 1,048,576",
        ),
        ("{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}", "a list would be"),
        ("{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l + []) }}{% endfor %}", "would be"),
        # the text of containers, estimated before it is built
        (f"{BIG_A}{{{{ [a] * 1000 }}}}", "the text of a repeated value would be"),
        (f"{MANY_A}{{{{ l }}}}", "the text of a printed value would be"),
        (f"{MANY_A}{{% for x in [l] %}}{{{{ x }}}}{{% endfor %}}", "the text of a printed value would be"),
        (f"{MANY_A}{{{{ l | string }}}}", "the text of the value given to filter 'string'"),
        (f"{MANY_A}{{{{ l | tojson }}}}", "the text of the value given to filter 'tojson'"),
        ("{{ [1] | tojson(indent=10**9) }}", "an indented JSON text would be"),
        ("{{ [1] | tojson(10**9) }}", "an indented JSON text would be"),
        ("{{ [[[[1]]]] | tojson(indent=' ' * 300000) }}", "an indented JSON text would be"),
        ("{{ 'a b c d e f' | wordwrap(1, wrapstring='x' * 500000) }}", "a wrapped string would be"),
        ("{{ ('x' * 10000) | wordwrap(1, True, 'y' * 1000) }}", "a wrapped string would be"),
        (f"{MANY_A}{{{{ l | first_sentence }}}}", "given to filter 'first_sentence'"),  # custom filters too
        (f"{MANY_A}{{{{ l | center(10) }}}}", "the text of the value given to filter 'center'"),
        (f"{MANY_A}{{{{ 'x' ~ l }}}}", "a concatenated value would be"),
        (f"{MANY_A}{{{{ '%s' % (l,) }}}}", "a formatted value would be"),
        (f"{MANY_A}{{{{ '{{}}'.format(l) }}}}", "a formatted value would be"),
        (f"{MANY_A}{{{{ l | sum(start=[]) }}}}", "a sum of sequences would be"),
        # allowed-size values, built again and again
        (
            "{% for i in range(100000) %}{{ ('x' * 999999) | length }}{% endfor %}",
            "the render built over 64,000,000 characters or items of values in total",
        ),
        (
            "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
            "a product of integers over 100,000 bits",
        ),
        ("{% set a = 'x' * 900000 %}{% set b = a ~ a %}{{ b | length }}", "a concatenated string"),
        ("{% set a = 'x' * 900000 %}{{ (a ~ a) | length }}", "a concatenated string"),
    ],
)
def test_huge_values_are_refused_before_they_are_built(source: str, reason: str) -> None:
    message = refused(source, RenderBudget(seconds=BOUND / 2))  # the size checks must stop these, not time
    assert message.startswith("c.yaml:12: ")
    assert reason in message


@pytest.mark.parametrize(
    "source",
    [
        # nested loops that print nothing: only the time budget can stop them
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{% set l = range(100000) | list %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{% for b in range(100000) if b < 0 %}{% endfor %}{% endfor %}",
        # exponential recursion that never gets deep
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        # a recursive loop over data that keeps growing is stopped too
        "{% for a in range(100000) recursive %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        # long pure-Python work inside one filter call (the main-thread timer)
        "{{ ('word ' * 150000) | shorten(10) }}",
    ],
)
def test_the_time_budget_stops_work_that_prints_nothing(source: str) -> None:
    message = refused(source)
    assert "render took longer than its 0.3 s budget (CAMPAIGN_RENDER_SECONDS)" in message


def test_the_output_budget_is_enforced_while_streaming() -> None:
    source = "{% for a in range(100000) %}{% for b in range(100000) %}xx{% endfor %}{% endfor %}"
    message = refused(source, RenderBudget(max_output=50_000, seconds=30))
    assert "output is over its budget of 50,000 characters per post (CAMPAIGN_RENDER_MAX_OUTPUT)" in message


def test_the_default_budget_stops_nested_loops_within_its_two_seconds() -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="2 s budget"):
        render(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", RenderBudget()
        )
    assert time.monotonic() - started < 2.0 + BOUND


@pytest.mark.parametrize(
    "source",
    [
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",  # a recursive macro
        "{% include 'self.j2' %}",  # a template including itself
        "{% include 'ping.j2' %}",  # two templates including each other
        "{% include 'importer.j2' %}",  # a template importing itself
    ],
)
def test_recursion_is_one_clear_error(source: str) -> None:
    message = refused(source, RenderBudget(seconds=BOUND))  # time plays no part: recursion stops first
    assert "recursion too deep (a recursive macro or a template including itself)" in message


def test_errors_name_the_template_file_and_line() -> None:
    env = BudgetedEnvironment(
        loader=jinja2.FileSystemLoader("/nonexistent"), undefined=jinja2.StrictUndefined
    )
    env.loader = jinja2.DictLoader(TEMPLATES)
    template = env.get_template("post.j2")
    with pytest.raises(TemplateError) as info:
        render_bounded(template, {}, budget=FAST, where="templates/c/post.j2")
    assert str(info.value).startswith("templates/c/post.j2")


def test_python_errors_in_template_code_are_one_line() -> None:
    assert refused("{{ 1 / 0 }}") == "c.yaml:12: ZeroDivisionError: division by zero"
    assert "Range too big" in refused("{{ range(10**10) | list }}")


def test_jinja_errors_keep_their_own_type_for_the_renderer() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("{{ nope }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("{{ ''.__class__ }}x{{ ''.__class__.__mro__ }}")


def test_budget_errors_are_jinja_template_errors_outside_render_bounded() -> None:
    """Size checks apply to any render, so a caller that still uses ``template.render`` is protected."""
    with pytest.raises(RenderBudgetError):
        make_env().from_string("{{ 'x' * 10**10 }}").render()


def test_the_time_budget_works_off_the_main_thread_too() -> None:
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=BOUND)
    assert not thread.is_alive()
    assert isinstance(outcome[0], TemplateError) and "0.3 s budget" in str(outcome[0])


def test_the_alarm_is_removed_after_each_render() -> None:
    import signal

    render("{{ 1 }}")
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    refused("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


BENIGN = [
    "{% for i in range(5) %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{{ 2 ** 64 }} {{ 3 * 4 }} {{ 'ab' * 3 }} {{ [1, 2] * 2 }} {{ 'a' + 'b' }} {{ 7 % 3 }}",
    "{{ '%05.1f' % 3.14159 }} {{ '%s-%s' % ('a', 'b') }} {{ '%(x)s' % {'x': 1} }} {{ 2.5 ** 2 }}",
    "{{ 'x' ~ 1 ~ 'y' }} {{ '{:>6}'.format('r') }} {{ 'abc'.center(9, '*') }} {{ 'a-b'.replace('-', '+') }}",
    "{{ ['a', 'b'] | join(', ') }} {{ 'hi' | center(6) }} {{ 'l1\nl2' | indent(2, first=true) }}",
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m('a') }}{% for x in [[1, 2], [3]] recursive %}"
    "{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}",
    "{% set ns = namespace(t=0) %}{% for i in range(10) %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
    "{{ items | map('upper') | join }} {{ items | sort | first }} {{ '%s and %s' | format('a', 'b') }}",
    "{% for k, v in {'a': 1} | dictsort %}{{ k }}={{ v }}{% else %}none{% endfor %}",
    "{{ (lipsum(2, false) | length) > 0 }}",
    "{{ 'ab'.translate({97: 'xyz', 98: none}) }} {{ 'ab'.translate('xyz') }} {{ 'ab'.encode().center(6) }}"
    " {{ 'a\tb'.encode().expandtabs(4) }} {{ 'a-b'.encode().replace('-'.encode(), '+'.encode()) }}",
    "{{ [1, 2, 3] | batch(2, 0) | list }} {{ [1, 2, 3] | batch(2) | list }}"
    " {{ [1, 2, 3] | slice(2, 0) | list }}",
    "{{ d | tojson(indent=2) }} {{ [[1], {'a': [2]}] | tojson(4) }} {{ 'x' | tojson(indent=10**9) }}"
    " {{ ('word ' * 40) | wordwrap(20, wrapstring='<br>') }} {{ 'a b' | wordwrap(1, True, '|') }}",
    # a dict's keys as attributes, and its own attributes (which win over keys of the same name)
    "{{ d.a }} {{ d['a'] }} {{ d.keys is defined }} {{ d.items() | list }} {{ d.get('a') }}"
    " {{ d.nope is defined }}",
]


@pytest.mark.parametrize("source", BENIGN)
def test_ordinary_templates_render_exactly_as_in_the_plain_sandbox(source: str) -> None:
    plain = SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    context = {"items": ["b", "a"], "d": {"a": 1, "keys": 2}}
    expected = plain.from_string(source).render(context)
    assert render(source, **context) == expected


@pytest.mark.parametrize("source", ["{{ d.nope }}", "{{ d.__class__ }}", "{{ d.keys.__self__ }}"])
def test_what_the_plain_sandbox_refuses_on_a_dict_is_refused(source: str) -> None:
    plain = SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.TemplateError) as expected:  # UndefinedError or SecurityError
        plain.from_string(source).render(d={"a": 1})
    with pytest.raises(type(expected.value)) as got:
        render(source, d={"a": 1})
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, RenderBudget()),
        (
            {"CAMPAIGN_RENDER_MAX_OUTPUT": "5000", "CAMPAIGN_RENDER_SECONDS": "0.5"},
            RenderBudget(max_output=5000, seconds=0.5),
        ),
    ],
)
def test_the_budget_is_the_operators_setting(environ: dict[str, str], expected: RenderBudget) -> None:
    assert RenderBudget.from_environ(environ) == expected


@pytest.mark.parametrize(
    "environ",
    [
        {"CAMPAIGN_RENDER_MAX_OUTPUT": "lots"},
        {"CAMPAIGN_RENDER_MAX_OUTPUT": "-1"},
        {"CAMPAIGN_RENDER_SECONDS": "inf"},
        {"CAMPAIGN_RENDER_SECONDS": "nan"},
        {"CAMPAIGN_RENDER_SECONDS": "0"},
    ],
)
def test_bad_budget_settings_are_clear_errors(environ: dict[str, str]) -> None:
    with pytest.raises(TemplateError, match=r"CAMPAIGN_RENDER_(MAX_OUTPUT|SECONDS) must be a positive"):
        RenderBudget.from_environ(environ)


def test_a_timer_interrupt_that_jinja_cannot_place_is_still_the_time_budget() -> None:
    """The timer's exception can land where Python keeps no line number; Jinja's traceback rewriting then
    fails with a TypeError of its own. The render must still report the time budget."""
    from campaign.text import budget as module

    def interrupted(value: object) -> object:
        run = module._RUN.get()
        assert run is not None
        run.expired = True
        raise TypeError("'<=' not supported between instances of 'int' and 'NoneType'")

    env = make_env()
    env.filters["interrupted"] = interrupted
    with pytest.raises(TemplateError, match=r"^c\.yaml:12: render took longer than its 0\.3 s budget"):
        render_bounded(env.from_string("{{ 1 | interrupted }}"), {}, budget=FAST, where="c.yaml:12")


def test_the_timer_landing_in_a_destructor_prints_nothing_and_still_stops_the_render(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python cannot pass on an exception raised while a destructor (or a garbage-collector callback) runs:
    it hands it to ``sys.unraisablehook``, which prints "Exception ignored in ..." and a traceback to stderr.
    The timer's exception landing there is dropped; the render's next checked operation stops it."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)

    class Slow:
        def __del__(self) -> None:
            until = time.monotonic() + 6 * FAST.seconds  # the timer fires in here
            while time.monotonic() < until:
                pass

    class Value:
        def __str__(self) -> str:
            Slow()  # dropped at once: its destructor runs now
            return "v"

    message = refused("{% for i in range(100000) %}{{ value }}{% endfor %}", FAST, value=Value())
    assert "render took longer than its 0.3 s budget" in message
    assert seen == []
    assert sys.unraisablehook == seen.append  # the hook in place before the render is back
