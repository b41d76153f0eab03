"""A real gateway for the scenarios: in-process, fresh SQLite database, auto-registration on,
the simulator's driver accounts registered, short session timeouts, and its admin API on
127.0.0.1 (an OS-chosen port, with a bearer token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from gateway.admin.server import AdminServer
from gateway.app import Gateway
from gateway.config import AdminConfig, GatewayConfig
from simulators.accounts import pool
from simulators.scenarios import ScenarioOptions
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway

START_TIMEOUT_S = 1.5
BILL_WAIT_S = 1.0
TOKEN = "scenario-test-token"


def scenario_config() -> GatewayConfig:
    config = gateway_config(start_timeout_s=START_TIMEOUT_S, bill_wait_s=BILL_WAIT_S)
    return replace(
        config,
        piles=replace(config.piles, auto_register=True, command_timeout_s=1.0),
        # garbage_bytes sends ~15 bad frames; the production default (20) allows that.
        server=replace(config.server, bad_frame_burst=20),
        # YKC's own rules, shortened as v1's timeouts are (the gateway composes its YKC
        # adapter when it is made: they are read then).
        ykc=replace(
            config.ykc, start_confirm_s=START_TIMEOUT_S, bill_due_s=BILL_WAIT_S, stop_check_s=0.5
        ),
    )


@dataclass(slots=True)
class LiveGateway:
    gateway: Gateway
    admin: AdminServer

    @property
    def tcp_url(self) -> str:
        return f"tcp://127.0.0.1:{self.gateway.tcp_port}"

    def options(self, **overrides: object) -> ScenarioOptions:
        opts = ScenarioOptions(
            gateway=self.tcp_url,
            admin=self.admin.url,
            token=TOKEN,
            start_timeout_s=START_TIMEOUT_S,
            bill_wait_s=BILL_WAIT_S,
            step_timeout_s=4.0,
        )
        return replace(opts, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def live() -> AsyncIterator[LiveGateway]:
    async with fresh_database("sqlite") as url:
        gateway = await start_gateway(url, scenario_config(), register=False)
        try:
            for account, card, password in pool():
                await gateway.storage.add_account(
                    account,
                    balance_fen=100_000,
                    card_token=card or None,
                    password=password or None,
                )
            admin = AdminServer(gateway, AdminConfig(host="127.0.0.1", port=0, token=TOKEN))
            await admin.start()
            try:
                yield LiveGateway(gateway, admin)
            finally:
                await admin.stop()
        finally:
            await gateway.stop(grace_s=2)
