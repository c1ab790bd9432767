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
  (``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``), ``replace``, ``join`` (of ``str``,
  ``bytes`` and ``bytearray`` alike), ``str.translate`` (length x the table's longest value), ``format``
  widths and the ``center``, ``indent``, ``format``, ``replace`` and ``join`` filters, ``batch``'s line count
  (its last batch is filled up to it), ``slice``'s number of slices, ``tojson``'s ``indent`` (every item on
  a line of its own, indented by its depth) and ``wordwrap``'s ``wrapstring`` (once per line at most: a
  word's end, a forced break or a new line); and after every call, filter,
  operator and ``~`` concatenation otherwise, so a value can at most double past the budget before it is
  refused (``9**(9**9)``, ``'x' * 10**10`` and ``[1] * 10**9`` are refused without being computed).
* **Text of containers**: before a list, tuple, dict or set becomes text (``{{ value }}`` through
  ``finalize``, ``~``, ``%``, ``format``, ``join`` and the filters that stringify, custom filters included),
  the length of that text is estimated, nested containers counted as often as they appear, and refused
  over the budget: ``{{ [a] * 1000 }}`` with a large ``a``, or a list that holds one large list many times.
* **All values together**: every value the checked operations build counts against
  ``64 x`` the size budget per render, so a loop of allowed-size values cannot exhaust memory piecemeal.
* **Time** is checked at every call, attribute or item access, operator, loop iteration (every ``for`` is
  rewritten to iterate through a checking filter, so ``for`` loops that print nothing are stopped too) and
  output chunk. In the main thread a ``SIGALRM`` interval timer also interrupts long pure-Python work inside
  one filter call when no other timer or handler is installed (a C-level operation finishes first; the size
  checks keep those small). If it fires while a destructor or a garbage-collector callback runs, where
  Python cannot pass an exception on, its exception is dropped instead of printed to stderr, and the next
  check stops the render.
* **Recursion** (recursive macros, a template including itself) ends in Python's RecursionError, reported as
  "recursion too deep".

Cost: one ``time.monotonic()`` per hook and the timer's four system calls per render, made without the
``signal`` module's enum conversions; what a filter's checks are is decided once per filter, a plain dict's
keys are read without the sandbox's failed ``getattr``, attribute-safety answers are cached per (type, name)
and template globals are a flat dict. Measured on bench_preview's template (best of 5 x 20,000 renders):
about 4 µs a render over the plain sandbox's ~15 µs, half of it the timer.
The size estimates live in :mod:`campaign.text.budget_checks`.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import math
import operator
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from time import monotonic as _monotonic
from types import FrameType
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment

from campaign.errors import TemplateError
from campaign.text.budget_checks import (
    CONTAINERS,
    ENV_MAX_OUTPUT,
    ITER_FILTER,
    MAX_INT_BITS,
    SIZED,
    RenderBudgetError,
    check_call,
    check_mul,
    check_percent,
    check_pow,
    check_printable,
    filter_precheck,
    size_of,
    text_weight,
    too_big,
)

#: A render may build at most this many times its value-size limit in values, all together (so a loop of
#: allowed-size values cannot exhaust memory a piece at a time).
ALLOCATION_FACTOR = 64
DEFAULT_MAX_OUTPUT = 1_000_000
DEFAULT_SECONDS = 2.0
ENV_SECONDS = "CAMPAIGN_RENDER_SECONDS"


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

    __slots__ = ("active", "allocated", "allowance", "budget", "deadline", "expired", "limit", "unraisable")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.deadline = _monotonic() + budget.seconds
        self.active = True
        #: The largest value (characters or items) one operation may build.
        self.limit = budget.size_limit
        #: What all checked operations of this render may build together.
        self.allowance = self.limit * ALLOCATION_FACTOR
        #: Characters and items of every value the render's checked operations built so far.
        self.allocated = 0
        #: Set by the timer before it raises: the exception may surface as another one (below).
        self.expired = False
        #: ``sys.unraisablehook`` before the timer was armed (restored when it is disarmed).
        self.unraisable: Callable[[Any], object] | None = None


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("campaign_render_run", default=None)


def _out_of_time(run: _Run) -> NoReturn:
    raise RenderBudgetError(f"render took longer than its {run.budget.seconds:g} s budget ({ENV_SECONDS})")


def _tick() -> None:
    run = _RUN.get()
    if run is not None and _monotonic() > run.deadline:
        _out_of_time(run)


def _step() -> int:
    """One checked operation: the time check, then the size limit in force (the default outside a render)."""
    run = _RUN.get()
    if run is None:
        return DEFAULT_MAX_OUTPUT
    if _monotonic() > run.deadline:
        _out_of_time(run)
    return run.limit


def _account(value: Any, limit: int, what: str) -> None:
    """Check a value a checked operation built, and count it against the render's allocation budget."""
    size = len(value) if isinstance(value, SIZED) else 0
    if not size:
        return
    too_big(size, limit, what)
    run = _RUN.get()
    if run is not None:
        run.allocated += size
        if run.allocated > run.allowance:
            raise RenderBudgetError(
                f"the render built over {run.allowance:,} characters or items of values in total"
                f" ({ENV_MAX_OUTPUT} x {ALLOCATION_FACTOR})"
            )


def _limit() -> int:
    run = _RUN.get()
    return run.limit if run is not None else DEFAULT_MAX_OUTPUT


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` wrapped in the checks of filter ``name``; what depends only on the name is decided here."""
    if getattr(func, "_campaign_guarded", False):
        return func
    # pass_context/pass_environment filters get that first: the value is the next argument
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    precheck = filter_precheck(name)
    result_is = f"the result of filter {name!r}"

    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context and friends)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        limit = _step()
        if precheck is not None and len(args) > offset:
            precheck(args[offset], args[offset + 1 :], kwargs, limit)
        result = func(*args, **kwargs)
        _account(result, limit, result_is)
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


#: Every attribute a plain dict has (an instance has no others): any other name is a key lookup.
_DICT_ATTRIBUTES = frozenset(dir(dict))
_SAFE_ATTRIBUTES_CACHED = 4096

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
}


def _checked_concat(join: Callable[[Iterable[Any]], str], items: tuple[Any, ...]) -> str:
    limit = _step()
    check_printable(items, limit, "a concatenated value")
    result = join(items)
    _account(result, limit, "a concatenated string")
    return result


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before it becomes text: a huge nested container is refused first."""
    if isinstance(value, CONTAINERS):
        limit = _limit()
        too_big(text_weight(value, limit), limit, "the text of a printed value")
    return value


class _CheckingCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` (a join helper, not an operator Jinja can intercept) through a checking helper."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Jinja's own choice of join helper (Markup-aware when autoescaping), handed to the checker.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.checked_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _too_deep(step: str, name: str | None, filename: str | None) -> jinja2.TemplateSyntaxError:
    """The syntax error of a template nested too deeply to ``step`` (line 0: no one line is to blame)."""
    what = f"nested too deeply to {step} (blocks, brackets or parentheses inside one another)"
    return jinja2.TemplateSyntaxError(what, 0, name, filename)


class BudgetedEnvironment(SandboxedEnvironment):
    """A SandboxedEnvironment whose templates stay within a :class:`RenderBudget` (module docstring).

    Accepts every ``SandboxedEnvironment`` argument. Size checks apply to every render; the time budget
    applies inside :func:`render_bounded`.
    """

    intercepted_binops = frozenset(_BINOPS)
    code_generator_class = _CheckingCodeGenerator
    checked_concat = staticmethod(_checked_concat)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.finalize is not None:  # it would run after str(): too late to protect memory
            raise TypeError("BudgetedEnvironment sets its own finalize")
        self.finalize = _finalize
        self.filters = _GuardedFilters()
        self.filters.update(jinja2.filters.FILTERS)
        self.filters[ITER_FILTER] = _budget_iter
        self.globals["lipsum"] = _bounded_lipsum
        self._safe_attributes: dict[tuple[type, str], bool] = {}

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # A template's globals as one flat dict rather than Jinja's ChainMap over the environment's: every
        # render copies them into its context, and a ChainMap is read key by key in Python (~5 µs a render).
        # Jinja asks that globals not change once templates are loaded; the Renderer sets them all before.
        return {**self.globals, **(d or {})}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every for loop iterates through the checking filter, so loops that print nothing still stop.
        try:
            tree = super()._parse(source, name, filename)
        except RecursionError:  # Jinja's parser recurses once per bracket or block
            raise _too_deep("parse", name, filename) from None
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, *args: Any,
                **kwargs: Any) -> Any:
        # The Python that Jinja writes for a template nests as deeply as the template: past Python's limits
        # (20 nested loops, 100 indentation levels, its recursion limit) compiling it is a syntax error of
        # the template's, not an internal one.
        try:
            return super().compile(source, name, filename, *args, **kwargs)
        except (RecursionError, SyntaxError):
            raise _too_deep("compile", name, filename) from None

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        limit = _step()
        if operator == "**":
            check_pow(left, right)
        elif operator == "*":
            check_mul(left, right, limit)
        elif operator == "+":
            if size_of(left) and size_of(right):
                too_big(size_of(left) + size_of(right), limit, "a concatenation")
        elif operator == "%":
            check_percent(left, right, limit)
        result = _BINOPS[operator](left, right)
        _account(result, limit, f"the result of {operator!r}")
        return result

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        limit = _step()
        check_call(__obj, args, kwargs, limit)
        result = super().call(__context, __obj, *args, **kwargs)
        _account(result, limit, "the result of a call")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, list | dict | set):  # append, extend, update, add grow their object
            too_big(len(owner), limit, "a collection")
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
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            # What the sandbox does for a key of a plain dict, without its failed getattr (an exception).
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The sandbox's answer depends only on the object's type and the name (never on ``value``): cached.
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            if len(self._safe_attributes) >= _SAFE_ATTRIBUTES_CACHED:
                self._safe_attributes.clear()  # names built by a template must not grow it without end
            safe = self._safe_attributes[key] = super().is_safe_attribute(obj, attr, value)
        return safe

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)


