from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select, text

from billing.anomalies import AnomalyCode
from billing.records import GatewayObservation
from gateway.storage import Storage, WriteFailed
from gateway.storage.bills import (
    LATE,
    STATUS_CORRECTED,
    STATUS_FLAGGED,
    STATUS_STORED,
    UNKNOWN_SESSION,
)
from gateway.storage.schema import anomalies, bill_lines, bills
from tests import reads
from tests.billing.fixtures import TARIFF
from tests.db import fresh_database
from tests.storage.support import RECEIVED, bill, pile_id, settled


async def _count(storage: Storage, table, **where: object) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(table)
    for k, v in where.items():
        q = q.where(table.c[k] == v)
    async with storage.reader.connect() as conn:
        return (await conn.execute(q)).scalar_one()


async def test_clean_bill_is_stored_with_lines_and_our_amounts(storage: Storage) -> None:
    p, b = pile_id(), bill()
    s = settled(b)
    stored = await storage.store_bill(p, b, s, received_ms=RECEIVED, session_id="S-1")
    assert not stored.duplicate and stored.status == STATUS_STORED and stored.anomaly_mask == 0
    row = await reads.get_bill(storage, stored.bill_id)
    assert row is not None
    assert (row["pile_id"], row["transaction_id"], row["session_id"]) == (
        p,
        b.transaction_id,
        "S-1",
    )
    assert (row["total_amount_fen"], row["our_total_fen"], row["difference_fen"]) == (1680, 1680, 0)
    assert row["valid"] and row["anomaly_codes"] == "" and row["tariff_id"] == TARIFF.tariff_id
    lines = await reads.bill_lines(storage, stored.bill_id)
    assert [x["kind"] for x in lines] == ["flat", "peak"]
    assert sum(x["energy_dwh"] for x in lines) == b.energy_dwh
    assert sum(x["energy_amount_fen"] + x["service_amount_fen"] for x in lines) == 1680
    assert await reads.find_bill(storage, p, b.transaction_id) == row


async def test_same_bill_twice_is_stored_once_and_acknowledged_as_duplicate(
    storage: Storage,
) -> None:
    p, b = pile_id(), bill()
    first = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
    again = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED + 5000)
    assert not first.duplicate and again.duplicate and again.bill_id == first.bill_id
    assert await reads.count_bills(storage, p) == 1
    assert await _count(storage, bill_lines, bill_id=first.bill_id) == 2


async def test_copies_in_one_batch_dedupe(storage: Storage) -> None:
    p, b = pile_id(), bill(energy_dwh=-5)  # with anomalies: they must be written once too
    results = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for _ in range(5))
    )
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.bill_id for r in results}) == 1
    assert await reads.count_bills(storage, p) == 1
    bid = results[0].bill_id
    codes = [a.code for a in await storage.anomalies(bill_id=bid) if a.code is not None]
    assert len(codes) == len(set(codes)) and AnomalyCode.ENERGY in codes


async def test_same_transaction_on_another_pile_is_another_bill(storage: Storage) -> None:
    b = bill()
    r1 = await storage.store_bill(pile_id(), b, settled(b), received_ms=RECEIVED)
    r2 = await storage.store_bill(pile_id(), b, settled(b), received_ms=RECEIVED)
    assert not r1.duplicate and not r2.duplicate and r1.bill_id != r2.bill_id


async def test_unknown_session_bill_is_stored_and_flagged(storage: Storage) -> None:
    p, b = pile_id(), bill()
    r = await storage.store_bill(
        p, b, settled(b), received_ms=RECEIVED, flags=[UNKNOWN_SESSION, LATE]
    )
    row = await reads.get_bill(storage, r.bill_id)
    assert row is not None and row["session_id"] is None
    assert row["status"] == STATUS_FLAGGED and row["flags"] == '["late","unknown_session"]'


async def test_anomalies_one_row_per_code_with_reasons(storage: Storage) -> None:
    p = pile_id()
    # charge 10 min late vs the gateway, 3 kWh less than the gateway saw, idle differs
    b = bill()
    obs = GatewayObservation(
        charge_start_ms=b.charge_start_ms - 600_000,
        charge_end_ms=b.charge_end_ms,
        energy_dwh=130_000,
        idle_ms=3_600_000,
    )
    s = settled(b, obs)
    want = {AnomalyCode.ENERGY_DIFFERS, AnomalyCode.CHARGE_DURATION_DIFFERS,
            AnomalyCode.IDLE_DURATION_DIFFERS}  # fmt: skip
    assert s.codes == want
    r = await storage.store_bill(p, b, s, received_ms=RECEIVED)
    assert r.anomaly_mask == sum(1 << c for c in want)
    rows = await storage.anomalies(bill_id=r.bill_id)
    assert {a.code for a in rows} == want
    assert all(a.status == "open" and a.reason and a.pile_id == p for a in rows)
    row = await reads.get_bill(storage, r.bill_id)
    assert row is not None and row["anomaly_codes"] == "8,9,10" and row["status"] == STATUS_FLAGGED


