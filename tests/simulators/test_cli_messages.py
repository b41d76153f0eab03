"""What `pilegate-sim run` tells its user (issue 15): a closed port, unknown piles, Ctrl-C,
two simulators side by side."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.fleet import Fleet, FleetConfig

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the gateway exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(port)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILEGATE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@pytest.fixture
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A `pilegate serve` on free ports, embedded SQLite; auto_register from the param."""
    tcp, ws = _free_port(), _free_port()
    env = _env(PILEGATE_TCP_PORT=str(tcp), PILEGATE_WS_PORT=str(ws), PILEGATE_ADMIN_PORT="0",
               PILEGATE_HOST="127.0.0.1", PILEGATE_AUTO_REGISTER=request.param)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_port(tcp, proc)
        yield tcp, ws
    finally:
        proc.terminate()
        proc.wait(30)


def _sim(tmp_path: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simulators.cli", "run", "--state-dir", str(tmp_path / "sim"),
         *argv],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_closed_port_is_said_at_once(tmp_path: Path) -> None:
    proc = _sim(tmp_path, "--gateway", f"tcp://127.0.0.1:{_free_port()}", "--duration", "60")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "connection refused" in err and "pilegate serve" in err


@pytest.mark.parametrize("gateway", ["false"], indirect=True)
def test_unknown_piles_are_named_with_the_way_to_register_them(
    gateway: tuple[int, int], tmp_path: Path
) -> None:
    proc = _sim(tmp_path, "--gateway", f"tcp://127.0.0.1:{gateway[0]}", "--piles", "2",
                "--duration", "60", "--json")  # fmt: skip
    _, err = proc.communicate(timeout=45)  # returns long before the 60 s
    assert proc.returncode == 1
    assert "UNKNOWN_PILE" in err and "pilegate piles import" in err
    assert "PILEGATE_AUTO_REGISTER=true" in err


@pytest.mark.parametrize("gateway", ["true"], indirect=True)
def test_ctrl_c_on_a_websocket_run_ends_with_the_summary(
    gateway: tuple[int, int], tmp_path: Path
) -> None:
    proc = _sim(tmp_path, "--gateway", f"ws://127.0.0.1:{gateway[1]}", "--piles", "3",
                "--duration", "120", "--time-scale", "60", "--json")  # fmt: skip
    time.sleep(3)  # some piles online; the exact moment does not matter
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert '"piles": 3' in out and '"logins"' in out
    assert "Task was destroyed" not in err and "Traceback" not in err


def test_id_offset_gives_other_pile_ids() -> None:
    a = Fleet(FleetConfig(piles=2))
    b = Fleet(FleetConfig(piles=2, pile_id_offset=2))
    ids_a, ids_b = [p.pile_id for p in a.piles], [p.pile_id for p in b.piles]
    assert not set(ids_a) & set(ids_b)
    assert ids_b[0].endswith("3")
