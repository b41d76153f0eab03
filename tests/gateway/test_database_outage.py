"""A real gateway and pile through a PostgreSQL outage (tests/faultproxy.py cuts the gateway's
connections; the shared server is never restarted).

During the outage the pile keeps heartbeating and sends events and its bill: frames are
answered, the bill is not acknowledged (nothing is acknowledged before its commit). After the
database returns, every journal row, transition, session row, outbox event and the bill are in
the database exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise

import httpx
import orjson
from sqlalchemy import select

from gateway.admin.app import create_app
from gateway.app import Gateway
from gateway.commands import Outcome
from gateway.storage import Storage
from gateway.storage.schema import outbox
from protocol.pilegate import (
    BillAckStatus,
    FaultCode,
    GunStatus,
    Heartbeat,
    Login,
    Logout,
    MeterValues,
    MsgType,
    Result,
    StartResult,
    StopReason,
    StopResult,
)
from sessions import Phase
from tests import reads
from tests.db import fresh_database
from tests.faultproxy import FaultProxy
from tests.gateway.conftest import ACCOUNT, gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for


async def until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for a state the gateway reaches by itself (generous: a busy machine)."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {timeout} s")


def acks_of(pile: ScriptedPile, seq: int) -> set[int]:
    """The BILL_ACK statuses the pile got for its BILL with this seq."""
    return {f.message.status for f in pile.of_type(MsgType.BILL_ACK) if f.seq == seq}


async def test_nothing_is_lost_or_acknowledged_early_through_a_database_outage(
    postgres_url: str,
) -> None:
    async with fresh_database(postgres_url) as url, FaultProxy.to_url(url) as proxy:
        base = gateway_config()
        # Events on (a broker URL; no bridge runs here, so the outbox keeps every event).
        config = replace(base, mqtt=replace(base.mqtt, url="mqtt://127.0.0.1:9"))
        gateway = await start_gateway(proxy.url, config)
        pile = ScriptedPile()
        try:
            await pile.login(gateway.tcp_port)
            await pile.heartbeat()
            started = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
            assert started.outcome is Outcome.ACCEPTED
            tx = started.transaction_id
            assert tx is not None
            seq = pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
            await pile.expect(MsgType.ACK, seq=seq)
            session = gateway.piles[PILE_ID].guns[1].session
            assert session is not None and session.phase is Phase.CHARGING
            await gateway.storage.flush()

            proxy.cut()  # the database is gone
            pile.status[1] = GunStatus.CHARGING
            await pile.heartbeat(power_w=60_000)
            for i in range(1, 4):
                meter = MeterValues(1, tx, T0 + i * 60_000, 1_000_000 + i * 30_000, i * 30_000,
                                    3800, 1500, 60_000, 50)  # fmt: skip
                await pile.expect(MsgType.ACK, seq=pile.send(meter))
            pile.status[1] = GunStatus.FINISHING
            stop = StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000)
            await pile.expect(MsgType.ACK, seq=pile.send(stop))
            pile.status[1] = GunStatus.AVAILABLE
            await pile.expect(
                MsgType.ACK, seq=pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
            )
            assert gateway.piles[PILE_ID].guns[1].session.phase is Phase.CLOSED  # type: ignore[union-attr]
            first_bill = pile.send(bill_for(tx))
            await until(lambda: gateway.metrics.bills["failed"] >= 1)
            for _ in range(3):
                await pile.heartbeat()  # still answered
            await until(lambda: gateway.storage.stats.outage)
            assert acks_of(pile, first_bill) <= {BillAckStatus.REJECTED}  # kept by the pile
            assert gateway.storage.stats.pending > 0  # held, not dropped

            proxy.restore()  # the database is back: the writer reconnects by itself
            await until(lambda: gateway.storage.stats.pending == 0)
            assert not gateway.storage.stats.outage and not gateway.storage.stats.lost
            assert acks_of(pile, first_bill) <= {BillAckStatus.REJECTED}
            again = pile.send(bill_for(tx))  # the pile re-sends its unacknowledged bill
            ack = await pile.expect(MsgType.BILL_ACK, seq=again, timeout=30)
            assert ack.message.status in (BillAckStatus.ACCEPTED, BillAckStatus.FLAGGED)
            await gateway.storage.flush()
            storage = gateway.storage

            assert await reads.count_bills(storage, PILE_ID) == 1
            row = await reads.get_session(storage, session.session_id)
            assert row is not None and row.state == "settled"
            transitions = await reads.transitions(storage, session.session_id)
            states = [t.to_state for t in transitions]
            assert len(states) == len(set(states)), states  # each transition once
            assert "closed" in states and states[-1] == "settled"
            for before, after in pairwise(transitions):
                assert after.from_state == before.to_state  # none missing in between
            frames = [f async for f in storage.frames(PILE_ID)]
            keys = Counter((f.direction, f.seq, f.type_name) for f in frames)
            assert max(keys.values()) == 1, keys.most_common(3)
            sent_during = {("in", "METER_VALUES"): 3, ("in", "STOP_RESULT"): 1,
                           ("in", "LOGOUT"): 1, ("in", "BILL"): 2}  # fmt: skip
            seen = Counter((f.direction, f.type_name) for f in frames)
            assert {k: seen[k] for k in sent_during} == sent_during
            async with storage.reader.connect() as conn:
                events = [
                    orjson.loads(p)
                    for (p,) in await conn.execute(
                        select(outbox.c.payload).where(outbox.c.topic.like(f"%/{PILE_ID}/%"))
                    )
                ]
            bills = [e for e in events if e["kind"] == "bill"]
            assert len(bills) == 1 and bills[0]["transaction_id"] == tx
            stored = await reads.find_bill(storage, PILE_ID, tx)
            assert stored is not None and bills[0]["bill_id"] == stored["id"]
            payloads = Counter(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in events)
            assert max(payloads.values()) == 1  # no event written twice
            kinds = Counter(e["kind"] for e in events)
            assert {s: kinds[f"session_{s}"] for s in states} == dict.fromkeys(states, 1)
        finally:
            await pile.close()
            await gateway.stop(grace_s=2)


async def test_piles_are_not_read_while_the_held_rows_are_at_their_bound(
    postgres_url: str,
) -> None:
    async with fresh_database(postgres_url) as url, FaultProxy.to_url(url) as proxy:
        config = gateway_config()
        storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2, max_pending=20)
        await storage.register_pile(PILE_ID, vendor="ACME", model="DC120", gun_count=2)
        gateway = Gateway(config, storage)
        await gateway.start()
        pile = ScriptedPile()
        try:
            await pile.login(gateway.tcp_port)
            await pile.heartbeat()
            proxy.cut()
            tx = "00" * 16
            at = 0
            while not gateway.reading_held:  # each frame is a journal row to hold
                at += 1
                meter = MeterValues(1, tx, T0 + at, 1_000_000, 0, 0, 0, 0, 255)
                await pile.expect(MsgType.ACK, seq=pile.send(meter))
                assert at < 100
            assert storage.stats.backlog and storage.stats.pending >= 20
            beat = pile.send(Heartbeat(()))  # sits in the socket: nobody reads it
            late = ScriptedPile(pile_id="44030600030000200061")
            await late.connect(gateway.tcp_port)  # accepted, but not read either
            hello = late.send(Login(late.pile_id, "ACME", "DC120", "V1", 1, 2, T0))
            assert not any(f.seq == beat for f in pile.of_type(MsgType.HEARTBEAT_ACK))
            proxy.restore()
            await pile.expect(MsgType.HEARTBEAT_ACK, seq=beat, timeout=30)
            await late.expect(MsgType.LOGIN_ACK, seq=hello, timeout=30)  # (unknown pile)
            assert not gateway.reading_held and not storage.stats.backlog
            await late.close()
            await storage.flush()
            frames = [f async for f in storage.frames(PILE_ID)]
            assert sum(f.type_name == "METER_VALUES" for f in frames) == at
            assert not storage.stats.lost
        finally:
            await pile.close()
            await gateway.stop(grace_s=2)


async def test_an_account_released_during_an_outage_is_released_when_it_returns(
    postgres_url: str,
) -> None:
    async with fresh_database(postgres_url) as url, FaultProxy.to_url(url) as proxy:
        gateway = await start_gateway(proxy.url, gateway_config())
        try:
            storage = gateway.storage
            assert await storage.claim_account(ACCOUNT, "S1", PILE_ID, 1, gateway.now_ms()) is None
            proxy.cut()
            gateway.accounts.release(ACCOUNT, "S1")  # the service ended while the database is gone
            await asyncio.sleep(0.3)  # a few failed attempts
            proxy.restore()
            await until(lambda: not gateway.accounts._ops)  # retried until it got through
            assert await reads.active_service(storage, ACCOUNT) is None
        finally:
            await gateway.stop(grace_s=2)


async def test_the_admin_api_answers_503_while_the_database_is_away(postgres_url: str) -> None:
    async with fresh_database(postgres_url) as url, FaultProxy.to_url(url) as proxy:
        gateway = await start_gateway(proxy.url, gateway_config())
        transport = httpx.ASGITransport(app=create_app(gateway))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
                assert (await client.get("/bills")).status_code == 200
                proxy.cut()
                answer = await client.get("/bills")
                assert answer.status_code == 503 and "database" in answer.json()["detail"]
                proxy.restore()
                await until(lambda: not gateway.storage.stats.outage)
                for _ in range(50):  # the pool reconnects by itself
                    if (await client.get("/bills")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the admin API did not come back")
        finally:
            await gateway.stop(grace_s=2)


async def test_a_pile_that_leaves_during_an_outage_is_marked_offline_after_it(
    postgres_url: str,
) -> None:
    async with fresh_database(postgres_url) as url, FaultProxy.to_url(url) as proxy:
        gateway = await start_gateway(proxy.url, gateway_config())
        pile = ScriptedPile()
        try:
            await pile.login(gateway.tcp_port)
            await gateway.storage.flush()
            assert (await gateway.storage.get_pile(PILE_ID)).online  # type: ignore[union-attr]
            proxy.cut()
            await pile.close()
            await until(lambda: not gateway.piles[PILE_ID].online)
            await asyncio.sleep(0.3)  # a few failed attempts
            proxy.restore()
            await gateway.background_done()  # retried until it got through
            assert not (await gateway.storage.get_pile(PILE_ID)).online  # type: ignore[union-attr]
        finally:
            await gateway.stop(grace_s=2)
