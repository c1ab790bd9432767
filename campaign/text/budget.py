"""Bounded rendering: a Jinja2 sandbox that stops hostile templates within a time and an output budget.

Templates arrive in pull requests and CI previews them, so a template must never hang CI or exhaust memory.
:class:`BudgetedEnvironment` is a :class:`jinja2.sandbox.SandboxedEnvironment` and :func:`render_bounded`
renders one post with it. A render that exceeds the budget fails with one
:class:`RenderBudgetError` (a ``jinja2.TemplateRuntimeError``, so existing ``except jinja2.TemplateError``
handlers report it) naming the template; :func:`render_bounded` turns every failure into a
:class:`~campaign.errors.TemplateError` naming the template (the planner adds the post).

Budget per post (:class:`RenderBudget`; the operator's, never the campaign file's: environment variables
``CAMPAIGN_RENDER_MAX_OUTPUT`` (characters, default 1,000,000) and ``CAMPAIGN_RENDER_SECONDS`` (default 2)):

* **Output** is counted while ``template.generate()`` streams and the render stops once it passes the
  budget.
* **Size of values** (strings, lists, dicts, sets; default the output budget) is checked *before* the
  operation that would build them where the size is predictable: ``*`` and ``+`` on sequences, ``**`` and
  ``*`` on integers (results over :data:`MAX_INT_BITS`), ``%`` formatting widths, the padding methods
  (``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``), ``replace``, ``join``, ``format`` widths and
  the ``center``, ``indent``, ``format``, ``replace`` and ``join`` filters; and after every call, filter,
  operator and ``~`` concatenation otherwise, so a value can at most double past the budget before it is
  refused (``9**(9**9)``, ``'x' * 10**10`` and ``[1] * 10**9`` are refused without being computed).
* **Time** is checked at every call, attribute or item access, operator, loop iteration (every ``for`` is
  rewritten to iterate through a checking filter, so ``for`` loops that print nothing are stopped too) and
  output chunk. In the main thread a ``SIGALRM`` interval timer also interrupts long pure-Python work inside
  one filter call when no other timer or handler is installed (a C-level operation finishes first; the size
  checks keep those small).
* **Recursion** (recursive macros, a template including itself) ends in Python's RecursionError, reported as
  "recursion too deep".

Cost: one ``time.monotonic()`` per hook; rendering the example campaign's templates is within a few percent of
the plain sandbox (measured in tests/test_render_budget.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import operator
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment

from campaign.errors import TemplateError

#: Integers bigger than this many bits are refused before they are computed (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
DEFAULT_MAX_OUTPUT = 1_000_000
DEFAULT_SECONDS = 2.0
ENV_MAX_OUTPUT = "CAMPAIGN_RENDER_MAX_OUTPUT"
ENV_SECONDS = "CAMPAIGN_RENDER_SECONDS"
_ITER_FILTER = "_campaign_budget_iter"
# Numbers in a format spec ("{:>999999}", "%999999d") that would pad the result past the budget.
_SPEC_NUMBER = re.compile(r"\d+")


class RenderBudgetError(jinja2.TemplateRuntimeError):
    """A render went over its time, output or value-size budget. The message says which, and the limit."""


@dataclass(frozen=True)
class RenderBudget:
    """Limits for rendering one post. ``max_size`` (largest string/list built) defaults to ``max_output``."""

    max_output: int = DEFAULT_MAX_OUTPUT
    seconds: float = DEFAULT_SECONDS
    max_size: int | None = None
    #: Use a SIGALRM interval timer in the main thread as well as the hooks (see the module docstring).
    use_alarm: bool = True

    @property
    def size_limit(self) -> int:
        return self.max_size if self.max_size is not None else self.max_output

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RenderBudget:
        """The operator's budget: defaults overridden by ``CAMPAIGN_RENDER_MAX_OUTPUT`` and ``_SECONDS``.

        Raises :class:`~campaign.errors.TemplateError` naming the variable for a value that is not a positive
        finite number.
        """
        env = os.environ if environ is None else environ
        max_output, seconds = DEFAULT_MAX_OUTPUT, DEFAULT_SECONDS
        if env.get(ENV_MAX_OUTPUT):
            try:
                max_output = int(env[ENV_MAX_OUTPUT])
            except ValueError:
                max_output = 0
            if max_output <= 0:
                raise TemplateError(f"{ENV_MAX_OUTPUT} must be a positive whole number of characters")
        if env.get(ENV_SECONDS):
            try:
                seconds = float(env[ENV_SECONDS])
            except ValueError:
                seconds = 0.0
            if not (math.isfinite(seconds) and seconds > 0):
                raise TemplateError(f"{ENV_SECONDS} must be a positive number of seconds")
        return cls(max_output=max_output, seconds=seconds)


class _Run:
    """The budget of the render in progress (one per render; found through a context variable)."""

    __slots__ = ("active", "budget", "deadline", "expired")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget.seconds
        self.active = True
        #: Set by the timer before it raises: the exception may surface as another one (below).
        self.expired = False


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("campaign_render_run", default=None)


def _tick() -> None:
    run = _RUN.get()
    if run is not None and time.monotonic() > run.deadline:
        raise RenderBudgetError(
            f"render took longer than its {run.budget.seconds:g} s budget ({ENV_SECONDS})"
        )


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | bytearray | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def _too_big(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise RenderBudgetError(
            f"{what} would be {size:,} characters or items long, over the budget of {limit:,}"
        )


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _check_pow(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = right * math.log2(abs(left))
        if bits > MAX_INT_BITS:
            raise RenderBudgetError(
                f"{left} ** {right} would have about {bits:,.0f} bits (limit {MAX_INT_BITS:,})"
            )


def _check_mul(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise RenderBudgetError(f"a product of integers over {MAX_INT_BITS:,} bits")
        return
    for seq, count in ((left, right), (right, left)):
        if isinstance(count, int) and not isinstance(count, bool) and _size(seq):
            _too_big(_size(seq) * max(count, 0), limit, "a repeated value")


def _check_format_spec(fmt: str, args: Iterable[Any], limit: int) -> None:
    """Widths and precisions in ``fmt`` (``%``- or ``{}``-style) and int arguments (``%*d``) within limit."""
    for number in _SPEC_NUMBER.findall(fmt):
        if len(number) > 12 or int(number) > limit:
            raise RenderBudgetError(
                f"a format width or precision of {number} is over the budget of {limit:,}"
            )
    if "*" in fmt or "{" in fmt:
        for arg in args:
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > limit:
                raise RenderBudgetError(f"a format width of {arg} is over the budget of {limit:,}")


def _format_args(right: Any) -> list[Any]:
    if isinstance(right, tuple):
        return list(right)
    if isinstance(right, Mapping):
        return list(right.values())
    return [right]


def _check_percent(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, str):
        _check_format_spec(left, _format_args(right), limit)


def _joined_size(sep: str, items: Any) -> int:
    if not isinstance(items, list | tuple):
        return 0  # generators are consumed by join itself; the result is checked after
    return sum(len(str(x)) if isinstance(x, str) else 0 for x in items) + len(sep) * max(len(items) - 1, 0)


def _check_replace(text: str, old: Any, new: Any, count: Any, limit: int) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _too_big(len(text) + hits * (len(new) - len(old)), limit, "a replaced string")


def _check_str_method(
    name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> None:
    every = (*args, *kwargs.values())
    if name in ("center", "ljust", "rjust", "zfill"):
        for arg in every:
            if isinstance(arg, int) and not isinstance(arg, bool):
                _too_big(arg, limit, f"str.{name}")
    elif name == "expandtabs":
        size = next((a for a in every if isinstance(a, int) and not isinstance(a, bool)), 8)
        _too_big(len(text) + text.count("\t") * max(size, 0), limit, "str.expandtabs")
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1, limit)
    elif name == "join" and args:
        _too_big(_joined_size(text, args[0]), limit, "a joined string")
    elif name in ("format", "format_map"):
        _check_format_spec(text, every, limit)


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    """Refuse calls whose result size is predictable and over the limit (module docstring)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if isinstance(owner, str):
        _check_str_method(getattr(target, "__name__", ""), owner, args, kwargs, limit)
    elif isinstance(owner, list) and getattr(target, "__name__", "") == "extend" and args:
        _too_big(len(owner) + _size(args[0]), limit, "a list")