# The timer's functions without the enum conversions ``signal.signal`` and ``signal.getsignal`` add (about
# 4 µs a render); setitimer/getitimer are these very functions re-exported. SIG_DFL is 0 here.
_RAW_SIGNAL: Any = importlib.import_module("_signal")
_HAS_TIMER = hasattr(signal, "setitimer")
#: The render the main thread's timer is running for (only the main thread arms the timer).
_ALARMED: _Run | None = None


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    run = _ALARMED
    if run is not None and run.active:
        run.expired = True
        _out_of_time(run)


def _arm(run: _Run) -> bool:
    """Start a SIGALRM timer for ``run``: only in the main thread and only if nobody else uses SIGALRM.
    Returns whether it was started (then :func:`_disarm` must follow)."""
    global _ALARMED
    if not (
        run.budget.use_alarm
        and _HAS_TIMER
        and threading.get_ident() == threading.main_thread().ident
        and _RAW_SIGNAL.getsignal(signal.SIGALRM) in (0, None)
        and _RAW_SIGNAL.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    ):
        return False
    _ALARMED = run
    run.unraisable = sys.unraisablehook
    sys.unraisablehook = functools.partial(_unraisable, run.unraisable)
    _RAW_SIGNAL.signal(signal.SIGALRM, _on_alarm)
    _RAW_SIGNAL.setitimer(signal.ITIMER_REAL, run.budget.seconds)
    return True


