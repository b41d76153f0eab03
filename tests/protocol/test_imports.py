"""protocol/'s modules import one another without a circle (the stream, then codec, then
decoder, then connection), at module level or inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse(path: Path) -> ast.Module:
    """CPython 3.11's ast module keeps one recursion counter per interpreter, so a parse while
    another thread of the test worker parses can fail with a spurious "AST constructor
    recursion depth mismatch" SystemError (seen once in a full run): parse again."""
    for _ in range(3):
        try:
            return ast.parse(path.read_text(), str(path))
        except SystemError:
            continue
    return ast.parse(path.read_text(), str(path))


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from a import b`` counts as a.b when
    a.b is a module, else as a)."""
    paths = sorted((ROOT / package).rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        targets: set[str] = set()
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[module_name(path)] = targets & modules
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules, first repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            cycle = visit(target, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_find_cycle_finds_a_planted_circle() -> None:
    graph = {"p.codec": {"p.stream"}, "p.decoder": {"p.codec"}, "p.stream": {"p.decoder"}}
    assert find_cycle(graph) == ["p.codec", "p.stream", "p.decoder", "p.codec"]
    del graph["p.stream"]
    assert find_cycle(graph) is None


def test_protocol_has_no_import_circle() -> None:
    graph = import_graph("protocol")
    assert graph["protocol.pilegate.decoder"] >= {"protocol.pilegate.codec", "protocol.stream"}
    assert find_cycle(graph) is None