def _check_filter(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    """Pre-checks for the built-in filters that can amplify their input (``args[0]`` is the value)."""
    if not args:
        return
    value, rest = args[0], args[1:]
    every = (*rest, *kwargs.values())
    if name == "center":
        _check_str_method("center", str(value), rest, kwargs, limit)
    elif name == "indent" and isinstance(value, str):
        width = every[0] if every else 4
        pad = width if isinstance(width, int) and not isinstance(width, bool) else len(str(width))
        _too_big(len(value) + (value.count("\n") + 1) * max(pad, 0), limit, "an indented string")
    elif name == "format" and isinstance(value, str):
        _check_format_spec(value, every, limit)
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
        _check_replace(value, rest[0], rest[1], rest[2] if len(rest) > 2 else -1, limit)
    elif name == "join" and isinstance(value, list | tuple):
        sep = rest[0] if rest and isinstance(rest[0], str) else ""
        _too_big(_joined_size(sep, value), limit, "a joined string")


def _limit() -> int:
    run = _RUN.get()
    return run.budget.size_limit if run is not None else DEFAULT_MAX_OUTPUT


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(func, "_campaign_guarded", False):
        return func

    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context and friends)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        limit = _limit()
        # pass_context/pass_environment filters get that first: the value is the next argument
        offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        _check_filter(name, args[offset:], kwargs, limit)
        result = func(*args, **kwargs)
        _too_big(_size(result), limit, f"the result of filter {name!r}")
        return result

    guarded._campaign_guarded = True  # type: ignore[attr-defined]
    return guarded


