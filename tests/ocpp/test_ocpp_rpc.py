"""The charge point played by the npm `ocpp-rpc` client (tests/interop: strict mode, its own
copy of the OCPP 1.6 schemas on both directions), an implementation nobody here wrote: a card
session billed, an operator's remote start and stop, Basic Auth."""

from __future__ import annotations

import asyncio

from gateway.adapters.ocpp16.auth import hash_password
from gateway.app import Gateway
from sessions import Phase
from tests.interop.ocpp_rpc_charger import require_ocpp_rpc, run_charger
from tests.ocpp.conftest import ACCOUNT, CARD, CP
from tests.ocpp.reads import bill_of, eventually


def endpoint(port: int) -> str:
    return f"ws://127.0.0.1:{port}/ocpp"


async def test_ocpp_rpc_card_session_is_billed(gateway: Gateway, port: int) -> None:
    run = await run_charger(endpoint(port), CP, id_tag=CARD, meter_samples=2)
    assert run.returncode == 0, run.output
    assert run.first("connected")["protocol"] == "ocpp1.6"
    assert run.first("boot")["status"] == "Accepted" and run.first("boot")["interval"] > 0
    assert run.first("authorize")["status"] == "Accepted"
    started = run.first("start_transaction")
    assert started["status"] == "Accepted" and started["transactionId"] > 0
    assert run.first("stop_transaction")["status"] == "Accepted"
    tx = await gateway.storage.ocpp_transaction(CP, started["transactionId"])
    assert tx is not None and tx.session_tx is not None
    bill = await eventually(lambda: bill_of(gateway.storage, CP, tx.session_tx or ""))
    assert bill["energy_dwh"] == (2100 - 1000) * 10 and bill["account"] == ACCOUNT


async def test_ocpp_rpc_remote_start_and_stop(gateway: Gateway, port: int) -> None:
    require_ocpp_rpc()
    charger = asyncio.create_task(
        run_charger(endpoint(port), CP, id_tag="NOT-A-CARD", remote_wait_s=10, meter_samples=1)
    )
    pile = await eventually(lambda: _online(gateway), what="the charger online", timeout=15)
    started = await pile.start(1, ACCOUNT, "own_app")
    assert started.outcome.value == "accepted", started
    await eventually(lambda: _phase(gateway, Phase.CHARGING), what="charging", timeout=15)
    stopped = await pile.stop(1)
    assert stopped.outcome.value == "accepted", stopped
    run = await charger
    assert run.returncode == 0, run.output
    assert run.first("authorize")["status"] == "Invalid"
    assert run.first("remote_start")["idTag"]
    assert run.first("remote_stop")["received"] is True


async def test_ocpp_rpc_with_basic_auth(gateway: Gateway, port: int) -> None:
    password = "0123456789abcdef"
    await gateway.storage.set_charger_password(
        CP, hash_password(password.encode()), 1, at_ms=gateway.now_ms()
    )
    refused = await run_charger(endpoint(port), CP, id_tag=CARD, password="wrong-password-00")
    assert refused.returncode != 0 and not refused.all("boot")
    run = await run_charger(endpoint(port), CP, id_tag=CARD, password=password)
    assert run.returncode == 0, run.output


async def _online(gateway: Gateway) -> object:
    pile = gateway.piles.get(CP)
    return pile if pile is not None and pile.online else None


async def _phase(gateway: Gateway, phase: Phase) -> bool:
    session = gateway.piles[CP].guns[1].session
    return session is not None and session.phase is phase
