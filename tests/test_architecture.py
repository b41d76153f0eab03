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
# billing/ is arithmetic: the database schema and its SQL live in gateway/storage/.
FORBIDDEN_IN_BILLING = {"sqlalchemy", "asyncio", "asyncpg", "aiosqlite", "socket", "orjson"}


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


def test_billing_is_arithmetic_without_database_or_asyncio() -> None:
    paths = sorted((ROOT / "billing").rglob("*.py"))
    assert paths
    for path in paths:
        found = _imports(path) & FORBIDDEN_IN_BILLING
        assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}"
        tree = ast.parse(path.read_text(), str(path))
        coroutines = [n.name for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef)]
        assert not coroutines, f"{path.relative_to(ROOT)} defines coroutines {coroutines}"


# --- dialects: only their adapters know them ----------------------------------------------------

DIALECTS = ("protocol.pilegate", "protocol.ocpp16", "protocol.ykc")
# Where a dialect package may be imported inside gateway/: its adapter, and the transports that
# hand connections to the adapters.
SEES_DIALECTS = ("gateway/adapters/", "gateway/transports.py")
# The protocol-neutral core: it commands piles through gateway.dialect alone, so it does not
# even import an adapter (app.py, the composition root, wires them in).
NEUTRAL_CORE = (
    "gateway/dialect.py", "gateway/runtime.py", "gateway/bills.py", "gateway/recovery.py",
    "gateway/tariffs.py", "gateway/commands.py",
)  # fmt: skip


def _dotted_imports(source: str) -> set[str]:
    """Every module a source imports, dotted in full, at any depth (a function's lazy import
    too); `from protocol import ykc` counts as `protocol.ykc`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(names: set[str], packages: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in packages)}


def _gateway_modules() -> list[tuple[str, Path]]:
    paths = sorted((ROOT / "gateway").rglob("*.py"))
    assert len(paths) > 20
    return [(path.relative_to(ROOT).as_posix(), path) for path in paths]


def test_only_adapters_and_transports_import_a_dialect() -> None:
    for name, path in _gateway_modules():
        if name.startswith(SEES_DIALECTS):
            continue
        found = _under(_dotted_imports(path.read_text()), DIALECTS)
        assert not found, f"{name} imports {sorted(found)}: a dialect belongs to its adapter"


def test_the_neutral_core_imports_no_adapter() -> None:
    for name in NEUTRAL_CORE:
        found = _under(_dotted_imports((ROOT / name).read_text()), ("gateway.adapters",))
        assert not found, f"{name} imports {sorted(found)}"


@pytest.mark.parametrize(
    "planted",
    [
        "from protocol.pilegate import Frame",
        "from protocol.pilegate.codes import Channel",
        "import protocol.ocpp16.connection",
        "from protocol import ykc",
        "def later() -> None:\n    from protocol.ykc.messages import Login",
    ],
)
def test_the_dialect_rule_catches_a_planted_import(planted: str) -> None:
    source = f"from protocol.pile_ids import normalize_pile_id\n{planted}\n"
    assert _under(_dotted_imports(source), DIALECTS)
    assert not _under(_dotted_imports("from protocol.pile_ids import PileIdError"), DIALECTS)