class _GuardedFilters(dict[str, Any]):
    """The filter table: every filter added (now or later, as the Renderer adds its own) is guarded."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _guard_filter(key, value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


@jinja2.pass_context  # never constant-folded at compile time (Jinja folds only context-free filters)
def _budget_iter(_context: Any, iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if n > 100 or max > 1000:
        raise RenderBudgetError("lipsum is limited to 100 paragraphs of at most 1000 words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
}


def _checked(value: Any) -> Any:
    _tick()
    _too_big(_size(value), _limit(), "a concatenated string")
    return value


class _CheckingCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` (a join helper, not an operator Jinja can intercept) so its result is checked."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class BudgetedEnvironment(SandboxedEnvironment):
    """A SandboxedEnvironment whose templates stay within a :class:`RenderBudget` (module docstring).

    Accepts every ``SandboxedEnvironment`` argument. Size checks apply to every render; the time budget
    applies inside :func:`render_bounded`.
    """

    intercepted_binops = frozenset(_BINOPS)
    code_generator_class = _CheckingCodeGenerator
    checked_concat = staticmethod(_checked)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = _GuardedFilters()
        self.filters.update(jinja2.filters.FILTERS)
        self.filters[_ITER_FILTER] = _budget_iter
        self.globals["lipsum"] = _bounded_lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every for loop iterates through the checking filter, so loops that print nothing still stop.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        limit = _limit()
        if operator == "**":
            _check_pow(left, right)
        elif operator == "*":
            _check_mul(left, right, limit)
        elif operator == "+":
            if _size(left) and _size(right):
                _too_big(_size(left) + _size(right), limit, "a concatenation")
        elif operator == "%":
            _check_percent(left, right, limit)
        result = _BINOPS[operator](left, right)
        _too_big(_size(result), limit, f"the result of {operator!r}")
        return result

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        limit = _limit()
        _check_call(__obj, args, kwargs, limit)
        result = super().call(__context, __obj, *args, **kwargs)
        _too_big(_size(result), limit, "the result of a call")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, list | dict | set):  # append, extend, update, add grow their object
            _too_big(len(owner), limit, "a collection")
        return result

    def handle_exception(self, source: str | None = None) -> NoReturn:
        # Jinja rewrites tracebacks to template lines by compiling a code object per template frame; for a
        # RecursionError that is a thousand compiles (longer than the budget), so it is raised bare.
        error = sys.exc_info()[1]
        if isinstance(error, RecursionError):
            raise error.with_traceback(None)
        super().handle_exception(source)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)


@contextlib.contextmanager
def _alarm(run: _Run) -> Iterator[None]:
    """A SIGALRM timer for the render, only in the main thread and only if nobody else uses SIGALRM."""
    usable = (
        run.budget.use_alarm
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return

    def expired(_signum: int, _frame: FrameType | None) -> None:
        if run.active:
            run.expired = True
            raise RenderBudgetError(
                f"render took longer than its {run.budget.seconds:g} s budget ({ENV_SECONDS})"
            )

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, run.budget.seconds)
    try:
        yield
    finally:
        run.active = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _template_location(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the innermost template frame of ``exc`` (Jinja rewrites tracebacks to them)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _located(where: str, exc: BaseException) -> str:
    found = _template_location(exc)
    if found is None or found[0] == "<template>":  # an inline template: ``where`` already names it
        return where
    return f"{found[0]}:{found[1]}"


def render_bounded(
    template: jinja2.Template, context: Mapping[str, Any], *, budget: RenderBudget, where: str
) -> str:
    """``template`` rendered with ``context`` within ``budget``; ``where`` names the template in errors.

    Raises :class:`~campaign.errors.TemplateError` naming the template (file and line where known) for a
    render over budget, for recursion, and for Python errors raised by template code (``1/0``,
    ``range(10**9)``); Jinja's own errors (syntax, undefined names, security) propagate unchanged for the
    caller's existing handling.
    """
    run = _Run(budget)
    token = _RUN.set(run)
    try:
        return _stream(template, context, run)
    except RenderBudgetError as exc:
        raise TemplateError(f"{_located(where, exc)}: {exc}") from None
    except RecursionError as exc:
        raise TemplateError(
            f"{_located(where, exc)}: recursion too deep (a recursive macro or a template including itself)"
        ) from None
    except MemoryError:
        raise TemplateError(f"{where}: out of memory while rendering") from None
    except (jinja2.TemplateError, TemplateError):
        raise
    except Exception as exc:  # template code raised a Python error: one line, no traceback
        raise TemplateError(f"{_located(where, exc)}: {type(exc).__name__}: {exc}") from None
    finally:
        run.active = False
        _RUN.reset(token)


def _stream(template: jinja2.Template, context: Mapping[str, Any], run: _Run) -> str:
    """The rendered text, streamed and counted against ``run``'s output budget."""
    budget = run.budget
    chunks: list[str] = []
    total = 0
    try:
        with _alarm(run):
            for chunk in template.generate(context):
                total += len(chunk)
                if total > budget.max_output:
                    raise RenderBudgetError(
                        f"output is over its budget of {budget.max_output:,} characters per post"
                        f" ({ENV_MAX_OUTPUT})"
                    )
                chunks.append(chunk)
                _tick()
            run.active = False
    except Exception as exc:
        if run.expired and not isinstance(exc, RenderBudgetError):
            # The timer's exception can arrive where Python has no line number, and Jinja's traceback
            # rewriting then fails with an error of its own: the time budget is still what stopped it.
            raise RenderBudgetError(
                f"render took longer than its {budget.seconds:g} s budget ({ENV_SECONDS})"
            ) from None
        raise
    return "".join(chunks)


__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_SECONDS",
    "ENV_MAX_OUTPUT",
    "ENV_SECONDS",
    "MAX_INT_BITS",
    "BudgetedEnvironment",
    "RenderBudget",
    "RenderBudgetError",
    "render_bounded",
]
