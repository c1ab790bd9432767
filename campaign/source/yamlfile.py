"""Reading YAML with line numbers, safely (``yaml.SafeLoader`` only), so every error can name ``file:line``.

Mappings load as :class:`Node` dicts that remember the line of each key; sequences as :class:`NodeList` that
remember the line of each item. Timestamps are NOT converted implicitly (``2027-01-18 09:00`` stays a string;
the schedule parser owns time syntax), and duplicate keys are an error rather than a silent overwrite.
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


class _Loader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader without implicit timestamps, building Node/NodeList."""


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
            key = str(key)
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
