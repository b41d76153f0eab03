"""No log call may break the code that makes it (pilegate issues 10 and 11).

Two guards: the SafeLogger every gateway module gets renames structlog's reserved keys
instead of raising, and a scan of the source keeps such keys out of log calls altogether.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.logs import RESERVED_KEYS, SafeLogger, configure_logging, get_logger

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("gateway", "billing", "sessions", "protocol", "simulators", "bench")
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "critical", "fatal", "exception"}
LOG_METHODS |= {"msg", "log", "bind", "new"}


def _reserved_keywords(call: ast.Call) -> set[str]:
    names = {k.arg for k in call.keywords if k.arg is not None}
    for k in call.keywords:  # **{"event": ...} is the same mistake
        if k.arg is None and isinstance(k.value, ast.Dict):
            names |= {d.value for d in k.value.keys if isinstance(d, ast.Constant)}
    return names & RESERVED_KEYS


def reserved_key_calls(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
            and (keys := _reserved_keywords(node))
        ):
            found.append(f"{filename}:{node.lineno}: .{node.func.attr}() with {sorted(keys)}")
    return found


def test_no_log_call_in_the_code_base_passes_a_reserved_key() -> None:
    offenders = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            offenders += reserved_key_calls(path.read_text(), str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_scan_finds_the_mistake_it_guards_against() -> None:
    bad = 'log.warning("unknown_gun", gun=3, event="StartConfirmed")\nlog.bind(**{"level": 1})\n'
    assert len(reserved_key_calls(bad, "bad.py")) == 2
    assert reserved_key_calls('log.warning("x", session_event="y")\n', "ok.py") == []


@pytest.fixture
def lines() -> Any:
    stream = io.BytesIO()
    configure_logging("debug", stream)

    def read() -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    configure_logging("debug")


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_a_reserved_key_is_renamed_not_raised(key: str, lines: Any) -> None:
    log = get_logger(pile="P1")
    log.warning("impossible_transition", gun=1, **{key: "StartConfirmed"})
    log.bind(**{key: "bound"}).info("bound_line")
    first, second = lines()
    assert first["event"] == "impossible_transition" and first["level"] == "warning"
    assert first[f"{key}_"] == "StartConfirmed" and first["pile_id"] == "P1"
    assert second["event"] == "bound_line" and second[f"{key}_"] == "bound"


def test_exception_keeps_the_traceback(lines: Any) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger().exception("frame_handling_failed", message_type="Heartbeat")
    (line,) = lines()
    assert line["level"] == "error" and "RuntimeError: boom" in line["exception"]


def test_a_failing_logger_does_not_raise_into_its_caller(lines: Any) -> None:
    class Broken:
        def warning(self, *args: Any, **kw: Any) -> None:
            raise ValueError("sink is gone")

        def error(self, *args: Any, **kw: Any) -> None:
            raise ValueError("sink is gone")

    SafeLogger(Broken()).warning("anything", gun=1)  # returns quietly
