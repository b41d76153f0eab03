"""Shared helpers of the process-level benchmarks: throwaway PostgreSQL databases, the real
gateway as a subprocess, the load generator as a subprocess, CPU/RSS sampling, tables.

Everything listens on and connects to 127.0.0.1 only; every subprocess is bounded in time and
is terminated (by its own pid) when the benchmark leaves its ``with`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
PYTHON = sys.executable
PILEGATE = str(BIN / "pilegate")
PILEGATE_SIM = str(BIN / "pilegate-sim")
HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def pg_base_url() -> str:
    return os.environ.get("PILEGATE_BENCH_DATABASE_URL", DEFAULT_PG)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


def raise_nofile_here() -> None:
    """preexec_fn: soft RLIMIT_NOFILE up to the hard limit in the child."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --- throwaway PostgreSQL database --------------------------------------------------------


async def _admin(sql: str, base: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(base).set(database="postgres").render_as_string(hide_password=False)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def throwaway_database(base: str | None = None) -> Iterator[str]:
    """A new database pilegate_bench_<pid>_<rand> migrated with `pilegate db upgrade`; dropped
    afterwards."""
    from sqlalchemy.engine import make_url

    base = base or pg_base_url()
    name = f"pilegate_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', base))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        env = dict(os.environ, PILEGATE_DATABASE_URL=url, PILEGATE_LOG_LEVEL="warning")
        subprocess.run(
            [PILEGATE, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', base))


# --- processes ------------------------------------------------------------------------------


@contextlib.contextmanager
def subprocess_server(
    argv: Sequence[str],
    port: int,
    env: dict[str, str] | None = None,
    *,
    log_name: str = "server",
    startup_s: float = 30.0,
) -> Iterator[subprocess.Popen]:
    """Start a server process, wait for its port, SIGTERM it (by pid) on the way out."""
    log = (ROOT / "var" / f"bench-{log_name}.log").open("w") if (ROOT / "var").is_dir() else None
    proc = subprocess.Popen(
        list(argv),
        env=env,
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        preexec_fn=raise_nofile_here,
    )
    try:
        wait_port(port, startup_s, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if log:
            log.close()


@contextlib.contextmanager
def gateway_process(
    database_url: str, *, heartbeat_interval_s: int = 30, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """`pilegate serve` on 127.0.0.1 with PostgreSQL and the journal on (the defaults);
    yields (process, tcp_port, ws_port)."""
    tcp, ws = free_port(), free_port()
    env = dict(
        os.environ,
        PILEGATE_HOST=HOST,
        PILEGATE_TCP_PORT=str(tcp),
        PILEGATE_WS_PORT=str(ws),
        PILEGATE_ADMIN_PORT="0",
        PILEGATE_OCPP_PORT="0",
        PILEGATE_DATABASE_URL=database_url,
        PILEGATE_HEARTBEAT_INTERVAL_S=str(heartbeat_interval_s),
        PILEGATE_AUTO_REGISTER="true",
        PILEGATE_LOG_LEVEL="warning",
        PILEGATE_LOGIN_TIMEOUT_S="60",
    )
    env |= extra_env or {}
    argv = env.pop("PILEGATE_BENCH_SERVE_ARGV", None)
    cmd = argv.split() if argv else [PILEGATE, "serve"]
    with subprocess_server(cmd, tcp, env, log_name="gateway") as proc:
        wait_port(ws, 10, proc)
        yield proc, tcp, ws


def run_sim_load(
    gateway: str,
    piles: int,
    *,
    interval_s: float,
    duration_s: float,
    batch: int = 500,
    ack_timeout_s: float = 10.0,
) -> dict[str, Any]:
    """`pilegate-sim load --json` in its own process; its summary."""
    cmd = [
        PILEGATE_SIM, "load", "--gateway", gateway, "--piles", str(piles),
        "--heartbeat-interval", str(interval_s), "--duration", str(duration_s),
        "--batch", str(batch), "--ack-timeout", str(ack_timeout_s), "--json",
    ]  # fmt: skip
    timeout = duration_s + ack_timeout_s + 120
    out = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=raise_nofile_here
    )
    if out.returncode != 0:
        raise RuntimeError(f"pilegate-sim load failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


# --- CPU and RSS ----------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    cpu_s: float
    rss: int
    machine_busy_s: float = 0.0  # all cores, every process


@dataclass
class ProcessSampler:
    """Samples a process's CPU time and RSS every ``period`` seconds in a thread."""

    pid: int
    period: float = 0.5
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        import psutil

        self._proc = psutil.Process(self.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> Sample:
        import psutil

        t = self._proc.cpu_times()
        m = psutil.cpu_times()
        busy = sum(m) - m.idle - getattr(m, "iowait", 0.0)
        return Sample(time.monotonic(), t.user + t.system, self._proc.memory_info().rss, busy)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.samples.append(self.sample())
            self._stop.wait(self.period)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self.samples.append(self.sample())

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """CPU % (of one core) and peak RSS between monotonic times t0 and t1, and how busy the
        whole machine was (% of all cores: this process, the load, PostgreSQL and anything
        else running)."""
        inside = [s for s in self.samples if t0 <= s.t <= t1] or self.samples[-2:]
        first, last = inside[0], inside[-1]
        span = max(1e-9, last.t - first.t)
        return {
            "cpu_pct": round(100 * (last.cpu_s - first.cpu_s) / span, 1),
            "rss_mib": round(max(s.rss for s in inside) / 2**20, 1),
            "machine_busy_pct": round(
                100 * (last.machine_busy_s - first.machine_busy_s) / span / (os.cpu_count() or 1),
                1,
            ),
        }


# --- machine and output ---------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
