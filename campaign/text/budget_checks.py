"""Size estimates for :mod:`campaign.text.budget`: what a template operation would build, before it does.

Pure functions of the operands and a limit; each raises :class:`RenderBudgetError` naming what would be over
the limit (the operator's ``CAMPAIGN_RENDER_MAX_OUTPUT``). The rules are listed in the budget module's
docstring.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jinja2

#: Integers bigger than this many bits are refused before they are computed (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
ENV_MAX_OUTPUT = "CAMPAIGN_RENDER_MAX_OUTPUT"
#: The filter every ``for`` loop iterates through (its argument is a loop's iterable, never printed).
ITER_FILTER = "_campaign_budget_iter"
# Numbers in a format spec ("{:>999999}", "%999999d") that would pad the result past the budget.
_SPEC_NUMBER = re.compile(r"\d+")
CONTAINERS = (list, tuple, dict, set, frozenset)
#: Values whose size (``len``) the checks count: text and containers.
SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)
#: Text whose methods can amplify (``center``, ``replace``, ``join``, ...): checked alike.
TEXT = (str, bytes, bytearray)
Text = str | bytes | bytearray


class RenderBudgetError(jinja2.TemplateRuntimeError):
    """A render went over its time, output or value-size budget. The message says which, and the limit."""


def size_of(value: Any) -> int:
    return len(value) if isinstance(value, SIZED) else 0


def too_big(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise RenderBudgetError(
            f"{what} would be {size:,} characters or items long, over the budget of {limit:,}"
        )


def text_weight(value: Any, limit: int) -> int:
    """About how long ``str(value)`` is (an estimate erring long), counted only up to ``limit``.

    Nested containers count every time they appear (``[a] * 1000`` prints ``a`` 1000 times); a container
    holding itself counts until the limit (a false alarm on purpose: nothing legitimate needs one).
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)  # exact types first: this loop may visit a million items
        if kind is str:
            total += len(item) + 4  # quotes, a comma and a space
        elif kind is int:
            total += 2 + item.bit_length() * 3 // 10  # its digits, a comma and a space
        elif kind is list or kind is tuple or kind is set or kind is frozenset:
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, str | bytes | bytearray):
            total += len(item) + 4
        elif isinstance(item, CONTAINERS):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, int):
            total += 2 + item.bit_length() * 3 // 10
        else:
            total += 20  # a float's repr, None, an object's text: an estimate, erring long
    return total


