"""The soak's surroundings on 127.0.0.1: the gateway and mosquitto as subprocesses (each
stopped by its own pid), the admin API client, and the database (given, or a fresh one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from simulators import accounts

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

# --- small helpers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def wait_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited ({proc.returncode}) before listening")
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {seconds} s")


def spawn(argv: list[str], log_path: Path, **kw: Any) -> subprocess.Popen:
    """Start a process with stdout and stderr appended to log_path (quick: no waiting)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Admin:
    """The gateway's admin API over urllib, in worker threads, a few calls at a time."""

    def __init__(self, url: str, token: str, concurrency: int = 8) -> None:
        self.url = url
        self.token = token
        self._gate = asyncio.Semaphore(concurrency)

    def _call(self, method: str, path: str, body: Any, timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    async def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        async with self._gate:
            return await asyncio.to_thread(self._call, method, path, body, timeout)


# --- the processes: gateway, broker -------------------------------------------------------------


class GatewayProcess:
    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.tcp = int(env["PILEGATE_TCP_PORT"])
        self.ws = int(env["PILEGATE_WS_PORT"])
        self.admin = int(env["PILEGATE_ADMIN_PORT"])

    async def start(self) -> None:
        argv = [sys.executable, "-m", "gateway.cli", "serve"]
        self.proc = spawn(argv, self.log_path, env=self.env, cwd=self.cwd)
        self.starts += 1
        for port in (self.tcp, self.ws, self.admin):
            await wait_port(port, 60, self.proc)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        for _ in range(300):
            if proc.poll() is not None:
                return proc.returncode
            await asyncio.sleep(0.1)
        proc.kill()
        proc.wait(10)
        return proc.returncode


class Broker:
    """A mosquitto of the soak's own on a spare 127.0.0.1 port."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = free_port()
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} {HOST}\nallow_anonymous true\npersistence false\n"
        )
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    async def start(self) -> None:
        self.proc = spawn([self.binary, "-c", str(self.conf)], self.log)
        await wait_port(self.port, 15, self.proc)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- the database -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def soak_database(url: str | None, keep: bool):  # type: ignore[no-untyped-def]
    """The given database (migrated to head), or a fresh one on the local PostgreSQL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from gateway.storage.migrate import upgrade

    if url:
        await upgrade(url)
        yield url
        return
    base = make_url(os.environ.get("PILEGATE_SOAK_PG_BASE", DEFAULT_PG))
    name = f"pilegate_soak_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        fresh = base.set(database=name).render_as_string(hide_password=False)
        try:
            await upgrade(fresh)
            yield fresh
        finally:
            if not keep:
                async with admin.connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def register_accounts(url: str, drivers: int, app_accounts: list[str]) -> None:
    """The simulated drivers' cards and passwords, and the app accounts of remote starts."""
    from gateway.storage import Storage

    storage = await Storage.open(url)
    try:
        for account, card, password in accounts.pool(drivers):
            with contextlib.suppress(Exception):  # already there (a shared database)
                await storage.add_account(
                    account, balance_fen=10_000_000, card_token=card or None,
                    password=password or None,
                )  # fmt: skip
        for account in app_accounts:
            with contextlib.suppress(Exception):
                await storage.add_account(account, balance_fen=10_000_000)
    finally:
        await storage.close()
