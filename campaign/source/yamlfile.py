"""Reading YAML with line numbers, safely (``yaml.SafeLoader`` only), so every error can name ``file:line``.

Mappings load as :class:`Node` dicts that remember the line of each key; sequences as :class:`NodeList` that
remember the line of each item. Timestamps are NOT converted implicitly (``2027-01-18 09:00`` stays a string;
the schedule parser owns time syntax), duplicate keys are an error rather than a silent overwrite, and a
key is the name as written (``no:`` is ``"no"``, never ``"False"``; ``~:`` is ``"~"``, never ``"None"``).

Nesting is bounded (:data:`MAX_DEPTH` levels), so the recursive constructor never overflows. Aliases are
bounded: a file whose aliases would repeat more than :data:`MAX_ALIAS_VALUES` values (the
"billion laughs" file: ten aliases of ten aliases of ... is 10**10 values in a few hundred bytes) is refused
before anything is built, naming the line of the anchor repeated most. The constructed data shares the
aliased objects, so memory stays small either way; the bound protects every later walk of the data (a
comparison, a template loop, JSON encoding), which would see every repetition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from campaign.errors import ConfigError
from campaign.source.files import FileRefused, read_regular


class Node(dict[str, Any]):
    """A YAML mapping that knows its line and the line of each key (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class NodeList(list[Any]):
    """A YAML sequence that knows its line and the line of each item (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


# libyaml's C parser when PyYAML was built with it (several times faster); the safe constructor either way.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Values that aliases may add to a file, counted as if each alias were a copy of its anchor (section
#: above). A campaign file needs a few hundred; a million keeps every later walk of the data to a second.
MAX_ALIAS_VALUES = 1_000_000


def _check_aliases(root: yaml.Node) -> None:
    """Raise ConfigError when aliases would repeat more than MAX_ALIAS_VALUES values in all.

    One pass over the composed graph (iterative: nesting depth is the file's to choose): the expanded size
    of each node is 1 + its children's, computed once per node; a node reached more than once is an anchor
    whose aliases add ``size * (references - 1)``. Scalars count 1 and are not followed (an alias of one
    adds 1, bounded by the file's own length). A cycle (``&a [*a]``) is left to the constructor, which
    refuses it with its own message.
    """
    sizes: dict[int, int] = {}
    references: dict[int, int] = {}
    nodes: dict[int, yaml.Node] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not children_done:
            references[key] = references.get(key, 0) + 1
            if key in nodes:  # seen before: an alias of it (or a cycle back to it)
                continue
            nodes[key] = node
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if not isinstance(child, _SCALAR))
            continue
        sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
    added = {key: sizes.get(key, 1) * (count - 1) for key, count in references.items() if count > 1}
    if sum(added.values()) > MAX_ALIAS_VALUES:
        worst = nodes[max(added, key=added.__getitem__)]
        what = f"aliases repeat the anchor here into more than {MAX_ALIAS_VALUES:,} values"
        raise ConfigError(what, line=worst.start_mark.line + 1)


_SCALAR = yaml.ScalarNode

#: How deep values may nest (a campaign file needs about eight levels). The constructor recurses once per
#: level, so a file nested a thousand deep would otherwise end in Python's RecursionError.
MAX_DEPTH = 100


def _check_depth(root: yaml.Node) -> None:
    """Raise ConfigError naming the line of the first value nested more than MAX_DEPTH deep (iterative;
    each node is walked once, so aliases and cycles cost nothing more)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or isinstance(node, _SCALAR):
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise ConfigError(f"values nested more than {MAX_DEPTH} deep", line=node.start_mark.line + 1)
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Loader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader without implicit timestamps, building Node/NodeList; aliases bounded before building."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_depth(node)
        _check_aliases(node)
        return super().construct_document(node)


# Drop the implicit timestamp resolver: times are parsed by campaign.schedule.timespec with clear messages.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Node:
    loader.flatten_mapping(node)
    result = Node()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            # A key is a name: as written (``no``, ``~``, ``1.50``), not Python's spelling of the value YAML
            # reads (``False``, ``None``, ``1.5``): an account ``no:`` is not ``False``, ``~:`` not ``None``.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
        if key in result:
            raise ConfigError(f"duplicate key {key!r}", line=line)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> NodeList:
    result = NodeList()
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(item.start_mark.line + 1)
    return result


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """YAML's integers, where one too long for Python's ``int()`` (4,300 digits) is a located error."""
    try:
        return int(yaml.SafeLoader.construct_yaml_int(loader, node))
    except ValueError:
        what = f"a number {len(str(node.value))} characters long is too large"
        raise ConfigError(what, line=node.start_mark.line + 1) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(path: Path, *, display: str | None = None) -> Any:
    """Parse the YAML file at ``path``. Raises ConfigError ``FILE:LINE: message`` for any problem."""
    name = display or str(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ConfigError("file not found", file=name) from None
    except FileRefused as exc:
        raise ConfigError(f"refused: {exc.strerror}", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=name) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=name, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", file=name, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML refuses (a NUL, a control character)
        line = text.count("\n", 0, exc.position) + 1
        what = f"invalid YAML: character #x{exc.character:04x} is not allowed"
        raise ConfigError(what, file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())}", file=name) from None
    except RecursionError:  # PyYAML's pure-Python composer (no libyaml) recurses before MAX_DEPTH is seen
        raise ConfigError(f"values nested more than {MAX_DEPTH} deep", file=name) from None
