"""A real gateway with its OCPP listener on 127.0.0.1 (port chosen by the OS), a fresh migrated
database, registered charge points and accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.logs import configure_logging
from gateway.storage import Storage
from tests.db import fresh_database
from tests.gateway.conftest import FakeClock, gateway_config

CP = "CP-1"  # the default station: connectors 0 (the charger), 1 and 2
CARD = "04A1B2C3D4"  # a registered idTag (card token)
# Outside the simulator's driver pool (simulators/accounts.py: 1380000xxxx, 1390000xxxx), so the
# field-case scenarios never draw the disabled one.
ACCOUNT = "13700000001"
BLOCKED_CARD = "04DEAD0000"  # its account is disabled
BLOCKED_ACCOUNT = "13700000002"


def ocpp_config(**ocpp: object) -> GatewayConfig:
    base = gateway_config()
    return replace(
        base, ocpp=replace(base.ocpp, enabled=True, port=0, heartbeat_interval_s=60, **ocpp)
    )


async def start(url: str, config: GatewayConfig, clock: FakeClock | None = None) -> Gateway:
    configure_logging("debug")
    storage = await Storage.open(url, upgrade=False, flush_ms=config.database.batch_ms)
    await storage.register_charger(CP, gun_count=2, at_ms=0)
    await storage.add_account(ACCOUNT, balance_fen=50_000, card_token=CARD)
    await storage.add_account(
        BLOCKED_ACCOUNT, balance_fen=50_000, card_token=BLOCKED_CARD, enabled=False
    )
    gateway = Gateway(config, storage) if clock is None else Gateway(config, storage, clock)
    await gateway.start()
    return gateway


@pytest.fixture
async def db_url() -> AsyncIterator[str]:
    async with fresh_database("sqlite") as url:
        yield url


@pytest.fixture
async def gateway(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    marker = request.node.get_closest_marker("ocpp")
    config = ocpp_config(**(marker.kwargs if marker else {}))
    # A test that asks for the clock fixture gets a gateway on that clock.
    clock = request.getfixturevalue("clock") if "clock" in request.fixturenames else None
    gw = await start(db_url, config, clock)
    try:
        yield gw
    finally:
        await gw.stop(grace_s=2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def port(gateway: Gateway) -> int:
    assert gateway.ocpp is not None
    return gateway.ocpp.port
