"""`pilegate-sim run --protocol ocpp16|ykc` as a user runs it: cars arrive on their own at a
fast pile clock, against the fake central system / platform in a thread of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators import cli
from tests.simulators.fake_central import FakeCentral
from tests.simulators.fake_platform import FakePlatform


@contextlib.contextmanager
def _serving(make: Callable[[], Any]) -> Iterator[Any]:
    """Run ``make()``'s async context manager in a thread with its own loop."""
    loop = asyncio.new_event_loop()
    ready, server = threading.Event(), make()
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with server:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    rc = cli.main(["run", "--piles", "2", "--duration", "2.5", "--time-scale", "3000",
                   "--mean-arrival", "120", "--seed", "5", "--json", *args])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    result: dict[str, Any] = json.loads(out)
    return result


def test_ocpp_chargers_run_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _serving(FakeCentral) as cs:
        out = _run(["--protocol", "ocpp16", "--gateway", cs.url, "--state-dir", str(tmp_path)],
                   capsys)  # fmt: skip
        assert out["logins"] == 2 and out["nacks"] == 0 and out["decode_errors"] == 0
        assert out["sessions_started"] >= 1
        actions = set(cs.actions())
        assert {"BootNotification", "StatusNotification", "Authorize", "StartTransaction",
                "MeterValues"} <= actions  # fmt: skip


def test_ykc_piles_run_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _serving(FakePlatform) as pf:
        out = _run(["--protocol", "ykc", "--gateway", pf.url, "--state-dir", str(tmp_path)],
                   capsys)  # fmt: skip
        assert out["logins"] == 2 and out["decode_errors"] == 0
        assert out["sessions_started"] >= 1
        kinds = {type(f.message).__name__ for f in pf.frames}
        assert {"Login", "Heartbeat", "Realtime", "StartRequest"} <= kinds


def test_a_dialect_needs_its_transport(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--protocol", "ocpp16", "--gateway", "tcp://127.0.0.1:1"]) == 2
    assert "ws://" in capsys.readouterr().err
    assert cli.main(["run", "--protocol", "ykc", "--gateway", "ws://127.0.0.1:1"]) == 2
    assert "tcp://" in capsys.readouterr().err
