"""The storage writer through a PostgreSQL outage (tests/faultproxy.py cuts the connections;
the shared server itself is never touched): nothing fire-and-forget is dropped, bills are not
reported stored, the writer reconnects by itself, and the outage is logged once each way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select

from gateway.metrics import Metrics, render_prometheus
from gateway.storage import JournalEntry, SessionRow, Storage, WriteFailed
from gateway.storage.schema import outbox
from gateway.storage.writer import Kind
from tests import reads
from tests.db import database_url, postgresql_url  # noqa: F401
from tests.faultproxy import FaultProxy
from tests.storage.support import RECEIVED, bill, pile_id, settled, uid

WRITER_LOG = "pilegate.storage.writer"


def frame(p: str, at: int) -> JournalEntry:
    return JournalEntry(at, p, "in", at % 65536, 0x08, "METER_VALUES", "aa55", {"n": at}, 1)


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition the writer reaches by itself (generous: a busy machine)."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {timeout} s")


@pytest.fixture
async def proxied(postgresql_url: str) -> AsyncIterator[tuple[FaultProxy, str]]:  # noqa: F811
    """A migrated database (shared by this module) behind a fresh proxy."""
    async with FaultProxy.to_url(postgresql_url) as proxy:
        yield proxy, postgresql_url


async def outbox_rows(url: str, topic: str) -> int:
    direct = await Storage.open(url, upgrade=False)
    try:
        q = select(func.count()).select_from(outbox).where(outbox.c.topic == topic)
        async with direct.reader.connect() as conn:
            return (await conn.execute(q)).scalar_one()
    finally:
        await direct.close()


async def test_rows_submitted_during_an_outage_are_written_once_after_it(
    proxied: tuple[FaultProxy, str], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, url = proxied
    caplog.set_level(logging.WARNING, logger=WRITER_LOG)
    storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2)
    try:
        p, sid = pile_id(), uid("S")
        storage.journal(frame(p, 1))
        await storage.flush()  # the pool holds a live connection now
        proxy.cut()
        for at in range(2, 202):
            storage.journal(frame(p, at))
        row = SessionRow(sid, uid("T"), p, 1, "U1", "card", "charging", 10, authorised_ms=5)
        storage.record_session(row)
        for i, state in enumerate(("authorised", "starting", "charging")):
            storage.record_transition(sid, None, state, "step", 10 + i)
        storage.publish(f"pilegate/v1/events/{p}/session", {"n": 1})
        b = bill()
        with pytest.raises(WriteFailed):  # not stored: the caller must not acknowledge
            await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
        await until(lambda: storage.stats.outage and storage.stats.failed_batches >= 3)
        assert storage.stats.pending == 200 + 1 + 3 + 1  # held, none dropped
        proxy.restore()
        await until(lambda: storage.stats.pending == 0)
        assert not storage.stats.outage and storage.stats.outages == 1
        assert not storage.stats.lost
        # The writer reconnected by itself; the bill, re-sent by its pile, is stored once.
        stored = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
        assert not stored.duplicate
        assert [e.at_ms async for e in storage.frames(p)] == list(range(1, 202))
        assert await reads.get_session(storage, sid) == row
        assert [t.to_state for t in await reads.transitions(storage, sid)] == [
            "authorised", "starting", "charging"]  # fmt: skip
    finally:
        await storage.close()
    assert await outbox_rows(url, f"pilegate/v1/events/{p}/session") == 1
    said = [r.getMessage() for r in caplog.records if r.name == WRITER_LOG]
    assert sum("storage outage: database unavailable" in m for m in said) == 1
    assert sum("storage outage over after" in m for m in said) == 1
    assert len(said) == 2  # not one line per retry


async def test_back_pressure_at_the_bound_and_released_after_the_outage(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, _ = proxied
    storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2, max_pending=50)
    signals: list[bool] = []
    storage.on_backlog(signals.append)
    try:
        p = pile_id()
        proxy.cut()
        for at in range(1, 50):
            storage.journal(frame(p, at))
        assert signals == [] and not storage.stats.backlog
        storage.journal(frame(p, 50))
        storage.journal(frame(p, 51))  # over the bound: still kept
        assert signals == [True] and storage.stats.backlog and storage.stats.pending == 51
        await until(lambda: storage.stats.outage)
        proxy.restore()
        await until(lambda: not storage.stats.backlog)
        assert signals == [True, False]
        await storage.flush()
        assert len([e async for e in storage.frames(p)]) == 51
    finally:
        await storage.close()


async def test_close_during_an_outage_gives_up_after_its_timeout(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, _ = proxied
    storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2, close_timeout_s=0.5)
    proxy.cut()
    storage.journal(frame(pile_id(), 1))
    await storage.close()  # returns: the database may never come back
    assert storage.stats.lost == {"journal": 1} and storage.stats.pending == 0


async def test_the_proxy_refuses_while_cut_and_forwards_after(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, _ = proxied
    storage = await Storage.open(proxy.url, upgrade=False)
    try:
        assert await storage.get_pile("0" * 20) is None
        proxy.cut()
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
            await storage.get_pile("0" * 20)
        assert proxy.stats.refused >= 1 and proxy.is_cut
        proxy.restore()
        assert await storage.get_pile("0" * 20) is None  # a new connection, through the pool
        assert proxy.stats.accepted >= 2
    finally:
        await storage.close()


async def test_metrics_show_the_outage_and_the_held_rows(proxied: tuple[FaultProxy, str]) -> None:
    proxy, _ = proxied
    storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2, max_pending=3)
    try:
        proxy.cut()
        for at in range(1, 5):
            storage.journal(frame(pile_id(), at))
        await until(lambda: storage.stats.outage)
        text = render_prometheus(Metrics(), writer=storage.stats)
        for line in (
            "pilegate_db_outage 1",
            "pilegate_db_pending_rows 4",
            "pilegate_db_pending_rows_limit 3",
            "pilegate_db_backpressure 1",
            "pilegate_db_outages_total 1",
        ):
            assert line in text.splitlines(), line
        proxy.restore()
        await until(lambda: not storage.stats.outage)
        await storage.flush()
        text = render_prometheus(Metrics(), writer=storage.stats)
        assert "pilegate_db_outage 0" in text.splitlines()
        assert "pilegate_db_pending_rows 0" in text.splitlines()
    finally:
        await storage.close()


async def test_a_bill_event_exists_if_and_only_if_its_bill_was_stored(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, url = proxied
    storage = await Storage.open(proxy.url, upgrade=False, flush_ms=2)
    p = pile_id()
    topic = f"pilegate/v1/events/{p}/bill"
    b = bill()
    event = (topic, {"kind": "bill", "bill_id": None, "transaction_id": b.transaction_id})
    try:
        proxy.cut()
        with pytest.raises(WriteFailed):
            await storage.store_bill(p, b, settled(b), received_ms=RECEIVED, event=event)
        proxy.restore()
        await until(lambda: not storage.stats.outage)
        assert await outbox_rows(url, topic) == 0  # not stored: no event either
        first = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED, event=event)
        again = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED, event=event)
        assert not first.duplicate and again.duplicate
        assert await outbox_rows(url, topic) == 1  # committed with the bill; none for the copy
        pending = [m for _, t, m in await storage.outbox_pending() if t == topic]
        assert pending == [{"kind": "bill", "bill_id": first.bill_id,
                            "transaction_id": b.transaction_id}]  # fmt: skip
    finally:
        await storage.close()


async def test_a_row_the_database_refuses_is_set_aside_and_the_rest_is_written(
    database_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger=WRITER_LOG)
    storage = await Storage.open(database_url, upgrade=False, flush_ms=50)
    try:
        sid = uid("S")
        for i in range(10):
            storage.record_transition(sid, None, f"s{i}", "step", i)
            if i == 4:  # NOT NULL violated: no retry can ever write it
                storage.writer.submit(Kind.TRANSITION, {
                    "session_id": sid, "from_state": None, "to_state": None,
                    "reason": "bad", "at_ms": i})  # fmt: skip
        await storage.flush()
        states = [t.to_state for t in await reads.transitions(storage, sid)]
        assert states == [f"s{i}" for i in range(10)]
        assert storage.stats.lost == {"transition": 1} and storage.stats.pending == 0
        assert not storage.stats.outage and storage.stats.outages == 0
    finally:
        await storage.close()
    refused = [r for r in caplog.records if "refused a transition row" in r.getMessage()]
    assert len(refused) == 1 and "'bad'" in refused[0].getMessage()