async def test_invalid_bill_is_still_stored_flagged(storage: Storage) -> None:
    p = pile_id()
    b = bill(total_amount_fen=-100, charge_start_ms=0)
    r = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
    row = await reads.get_bill(storage, r.bill_id)
    assert row is not None and not row["valid"] and row["status"] == STATUS_FLAGGED
    kinds = {a.kind for a in await storage.anomalies(bill_id=r.bill_id)}
    assert {"amount_negative", "anomaly"} <= kinds


async def test_group_commit_batches_concurrent_bills(storage: Storage) -> None:
    commits = 0

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1

    event.listen(storage.writer.engine.sync_engine, "commit", on_commit)
    try:
        p = pile_id()
        before = storage.stats.batches
        bs = [bill() for _ in range(1000)]
        results = await asyncio.gather(
            *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in bs)
        )
    finally:
        event.remove(storage.writer.engine.sync_engine, "commit", on_commit)
    assert not any(r.duplicate for r in results)
    assert await reads.count_bills(storage, p) == 1000
    batches = storage.stats.batches - before
    assert commits == batches
    assert batches <= 10, batches  # 1000 bills, batches of up to 500


async def test_failed_commit_fails_the_awaiting_callers_and_stores_nothing(
    storage: Storage,
) -> None:
    def fail(_conn) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    p = pile_id()
    bs = [bill() for _ in range(20)]
    event.listen(storage.writer.engine.sync_engine, "commit", fail)
    try:
        results = await asyncio.gather(
            *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in bs),
            return_exceptions=True,
        )
    finally:
        event.remove(storage.writer.engine.sync_engine, "commit", fail)
    assert all(isinstance(r, WriteFailed) for r in results), results
    assert await reads.count_bills(storage, p) == 0
    # the same bills go through once the database is healthy again: not duplicates
    r = await storage.store_bill(p, bs[0], settled(bs[0]), received_ms=RECEIVED)
    assert not r.duplicate and await reads.count_bills(storage, p) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_dropped_table_fails_the_bill(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(kind) as url:
        storage = await Storage.open(url, upgrade=False)
        try:
            async with storage.engine.begin() as conn:
                await conn.execute(text("DROP TABLE bill_lines"))
            b = bill()
            with pytest.raises(WriteFailed):
                await storage.store_bill(pile_id(), b, settled(b), received_ms=RECEIVED)
            async with storage.reader.connect() as conn:
                assert (await conn.execute(select(func.count()).select_from(bills))).scalar() == 0
        finally:
            await storage.close()


async def test_bad_row_does_not_fail_the_bills_of_its_batch(storage: Storage) -> None:
    p = pile_id()
    storage.record_transition("S-bad", None, "x" * 100, "too long a state", RECEIVED)
    bs = [bill() for _ in range(10)]
    results = await asyncio.gather(
        *(storage.store_bill(p, b, settled(b), received_ms=RECEIVED) for b in bs)
    )
    assert len(results) == 10 and await reads.count_bills(storage, p) == 10


async def test_correction_keeps_the_original_and_writes_an_audit_row(storage: Storage) -> None:
    await storage.put_tariff(TARIFF)
    p, b = pile_id(), bill()
    r = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
    c = await storage.correct_bill(r.bill_id, 0, "refund: car never charged", "ops-7", RECEIVED)
    assert (c.original_total_fen, c.corrected_total_fen, c.refund_fen) == (1680, 0, 1680)
    assert c.original_energy_dwh == 100_000 and c.corrected_energy_dwh == 0
    row = await reads.get_bill(storage, r.bill_id)
    assert row is not None and row["status"] == STATUS_CORRECTED
    assert (row["energy_dwh"], row["total_amount_fen"], row["our_total_fen"]) == (
        100_000,
        1680,
        1680,
    )
    assert await _count(storage, bill_lines, bill_id=r.bill_id) == 2
    (audit,) = await reads.corrections(storage, r.bill_id)
    assert (audit["who"], audit["reason"], audit["refund_fen"]) == (
        "ops-7", "refund: car never charged", 1680)  # fmt: skip
    assert audit["original_total_fen"] == 1680 and audit["corrected_total_fen"] == 0
    # a second correction starts from the first one
    c2 = await storage.correct_bill(r.bill_id, 50_000, "half after all", "ops-7", RECEIVED + 1)
    assert (c2.original_total_fen, c2.refund_fen) == (0, -c2.corrected_total_fen)
    assert c2.corrected_total_fen == 840
    assert len(await reads.corrections(storage, r.bill_id)) == 2


async def test_correction_of_unknown_bill_raises(storage: Storage) -> None:
    from gateway.storage.bills import BillNotFound

    with pytest.raises(BillNotFound):
        await storage.correct_bill("nope", 0, "x", "y", 1)


async def test_writes_after_close_are_refused(database_url: str) -> None:
    from gateway.storage import StorageClosed

    storage = await Storage.open(database_url, upgrade=False)
    await storage.close()
    b = bill()
    with pytest.raises(StorageClosed):
        await storage.store_bill(pile_id(), b, settled(b), received_ms=RECEIVED)


async def test_anomaly_rows_reference_their_bill(storage: Storage) -> None:
    p, b = pile_id(), replace(bill(), meter_stop_dwh=900_000)
    r = await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
    assert await _count(storage, anomalies, bill_id=r.bill_id) >= 1
