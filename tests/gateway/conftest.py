"""A real gateway on 127.0.0.1 (ports chosen by the OS) over a fresh migrated database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.logs import configure_logging
from gateway.storage import Storage
from tests.db import fresh_database
from tests.gateway.piles import PILE_ID, ScriptedPile

ACCOUNT = "13800000000"
CARD = "D4E5F60718293A4B"


def gateway_config(**sessions: float) -> GatewayConfig:
    """A gateway on 127.0.0.1 with ephemeral ports. The login timeout is generous (a test that
    is about the login timeout sets its own): a busy CI machine can take over a second to
    answer a LOGIN, and a pile closed before its LOGIN_ACK is a flake, not a finding."""
    base = GatewayConfig()
    return replace(
        base,
        server=replace(base.server, host="127.0.0.1", tcp_port=0, ws_port=0, bad_frame_burst=5),
        piles=replace(
            base.piles, login_timeout_s=10.0, heartbeat_interval_s=30, command_timeout_s=2.0
        ),
        sessions=replace(base.sessions, **sessions),
        database=replace(base.database, batch_ms=2.0),
    )


class FakeClock:
    """The gateway's injected clock for timeout tests: epoch ms that move only when told.

    Session timers are armed on the event loop from this clock's deadlines; ``advance``
    re-arms them, so a timer whose deadline has passed fires at the loop's next turn and
    one still ahead does not fire (its real delay is minutes). No test waits out a timeout."""

    def __init__(self, start_ms: int | None = None) -> None:
        self.ms = int(time.time() * 1000) if start_ms is None else start_ms

    def __call__(self) -> int:
        return self.ms

    async def advance(self, gateway: Gateway, seconds: float) -> None:
        self.ms += int(seconds * 1000)
        for pile in gateway.piles.values():
            pile.stop_timers()
            pile.reschedule()
        for _ in range(3):  # let timers due now fire and their actions run
            await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def start_gateway(
    url: str, config: GatewayConfig, *, register: bool = True, clock: FakeClock | None = None
) -> Gateway:
    configure_logging("debug")
    storage = await Storage.open(url, upgrade=False, flush_ms=config.database.batch_ms)
    if register:
        await storage.register_pile(PILE_ID, vendor="ACME", model="DC120", gun_count=2)
        await storage.add_account(ACCOUNT, balance_fen=50_000, card_token=CARD)
        await storage.add_account("13900000000", balance_fen=50_000)
    gateway = Gateway(config, storage) if clock is None else Gateway(config, storage, clock)
    await gateway.start()
    return gateway


@pytest.fixture(params=["sqlite"])
async def db_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with fresh_database(request.param) as url:
        yield url


@pytest.fixture
async def gateway(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    marker = request.node.get_closest_marker("sessions")
    config = gateway_config(**(marker.kwargs if marker else {}))
    # A test that asks for the clock fixture gets a gateway on that clock.
    clock = request.getfixturevalue("clock") if "clock" in request.fixturenames else None
    gw = await start_gateway(db_url, config, clock=clock)
    try:
        yield gw
    finally:
        await gw.stop(grace_s=2)


@pytest.fixture
async def pile(gateway: Gateway) -> AsyncIterator[ScriptedPile]:
    p = ScriptedPile()
    await p.login(gateway.tcp_port)
    try:
        yield p
    finally:
        await p.close()
