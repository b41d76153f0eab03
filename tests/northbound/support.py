"""Helpers for the MQTT bridge tests: a gateway with a bridge, MQTT listeners, a throwaway
mosquitto, and the scripted session that makes a pile produce every session event."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from gateway.app import Gateway
from gateway.config import MqttConfig
from gateway.logs import configure_logging
from gateway.northbound import MqttBridge, parse_url
from gateway.storage import Storage
from gateway.storage.schema import outbox
from protocol.pilegate import (
    Bill,
    Channel,
    FaultCode,
    GunStatus,
    Logout,
    MsgType,
    Result,
    StartResult,
    StopReason,
    StopResult,
)
from tests.db import fresh_database
from tests.gateway.conftest import ACCOUNT, CARD, gateway_config
from tests.gateway.piles import ScriptedPile

IN_CI = os.environ.get("CI", "").lower() == "true"
MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None
)


T0 = 1_735_700_400_000


def bill_for(tx: str, energy: int = 100_000) -> Bill:
    start, end = T0, T0 + 600_000
    return Bill(
        tx, 1, Channel.OPERATOR, ACCOUNT, start - 30_000, start, end, end + 60_000,
        1_000_000, 1_000_000 + energy, energy, 0, 0, energy, 0,
        742, 800, 0, 1542, StopReason.REMOTE, "LSVAU2180N2183294",
    )  # fmt: skip


def new_pile_id() -> str:
    return "4403" + "".join(random.choices("0123456789", k=16))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached in {timeout} s: {what or predicate}")
        await asyncio.sleep(0.02)


# --- gateways with a bridge -----------------------------------------------------------------


@dataclass
class Rig:
    gateway: Gateway
    bridge: MqttBridge
    db_url: str

    async def all_outbox(self) -> list[tuple[int, str, str, int | None]]:
        await self.gateway.storage.flush()
        q = select(outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.published_at_ms)
        async with self.gateway.storage.reader.connect() as conn:
            return [tuple(r) for r in await conn.execute(q.order_by(outbox.c.id))]


async def open_gateway(db_url: str, mqtt_url: str, piles: list[str]) -> Gateway:
    configure_logging("warning")
    config = replace(gateway_config(), mqtt=MqttConfig(url=mqtt_url))
    storage = await Storage.open(db_url, upgrade=False, flush_ms=config.database.batch_ms)
    for pile_id in piles:
        await storage.register_pile(pile_id, vendor="ACME", model="DC120", gun_count=2)
    gateway = Gateway(config, storage)
    await gateway.start()
    return gateway


def make_bridge(gateway: Gateway, mqtt_url: str, **kw: Any) -> MqttBridge:
    options: dict[str, Any] = {
        "instance_id": f"test-{uuid.uuid4().hex[:8]}",
        "poll_interval_s": 0.05,
        "min_backoff_s": 0.1,
        "max_backoff_s": 0.5,
        "publish_timeout_s": 3.0,
    }
    options.update(kw)
    return MqttBridge(gateway, mqtt_url, **options)


@contextlib.asynccontextmanager
async def rig(
    mqtt_url: str, piles: list[str], *, db: str = "sqlite", start: bool = True, **kw: Any
) -> AsyncIterator[Rig]:
    async with fresh_database(db) as db_url:
        gateway = await open_gateway(db_url, mqtt_url, piles)
        await gateway.storage.add_account(ACCOUNT, balance_fen=50_000, card_token=CARD)
        bridge = make_bridge(gateway, mqtt_url, **kw)
        if start:
            await bridge.start()
        try:
            yield Rig(gateway, bridge, db_url)
        finally:
            await bridge.stop(grace_s=2)
            await gateway.stop(grace_s=2)


@contextlib.asynccontextmanager
async def online_pile(gateway: Gateway, pile_id: str) -> AsyncIterator[ScriptedPile]:
    pile = ScriptedPile(pile_id)
    await pile.login(gateway.tcp_port)
    await pile.heartbeat()
    try:
        yield pile
    finally:
        await pile.close()


async def full_session(gateway: Gateway, pile: ScriptedPile) -> str:
    """Remote start, charge, remote stop, unplug, bill: every session phase up to settled."""
    result = await gateway.start_charge(pile.pile_id, 1, ACCOUNT, "own_app")
    assert result.ok, result
    tx = result.transaction_id
    assert tx is not None
    seq = pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await pile.expect(MsgType.ACK, seq=seq)
    pile.status[1] = GunStatus.CHARGING
    await pile.heartbeat(power_w=60_000)
    assert (await gateway.stop_charge(pile.pile_id, 1)).ok
    await pile.expect(MsgType.STOP_CHARGE)
    pile.status[1] = GunStatus.FINISHING
    pile.send(StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
    await pile.heartbeat()
    pile.status[1] = GunStatus.AVAILABLE
    pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
    await pile.heartbeat()
    seq = pile.send(bill_for(tx))
    await pile.expect(MsgType.BILL_ACK, seq=seq)
    return tx


# --- MQTT clients ---------------------------------------------------------------------------


def client_for(url: str, **kw: Any) -> aiomqtt.Client:
    s = parse_url(url)
    kw.setdefault("protocol", aiomqtt.ProtocolVersion.V5)
    return aiomqtt.Client(s.host, s.port, timeout=5, **kw)


class Listener:
    """Collects the messages of one subscription in the background."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._task: asyncio.Task[None] | None = None

    async def _collect(self) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in self.client.messages:
                self.messages.append(message)

    def start(self) -> None:
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2)

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.payload) for m in self.messages]  # type: ignore[arg-type]

    def kinds(self) -> list[str]:
        return [b.get("kind", "") for b in self.bodies()]

    async def wait_for(self, predicate: Callable[[Listener], object], timeout: float = 5.0) -> None:
        await until(lambda: predicate(self), timeout, "expected MQTT messages")


@contextlib.asynccontextmanager
async def listening(url: str, topic: str, **client_kw: Any) -> AsyncIterator[Listener]:
    async with client_for(url, **client_kw) as client:
        await client.subscribe(topic, qos=1)
        listener = Listener(client)
        listener.start()
        try:
            yield listener
        finally:
            await listener.stop()


async def send_command(
    client: aiomqtt.Client,
    pile_id: str,
    command: str,
    body: Any,
    *,
    reply_to: str | None,
    correlation: bytes | None = None,
) -> None:
    props = Properties(PacketTypes.PUBLISH)
    if reply_to is not None:
        props.ResponseTopic = reply_to
    if correlation is not None:
        props.CorrelationData = correlation
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    await client.publish(f"pilegate/v1/cmd/{pile_id}/{command}", payload, qos=1, properties=props)


def reply_topic() -> str:
    return f"test/pilegate/{uuid.uuid4().hex}/reply"


# --- a throwaway mosquitto ------------------------------------------------------------------


class Mosquitto:
    """A mosquitto on a free loopback port with persistence (sessions survive a restart)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "user root\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "log_type none\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        assert MOSQUITTO is not None
        self.process = await asyncio.to_thread(
            subprocess.Popen,
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: saves the persistent sessions
            try:
                await asyncio.to_thread(self.process.wait, 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 5)
        self.process = None


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    if MOSQUITTO is None:
        message = "the mosquitto binary is not installed (apt-get install mosquitto)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    broker = Mosquitto(tmp_path)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