def _disarm(run: _Run) -> None:
    global _ALARMED
    run.active = False
    _RAW_SIGNAL.setitimer(signal.ITIMER_REAL, 0)
    _RAW_SIGNAL.signal(signal.SIGALRM, 0)
    if run.unraisable is not None:
        sys.unraisablehook = run.unraisable
    _ALARMED = None


def _unraisable(previous: Callable[[Any], object], unraisable: Any) -> None:
    """While the timer is armed: the timer's exception raised where Python cannot pass it on (a destructor
    or a garbage-collector callback was running) is dropped, not printed to stderr as "Exception ignored
    in ..." with its traceback; the render's next checked operation finds the deadline passed and raises
    it where it can. Anything else goes to the hook that was in place."""
    if not isinstance(unraisable.exc_value, RenderBudgetError):
        previous(unraisable)


def _template_location(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the innermost template frame of ``exc`` (Jinja rewrites tracebacks to them)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def located(where: str, exc: BaseException, *, own: str | None = None) -> str:
    """``FILE:LINE`` of the innermost template frame of ``exc``, else ``where``. ``where`` names the template
    rendered, whose file is ``own``: an error in it reads ``where:LINE``; one in a template it included,
    imported or extended names that template's file and line, not the line that read it."""
    found = _template_location(exc)
    if found is None or found[0] == "<template>":  # an inline template: ``where`` already names it
        return where
    if found[0] == own:
        return f"{where}:{found[1]}"
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
    def at(exc: BaseException) -> str:
        return located(where, exc, own=template.filename)

    run = _Run(budget)
    token = _RUN.set(run)
    try:
        return _stream(template, context, run)
    except RenderBudgetError as exc:
        raise TemplateError(f"{at(exc)}: {exc}") from None
    except RecursionError as exc:
        raise TemplateError(
            f"{at(exc)}: recursion too deep (a recursive macro or a template including itself)"
        ) from None
    except MemoryError:
        raise TemplateError(f"{where}: out of memory while rendering") from None
    except jinja2.TemplateNotFound as exc:  # an {% include %} or {% import %} of a file that is not there
        raise TemplateError(
            f"{at(exc)}: template {exc.name!r} not found (names are relative to the templates "
            "folder)"
        ) from None
    except (jinja2.TemplateError, TemplateError):
        raise
    except Exception as exc:  # template code raised a Python error: one line, no traceback
        raise TemplateError(f"{at(exc)}: {type(exc).__name__}: {exc}") from None
    finally:
        run.active = False
        _RUN.reset(token)


def _stream(template: jinja2.Template, context: Mapping[str, Any], run: _Run) -> str:
    """The rendered text, streamed and counted against ``run``'s output budget."""
    budget = run.budget
    max_output, deadline = budget.max_output, run.deadline
    chunks: list[str] = []
    total = 0
    try:
        armed = _arm(run)
        try:
            for chunk in template.generate(context):
                total += len(chunk)
                if total > max_output:
                    raise RenderBudgetError(
                        f"output is over its budget of {max_output:,} characters per post ({ENV_MAX_OUTPUT})"
                    )
                chunks.append(chunk)
                if _monotonic() > deadline:
                    _out_of_time(run)
            run.active = False
        finally:
            if armed:  # before the error is looked at: the timer must not fire in the handler below
                _disarm(run)
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
    "located",
    "render_bounded",
]
