"""The field-case scenarios over OCPP: the simulator's OCPP 1.6J charge points against a real
gateway's OCPP listener, its operator commands through the admin API (/ocpp/{id}/start|stop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.admin.server import AdminServer
from gateway.config import AdminConfig
from simulators.accounts import pool
from simulators.scenarios import ScenarioOptions, catalogue, run_scenario
from tests.db import fresh_database
from tests.ocpp.conftest import start
from tests.scenarios.conftest import BILL_WAIT_S, START_TIMEOUT_S, TOKEN, scenario_config

OCPP_CASES = [r["name"] for r in catalogue() if "ocpp16" in r["dialects"]]


@pytest.fixture
async def live() -> AsyncIterator[ScenarioOptions]:
    config = scenario_config()
    config = replace(config, ocpp=replace(config.ocpp, enabled=True, port=0))
    async with fresh_database("sqlite") as url:
        gateway = await start(url, config)
        try:
            for account, card, password in pool():
                await gateway.storage.add_account(
                    account, balance_fen=100_000, card_token=card or None,
                    password=password or None,
                )  # fmt: skip
            admin = AdminServer(gateway, AdminConfig(host="127.0.0.1", port=0, token=TOKEN))
            await admin.start()
            assert gateway.ocpp is not None
            try:
                yield ScenarioOptions(
                    gateway=f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp",
                    admin=admin.url,
                    token=TOKEN,
                    dialect="ocpp16",
                    start_timeout_s=START_TIMEOUT_S,
                    bill_wait_s=BILL_WAIT_S,
                    step_timeout_s=4.0,
                )
            finally:
                await admin.stop()
        finally:
            await gateway.stop(grace_s=2)


def test_the_ocpp_cases_are_the_catalogues() -> None:
    assert {
        "happy_path", "stop_not_honoured", "late_start", "old_firmware_lost_bill",
        "offline_with_bills", "duplicate_bill",
    } <= set(OCPP_CASES)  # fmt: skip


@pytest.mark.parametrize("name", OCPP_CASES)
async def test_scenario_over_ocpp(live: ScenarioOptions, name: str) -> None:
    result = await run_scenario(name, live)
    assert result.passed, result.to_dict()
