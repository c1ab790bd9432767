"""The package layout: imports run one way down the flow, no import cycles, modules of a readable size.

The order is the one drawn in ``campaign/__init__.py`` and ARCHITECTURE.md. Every import counts, including the
ones inside functions (a lazy import that runs back up the flow is still a dependency); imports under
``if TYPE_CHECKING:`` count for the direction but not for cycles (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "campaign"

#: Layers, lowest first. A module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "secrets", "logs"),
    ("text", "media"),
    ("schedule",),
    ("channels",),
    ("http",),
    ("source",),
    ("plan",),
    ("queue",),
    ("dispatch", "report"),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: Narrower rules inside the order: http runs the exchanges the adapter contract describes, and never names a
#: platform adapter.
ONLY_FROM: dict[str, dict[str, tuple[str, ...]]] = {
    "http": {"channels": ("campaign.channels.base",)},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "campaign":
        return None  # the package root itself (only __version__)
    return parts[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> Iterator[tuple[str, bool, int]]:
    """(imported module, only under TYPE_CHECKING, line) for every campaign import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]

    def visit(node: ast.AST, typing_only: bool) -> Iterator[tuple[str, bool, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    yield from visit_stmt(stmt, True)
                for stmt in child.orelse:
                    yield from visit_stmt(stmt, typing_only)
                continue
            yield from visit_stmt(child, typing_only)

    def visit_stmt(node: ast.AST, typing_only: bool) -> Iterator[tuple[str, bool, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("campaign"):
                    yield alias.name, typing_only, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            if base.startswith("campaign"):
                for alias in node.names:
                    # `from campaign.text import counting` imports a module; `from x import Name` imports x.
                    candidate = f"{base}.{alias.name}"
                    yield (candidate if _exists(candidate) else base), typing_only, node.lineno
        else:
            yield from visit(node, typing_only)

    yield from visit(tree, False)


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_subpackage_is_in_the_layer_table() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    top |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert top <= set(RANK), f"add {sorted(top - set(RANK))} to LAYERS (and to ARCHITECTURE.md)"


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc, f"{init.relative_to(PACKAGE.parent)}: docstring must say what it may import"


def test_imports_run_one_way_down_the_flow() -> None:
    wrong: list[str] = []
    for path in _modules():
        here = _layer(_module_name(path))
        if here is None:
            continue
        for target, _typing, line in _imports(path):
            there = _layer(target)
            if there is None or there == here:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
            if RANK[there] > RANK[here]:
                wrong.append(f"{where} ({here} may not import {there}: it runs back up the flow)")
            allowed = ONLY_FROM.get(here, {}).get(there)
            if allowed is not None and not target.startswith(allowed):
                wrong.append(f"{where} ({here} may import only {', '.join(allowed)} from {there})")
    assert not wrong, "\n".join(wrong)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules():
        name = _module_name(path)
        deps = graph.setdefault(name, set())
        for target, typing_only, _line in _imports(path):
            if not typing_only and target != name and not name.startswith(target + "."):
                deps.add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


#: Modules allowed past the size guideline, with the reason. Keep this empty where possible.
LONG_MODULES: dict[str, str] = {
    "campaign/text/_twitter_data.py": "generated data (TLD lists) from the reference JS package",
    "campaign/text/_bluesky_data.py": "generated data from the reference JS package",
}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_modules_and_functions_have_a_readable_size(path: Path) -> None:
    rel = str(path.relative_to(PACKAGE.parent))
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    if rel not in LONG_MODULES:
        assert lines <= 650, f"{rel}: {lines} lines; split it by concept (guideline ~600)"
    source = text.splitlines()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length <= 60:
                continue
            # A long function must say why, in a comment right above it (or its decorators) or on its line.
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            comments = [ln.strip() for ln in source[max(0, first - 3) : node.lineno] if "#" in ln]
            assert any("long" in c.lower() for c in comments), (
                f"{rel}:{node.lineno} {node.name} is {length} lines: split it, or say why it must be long in "
                "a comment above it"
            )


def test_architecture_md_names_every_module() -> None:
    """ARCHITECTURE.md stays current: every module of the package is named in it."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    # Packages described as a whole (one row) rather than module by module.
    whole = {"source/release"}
    missing = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if path.name not in ("__init__.py", "__main__.py")
        and f"{path.stem}.py" not in text
        and str(path.parent.relative_to(PACKAGE)) not in whole
    ]
    assert not missing, f"add these modules to ARCHITECTURE.md: {missing}"
