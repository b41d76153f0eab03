"""The soak's own parts: the error-log check and the database fault proxy (bench/)."""

from __future__ import annotations

import ast
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from bench.faultproxy import FaultProxy
from bench.soak_checks import Window, check_log

T = 1_796_000_000.0  # a wall-clock second


def _line(at: float, level: str, event: str, **kw: object) -> str:
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"event": event, "level": level, "timestamp": stamp, **kw})


def test_error_lines_are_explained_only_inside_their_fault_and_area(tmp_path: Path) -> None:
    db_error = "sqlalchemy.exc.TimeoutError: QueuePool limit reached"
    log = tmp_path / "gateway.log"
    log.write_text(
        "\n".join(
            [
                _line(T - 100, "error", "frame_handling_failed", exception=db_error),  # before
                _line(T + 1, "warning", "mqtt_disconnected"),  # not an error
                _line(T + 2, "error", "frame_handling_failed", exception=db_error),  # explained
                "storage writer: batch of 3 failed: connection is closed",  # takes T + 2
                _line(T + 3, "error", "frame_handling_failed", exception="TypeError: event"),
                "ERROR:    Exception in ASGI application",  # one entry, at T + 3, ...
                "Traceback (most recent call last):",
                "asyncpg.exceptions.ConnectionDoesNotExistError: connection was closed",
                _line(T + 200, "error", "background_task_failed", error=db_error),  # long after
            ]
        )
    )
    result = check_log(log, [Window("db_outage", T, T + 10)], grace_s=20)
    assert result["explained"] == {"db_outage": 3}  # ... explained by its last line
    assert result["violations"] == 3 and not result["ok"]
    assert result["examples"][1]["exception"] == "TypeError: event"
    assert check_log(log, [])["violations"] == 6


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _read(reader: asyncio.StreamReader, n: int) -> bytes:
    """What arrives; b"" when the proxy closed or reset the connection."""
    try:
        return await asyncio.wait_for(reader.read(n), 5)
    except ConnectionResetError:
        return b""


async def _round_trip(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"ping")
        await writer.drain()
        return await _read(reader, 4)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def test_the_fault_proxy_forwards_cuts_and_restores() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    proxy = FaultProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await proxy.start()
    try:
        assert await _round_trip(proxy.port) == b"ping"
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"x")
        assert await _read(reader, 1) == b"x"
        proxy.cut()  # an open connection is dropped ...
        assert await _read(reader, 1) == b""
        writer.close()
        assert await _round_trip(proxy.port) == b""  # ... and a new one closed at once
        proxy.restore()
        assert await _round_trip(proxy.port) == b"ping"
        assert proxy.refused >= 1
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()


def test_the_soak_modules_import_each_other_in_one_direction_only() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench"
    imports: dict[str, set[str]] = {}
    for name in ("soak", "soak_checks", "soak_services"):
        tree = ast.parse((bench / f"{name}.py").read_text())
        found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        found |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imports[name] = {m.removeprefix("bench.") for m in found if m.startswith("bench.")}
    assert "soak_checks" in imports["soak"]
    assert "soak" not in imports["soak_checks"] and "soak" not in imports["soak_services"]
    assert "soak_checks" not in imports["soak_services"]
