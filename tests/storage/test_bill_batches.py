"""The batch write of bills: a bad bill is isolated, rows orjson cannot encode still go
through, every row of a batch (bill, lines, anomalies) lands or none does."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.storage import Storage, WriteFailed
from gateway.storage.schema import bill_lines, bills
from tests.storage.support import RECEIVED, bill, pile_id, settled


async def _count(storage: Storage, table, pile: str) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(table)
    if table is bill_lines:
        q = q.join(bills, bills.c.id == bill_lines.c.bill_id)
    async with storage.reader.connect() as conn:
        return (await conn.execute(q.where(bills.c.pile_id == pile))).scalar_one()


def _postgresql_only(storage: Storage) -> None:
    if storage.engine.dialect.name != "postgresql":  # SQLite: neither lengths nor splits
        pytest.skip("PostgreSQL batch path")


async def test_a_bill_the_database_rejects_fails_alone(storage: Storage) -> None:
    _postgresql_only(storage)
    p = pile_id()
    good = [bill() for _ in range(9)]
    bad = bill(account="a" * 200)  # over the column's length
    results = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in [*good, bad]),
        return_exceptions=True,
    )
    assert all(not isinstance(r, BaseException) for r in results[:9]), results
    assert isinstance(results[9], WriteFailed)
    assert await _count(storage, bills, p) == 9
    assert await _count(storage, bill_lines, p) == 9 * len(settled(good[0]).computed.lines)


async def test_a_bill_orjson_cannot_encode_fails_alone(storage: Storage) -> None:
    _postgresql_only(storage)
    p = pile_id()
    good = [bill() for _ in range(5)]
    bad = bill(meter_stop_dwh=2**70)  # neither JSON (orjson) nor a BIGINT
    results = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in [*good, bad]),
        return_exceptions=True,
    )
    assert all(not isinstance(r, BaseException) for r in results[:5]), results
    assert isinstance(results[5], WriteFailed)
    assert await _count(storage, bills, p) == 5


async def test_duplicates_across_batches_keep_the_first_id(storage: Storage) -> None:
    p = pile_id()
    bs = [bill() for _ in range(30)]
    first = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in bs)
    )
    again = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in [*bs, *bs])
    )
    assert not any(r.duplicate for r in first)
    assert all(r.duplicate for r in again)
    assert [r.bill_id for r in again] == [r.bill_id for r in first] * 2
    assert await _count(storage, bills, p) == 30