def check_printable(values: Iterable[Any], limit: int, what: str) -> None:
    """Refuse containers whose text form (``str()``, JSON) would be over the limit, before it is built."""
    for value in values:
        if isinstance(value, CONTAINERS):
            too_big(text_weight(value, limit), limit, what)


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def check_pow(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = right * math.log2(abs(left))
        if bits > MAX_INT_BITS:
            raise RenderBudgetError(
                f"{left} ** {right} would have about {bits:,.0f} bits (limit {MAX_INT_BITS:,})"
            )


def check_mul(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise RenderBudgetError(f"a product of integers over {MAX_INT_BITS:,} bits")
        return
    for seq, count in ((left, right), (right, left)):
        if isinstance(count, int) and not isinstance(count, bool) and size_of(seq):
            too_big(size_of(seq) * max(count, 0), limit, "a repeated value")
            if isinstance(seq, CONTAINERS):  # [a] * n holds a n times: its text is n times a's
                too_big(text_weight(seq, limit) * max(count, 0), limit, "the text of a repeated value")


LOG10_2 = math.log10(2)
#: A ``%`` conversion: its width and precision (digits, or ``*`` for one taken from the arguments).
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _format_specs(fmt: str, style: str) -> tuple[list[str], bool]:
    """(the widths and precisions written in ``fmt``, whether an argument may give one). Only the specs
    count: digits in the literal text (a figure, a phone number) are no width."""
    if style == "percent":
        found = [part for spec in _PERCENT_SPEC.findall(fmt) for part in spec if part]
        return [n for n in found if n != "*"], "*" in found
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:  # malformed: str.format refuses it too; read every digit, as a width, to be safe
        return _SPEC_NUMBER.findall(fmt), True
    specs = [spec for _text, name, spec, _conv in fields if name is not None and spec]
    return [n for spec in specs for n in _SPEC_NUMBER.findall(spec)], any("{" in spec for spec in specs)


def _check_format_spec(fmt: str, args: Iterable[Any], limit: int, style: str = "percent") -> None:
    """Widths and precisions in ``fmt`` (``style`` ``percent`` or ``braces``) and the int arguments that
    may be one (``%*d``, ``{:{}}``) within limit."""
    numbers, from_args = _format_specs(fmt, style)
    for number in numbers:
        if len(number) > 12 or int(number) > limit:
            raise RenderBudgetError(
                f"a format width or precision of {number} is over the budget of {limit:,}"
            )
    if from_args:
        for arg in args:
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > limit:
                # Spelled out only when short: a 5,000-digit int has no str() (and no place in one line).
                big = arg.bit_length() >= 100
                digits = f"about 10**{int(arg.bit_length() * LOG10_2)}" if big else str(arg)
                raise RenderBudgetError(f"a format width of {digits} is over the budget of {limit:,}")


def _format_args(right: Any) -> list[Any]:
    if isinstance(right, tuple):
        return list(right)
    if isinstance(right, Mapping):
        return list(right.values())
    return [right]


def check_percent(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, TEXT):
        spec = left if isinstance(left, str) else left.decode("latin-1")  # b"%9999d" pads bytes alike
        _check_format_spec(spec, _format_args(right), limit)
        check_printable(_format_args(right), limit, "a formatted value")


def _joined_size(sep: Text, items: Any) -> int:
    if not isinstance(items, list | tuple):
        return 0  # generators are consumed by join itself; the result is checked after
    return sum(len(x) if isinstance(x, TEXT) else 0 for x in items) + len(sep) * max(len(items) - 1, 0)


def _check_replace(text: Text, old: Any, new: Any, count: Any, limit: int) -> None:
    if not isinstance(old, TEXT) or not isinstance(new, TEXT) or len(new) <= len(old):
        return
    try:
        hits = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    except TypeError:  # str and bytes mixed: the call itself fails
        return
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    too_big(len(text) + hits * (len(new) - len(old)), limit, "a replaced string")


def _longest_replacement(table: Any) -> int:
    """The longest text ``str.translate`` may put in place of one character with ``table``."""
    if isinstance(table, Mapping):
        values: Iterable[Any] = table.values()
    elif isinstance(table, list | tuple):
        values = table
    else:  # a str, bytes or range as a table: one character (or code point) per entry
        return 1
    return max((len(v) if isinstance(v, str) else 1 for v in values), default=1)


def _check_text_method(
    name: str, text: Text, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> None:
    """The methods of ``str``, ``bytes`` and ``bytearray`` that can build a result longer than their own."""
    every = (*args, *kwargs.values())
    what = f"{type(text).__name__}.{name}"
    if name in ("center", "ljust", "rjust", "zfill"):
        for arg in every:
            if isinstance(arg, int) and not isinstance(arg, bool):
                too_big(arg, limit, what)
    elif name == "expandtabs":
        size = next((a for a in every if isinstance(a, int) and not isinstance(a, bool)), 8)
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        too_big(len(text) + tabs * max(size, 0), limit, what)
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1, limit)
    elif name == "translate" and args and isinstance(text, str):  # bytes.translate maps byte to byte
        too_big(len(text) * _longest_replacement(args[0]), limit, what)
    elif name == "join" and args:
        too_big(_joined_size(text, args[0]), limit, "a joined string")
        if isinstance(args[0], list | tuple):
            check_printable(args[0], limit, "a joined value")
    elif name in ("format", "format_map") and isinstance(text, str):
        _check_format_spec(text, every, limit, "braces")
        check_printable(every, limit, "a formatted value")


def check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    """Refuse calls whose result size is predictable and over the limit (module docstring)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if isinstance(owner, TEXT):
        _check_text_method(getattr(target, "__name__", ""), owner, args, kwargs, limit)
    elif isinstance(owner, list) and getattr(target, "__name__", "") == "extend" and args:
        too_big(len(owner) + size_of(args[0]), limit, "a list")


#: Built-in filters that turn their value into text (a custom filter is assumed to, too).
_STRINGIFYING_FILTERS = frozenset(
    {
        "string", "join", "tojson", "pprint", "format", "urlencode", "xmlattr", "e", "escape",
        "forceescape", "safe", "upper", "lower", "title", "capitalize", "trim", "truncate", "wordwrap",
        "wordcount", "center", "indent", "replace", "striptags", "urlize",
    }
)  # fmt: skip


FilterCheck = Callable[[Any, tuple[Any, ...], Mapping[str, Any], int], None]


def _check_sum(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    if isinstance(value, list | tuple):
        too_big(sum(size_of(item) for item in value), limit, "a sum of sequences")


def _check_center(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    check_printable((value,), limit, "the text of the value given to filter 'center'")  # before str(value)
    _check_text_method("center", str(value), rest, kwargs, limit)


def _check_indent(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    if isinstance(value, str):
        every = (*rest, *kwargs.values())
        width = every[0] if every else 4
        pad = width if isinstance(width, int) and not isinstance(width, bool) else len(str(width))
        too_big(len(value) + (value.count("\n") + 1) * max(pad, 0), limit, "an indented string")


def _check_format(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    if isinstance(value, str):
        _check_format_spec(value, (*rest, *kwargs.values()), limit)


def _check_replace_filter(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    if isinstance(value, str) and len(rest) >= 2:
        _check_replace(value, rest[0], rest[1], rest[2] if len(rest) > 2 else -1, limit)


def _check_join(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    if isinstance(value, list | tuple):
        sep = rest[0] if rest and isinstance(rest[0], str) else ""
        too_big(_joined_size(sep, value), limit, "a joined string")


def _int_argument(rest: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> int | None:
    """The filter's first argument after the value (positional or by ``name``) if it is an int."""
    arg = rest[0] if rest else kwargs.get(name)
    return arg if isinstance(arg, int) and not isinstance(arg, bool) else None


def _check_batch(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    linecount = _int_argument(rest, kwargs, "linecount")  # the last batch is filled up to it
    if linecount is not None:
        too_big(linecount, limit, "a batch")


def _check_slice(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    slices = _int_argument(rest, kwargs, "slices")  # one list per slice, even empty ones
    if slices is not None:
        too_big(slices, limit, "a list of slices")


def _check_tojson(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    indent = rest[0] if rest else kwargs.get("indent")  # json.dumps: a number of spaces, or a string
    width = len(indent) if isinstance(indent, str) else _int_argument((indent,), {}, "indent") or 0
    if width > 0 and isinstance(value, CONTAINERS):  # each item on its own line, indented by its depth
        too_big(_indented_weight(value, width, limit), limit, "an indented JSON text")


def _indented_weight(value: Any, width: int, limit: int) -> int:
    """About how many characters of indentation ``json.dumps(value, indent=width)`` writes (counted up to
    ``limit``): every item nested ``d`` deep is on a line of its own behind ``d * width`` of it."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack and total <= limit:
        item, depth = stack.pop()
        children = list(item.values()) if isinstance(item, dict) else item
        total += (len(children) + 1) * (depth * width + 1)
        stack.extend((child, depth + 1) for child in children if isinstance(child, CONTAINERS))
    return total


def _check_wordwrap(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    # wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True)
    wrapstring = rest[2] if len(rest) > 2 else kwargs.get("wrapstring")
    width = _int_argument(rest, kwargs, "width")
    if isinstance(value, str) and isinstance(wrapstring, str) and wrapstring:
        # A line ends at a word's end, a forced break or a new line: never more than these together.
        lines = len(value.split()) + value.count("\n") + len(value) // max(width or 79, 1) + 1
        too_big(len(value) + lines * len(wrapstring), limit, "a wrapped string")


#: Pre-checks for the built-in filters that can amplify their input.
_AMPLIFIERS: dict[str, FilterCheck] = {
    "tojson": _check_tojson,
    "wordwrap": _check_wordwrap,
    "sum": _check_sum,
    "center": _check_center,
    "indent": _check_indent,
    "format": _check_format,
    "replace": _check_replace_filter,
    "join": _check_join,
    "batch": _check_batch,
    "slice": _check_slice,
}


def filter_precheck(name: str) -> FilterCheck | None:
    """The checks filter ``name`` needs before it runs, called as ``check(value, rest, kwargs, limit)``
    (``value`` is what the filter is applied to, ``rest`` its other arguments): its amplifier check, and for
    the filters that turn their value into text (custom filters included) the estimate of that text. None
    for filters that need neither (their result is still checked after they run)."""
    amplifier = _AMPLIFIERS.get(name)
    what = f"the text of the value given to filter {name!r}"
    custom = name not in jinja2.filters.FILTERS and name != ITER_FILTER
    if not (name in _STRINGIFYING_FILTERS or custom):
        return amplifier

    def check(value: Any, rest: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
        if amplifier is not None:
            amplifier(value, rest, kwargs, limit)
        if isinstance(value, CONTAINERS):
            too_big(text_weight(value, limit), limit, what)

    return check

