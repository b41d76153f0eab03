"""One account, one active service, held in the database (field case 2).

Pile 1 is told to stop (the start timed out), acknowledges, and charges anyway. The account is
claimed again for that charge before any later authorisation is answered, on this gateway or on
another one on the same database; and when a second service of the account did overlap the
charge, both bills get code 7 from the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gateway.app import Gateway
from gateway.storage import Storage
from protocol.pilegate import (
    AuthRequest,
    Channel,
    FaultCode,
    GunStatus,
    MsgType,
    Result,
    StartResult,
)
from sessions import Phase, Tick
from tests import reads
from tests.db import fresh_database
from tests.gateway.conftest import ACCOUNT, CARD, gateway_config
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import bill_for
from tests.gateway.test_restart import MIN, Clock, S

OTHER_PILE = "44030600030000200061"


@asynccontextmanager
async def gateways(kind: str, count: int, clock: Clock) -> AsyncIterator[list[Gateway]]:
    """count gateway instances on one fresh database, with both piles and the account known."""
    config = gateway_config()
    async with fresh_database(kind) as url:
        running: list[Gateway] = []
        try:
            for i in range(count):
                storage = await Storage.open(url, upgrade=False, flush_ms=2.0)
                if i == 0:
                    for pile_id in (PILE_ID, OTHER_PILE):
                        await storage.register_pile(pile_id, gun_count=2)
                    await storage.add_account(ACCOUNT, balance_fen=50_000, card_token=CARD)
                gateway = Gateway(config, storage, clock=clock)
                await gateway.start()
                running.append(gateway)
            yield running
        finally:
            for gateway in running:
                await gateway.stop(grace_s=2)


async def pile_on(gateway: Gateway, pile_id: str) -> ScriptedPile:
    pile = ScriptedPile(pile_id)
    await pile.login(gateway.tcp_port)
    await pile.heartbeat()
    return pile


async def start_then_time_out(gateway: Gateway, pile: ScriptedPile, clock: Clock) -> str:
    """A remote start the pile accepts but never confirms: after the start timeout the gateway
    cancels it and sends a stop, which the pile acknowledges."""
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.ok and result.transaction_id
    seen = len(pile.received)
    clock.now += 5 * MIN + S
    gateway.piles[PILE_ID].feed(1, Tick(), clock.now)
    stop = await pile.expect(MsgType.STOP_CHARGE, after=seen)
    assert stop.message.transaction_id == result.transaction_id
    session = gateway.piles[PILE_ID].guns[1].session
    assert session is not None and session.phase is Phase.CANCELLED
    return result.transaction_id


async def authorise_card(pile: ScriptedPile) -> tuple[int, str]:
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD))
    answer = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    return answer.result, answer.transaction_id


async def charging_report(pile: ScriptedPile, charging: bool = True) -> None:
    pile.status[1] = GunStatus.CHARGING if charging else GunStatus.AVAILABLE
    await pile.heartbeat(power_w=60_000 if charging else 0)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_charge_after_an_acknowledged_stop_keeps_the_account_busy(kind: str) -> None:
    clock = Clock()
    async with gateways(kind, 1, clock) as (gateway,):
        first, second = await pile_on(gateway, PILE_ID), await pile_on(gateway, OTHER_PILE)
        try:
            for _ in range(12):  # the old asynchronous re-claim lost this race now and then
                await start_then_time_out(gateway, first, clock)
                # The heartbeat is answered before the claim reaches the database; the card
                # request right behind it must still find the account held.
                await charging_report(first)
                result, tx = await authorise_card(second)
                assert (result, tx) == (Result.ACCOUNT_BUSY, "")
                await charging_report(first, charging=False)  # the pile gives up at last
                await gateway.background_done()
                assert await reads.active_service(gateway.storage, ACCOUNT) is None
                clock.now += MIN
        finally:
            await first.close()
            await second.close()


async def test_the_claim_holds_across_gateway_instances(postgres_url: str) -> None:
    clock = Clock()
    async with gateways("postgresql", 2, clock) as (a, b):
        first, second = await pile_on(a, PILE_ID), await pile_on(b, OTHER_PILE)
        try:
            tx = await start_then_time_out(a, first, clock)
            await charging_report(first)
            await a.background_done()  # gateway A's claim is committed: B must see it
            holder = await reads.active_service(b.storage, ACCOUNT)
            assert holder is not None and holder.session_id == tx
            assert await authorise_card(second) == (Result.ACCOUNT_BUSY, "")
        finally:
            await first.close()
            await second.close()


async def overlapping_services(first_gw: Gateway, second_gw: Gateway, clock: Clock) -> set[str]:
    """Service 2 is authorised on the other pile while the account is free; then pile 1 starts
    charging for the cancelled service 1. Returns the anomaly codes of both bills."""
    first, second = await pile_on(first_gw, PILE_ID), await pile_on(second_gw, OTHER_PILE)
    try:
        tx1 = await start_then_time_out(first_gw, first, clock)
        await first_gw.background_done()  # the cancel released the account
        result, tx2 = await authorise_card(second)
        assert result == Result.OK
        clock.now += 20 * S
        seq = second.send(StartResult(1, tx2, Result.OK, FaultCode.NONE, clock.now, 1_000_000))
        await second.expect(MsgType.ACK, seq=seq)
        clock.now += MIN
        await charging_report(first)  # the late charge: re-claim finds service 2 holding
        clock.now += 10 * MIN
        await charging_report(first, charging=False)
        await first_gw.background_done()
        await first_gw.storage.flush()
        codes = set()
        for pile, tx in ((second, tx2), (first, tx1)):
            clock.now += MIN
            seq = pile.send(bill_for(tx, start=clock.now - 11 * MIN, end=clock.now - MIN))
            await pile.expect(MsgType.BILL_ACK, seq=seq)
            stored = await reads.find_bill(second_gw.storage, pile.pile_id, tx)
            assert stored is not None
            codes.add(f"{pile.pile_id[-1]}:{stored['anomaly_codes']}")
        return codes
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_bills_of_overlapping_services_get_code_7(kind: str) -> None:
    clock = Clock()
    async with gateways(kind, 1, clock) as (gateway,):
        codes = await overlapping_services(gateway, gateway, clock)
    assert all("7" in c.split(":")[1].split(",") for c in codes), codes


async def test_overlaps_are_found_across_gateway_instances(postgres_url: str) -> None:
    clock = Clock()
    async with gateways("postgresql", 2, clock) as (a, b):
        codes = await overlapping_services(a, b, clock)
    assert all("7" in c.split(":")[1].split(",") for c in codes), codes
