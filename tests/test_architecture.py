"""The layering of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"gateway", "protocol", "sessions", "billing", "simulators"}
ALLOWED = {
    "protocol": set(),
    # Protocol-neutral: it sees neutral events, never frames, so every dialect maps onto it.
    "sessions": set(),
    "billing": {"sessions", "protocol"},
    "gateway": {"billing", "sessions", "protocol"},
    "simulators": {"protocol"},
}
NO_IO = ("protocol", "sessions")
# I/O, clocks, randomness and logging: a core's output depends on its input alone.
FORBIDDEN_IN_CORE = {
    "socket",
    "asyncio",
    "time",
    "random",
    "logging",
    "structlog",
    "sqlalchemy",
    "aiomqtt",
    "websockets",
}
CLOCK_CALLS = {"now", "utcnow", "time", "monotonic", "perf_counter", "today"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    for path in sorted((ROOT / layer).rglob("*.py")):
        ours = (_imports(path) & OURS) - {layer}
        assert ours <= ALLOWED[layer], f"{path.relative_to(ROOT)} imports {ours - ALLOWED[layer]}"


@pytest.mark.parametrize("layer", NO_IO)
def test_core_does_no_io_and_reads_no_clock(layer: str) -> None:
    for path in sorted((ROOT / layer).rglob("*.py")):
        source = path.read_text()
        assert not (_imports(path) & FORBIDDEN_IN_CORE), f"{path} imports an I/O module"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value
                if isinstance(target, ast.Name) and target.id in {"datetime", "time", "date"}:
                    call = f"{target.id}.{node.func.attr}()"
                    assert node.func.attr not in CLOCK_CALLS, f"{path}: {call}"
