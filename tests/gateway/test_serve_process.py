"""`pilegate serve` as an operator runs it: a process, configured by the environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import pytest

from protocol.pilegate import Result
from tests.db import fresh_database
from tests.gateway.piles import ScriptedPile

PILEGATE = [sys.executable, "-m", "gateway.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PILEGATE_HOST": "127.0.0.1",
        "PILEGATE_TCP_PORT": str(free_port()),
        "PILEGATE_WS_PORT": str(free_port()),
        "PILEGATE_ADMIN_PORT": str(free_port()),
        "PILEGATE_OCPP_PORT": str(free_port()),
        "PILEGATE_DATABASE_URL": database_url,
        "PILEGATE_AUTO_REGISTER": "true",
        "PILEGATE_LOG_LEVEL": "info",
    }


async def wait_for_port(port: int, seconds: float = 15) -> None:
    for _ in range(int(seconds * 20)):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


async def test_serve_runs_logs_json_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    async with fresh_database("sqlite", upgrade=False, directory=tmp_path) as url:
        env = environment(tmp_path, url)
        upgrade = await asyncio.create_subprocess_exec(*PILEGATE, "db", "upgrade", env=env)
        assert await upgrade.wait() == 0
        proc = await asyncio.create_subprocess_exec(
            *PILEGATE, "serve", env=env, stdout=asyncio.subprocess.PIPE, cwd=tmp_path
        )
        try:
            port = int(env["PILEGATE_TCP_PORT"])
            await wait_for_port(port)
            pile = ScriptedPile()
            assert (await pile.login(port)).message.result == Result.OK
            await pile.heartbeat()
            admin = f"http://127.0.0.1:{env['PILEGATE_ADMIN_PORT']}"
            health = await asyncio.to_thread(urlopen, f"{admin}/healthz", timeout=5)
            assert json.loads(health.read())["piles_online"] == 1
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
            await asyncio.wait_for(pile.closed.wait(), 5)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stdout is not None
        lines = (await proc.stdout.read()).decode().splitlines()
        events = [json.loads(line) for line in lines]  # every line is one JSON event
        names = [e["event"] for e in events]
        assert names[0] == "gateway_started" and names[-1] == "gateway_stopped"
        login = next(e for e in events if e["event"] == "pile_login")
        assert login["pile_id"] == pile.pile_id and login["firmware"] == "V2.3.7"
        assert "signal_received" in names
        # No log line at info per heartbeat.
        assert not any("heartbeat" in n for n in names)


async def test_serve_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    async with fresh_database("postgresql", upgrade=False) as url:
        env = environment(tmp_path, url)
        proc = await asyncio.create_subprocess_exec(
            *PILEGATE, "serve", env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1
        assert b"pilegate db upgrade" in stderr


def test_bad_configuration_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "PILEGATE_TCP_PORT": "99999"}
    proc = subprocess.run([*PILEGATE, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "server.tcp_port must be 0..65535" in proc.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_cli_help_and_version(flag: str) -> None:
    for command in ([*PILEGATE], [sys.executable, "-m", "simulators.cli"]):
        proc = subprocess.run([*command, flag], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout


async def test_serve_publishes_events_over_mqtt(tmp_path: Path, mqtt_url: str) -> None:
    import uuid

    import aiomqtt
    import orjson

    pile_id = f"4403{uuid.uuid4().int % 10**16:016d}"
    async with fresh_database("sqlite", directory=tmp_path) as url:
        env = {**environment(tmp_path, url), "PILEGATE_MQTT_URL": mqtt_url}
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        async with aiomqtt.Client(host, int(port)) as subscriber:
            await subscriber.subscribe(f"pilegate/v1/events/{pile_id}/#", qos=1)
            proc = await asyncio.create_subprocess_exec(
                *PILEGATE, "serve", env=env, stdout=asyncio.subprocess.DEVNULL, cwd=tmp_path
            )
            try:
                await wait_for_port(int(env["PILEGATE_TCP_PORT"]))
                pile = ScriptedPile(pile_id)
                await pile.login(int(env["PILEGATE_TCP_PORT"]))
                async with asyncio.timeout(10):
                    message = await anext(aiter(subscriber.messages))
                event = orjson.loads(message.payload)  # type: ignore[arg-type]
                assert str(message.topic) == f"pilegate/v1/events/{pile_id}/login"
                assert event["pile_id"] == pile_id and event["firmware"] == "V2.3.7"
                await pile.close()
            finally:
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 15) == 0
