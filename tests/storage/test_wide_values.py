"""Columns fed from a pile's frames hold every value the protocol allows (u64 times and
meter readings, their differences), on SQLite and PostgreSQL, and still sort and compare."""

from __future__ import annotations

from sqlalchemy import select

from gateway.storage import SessionRow, Storage
from gateway.storage.schema import bills
from tests import reads
from tests.storage.support import RECEIVED, bill, pile_id, settled, uid

U64 = 2**64 - 1


async def test_session_rows_keep_u64_meters_and_pile_times(storage: Storage) -> None:
    p = pile_id()
    row = SessionRow(
        uid("S"), uid("T"), p, 1, "U1", "card", "closed", 5_000,
        authorised_ms=1_000, charge_start_ms=2_000, charge_end_ms=3_000,
        pile_service_end_ms=U64, gateway_service_end_ms=4_000,
        meter_start_dwh=U64, meter_stop_dwh=0, observed_energy_dwh=-U64,
    )  # fmt: skip
    storage.record_session(row)
    await storage.flush()
    assert await reads.get_session(storage, row.session_id) == row
    assert not storage.stats.lost and storage.stats.failed_batches == 0


async def test_wide_bill_times_sort_after_every_real_time(storage: Storage) -> None:
    p = pile_id()
    ids = {}
    for name, end in (("real", RECEIVED), ("edge", 2**63 - 1), ("wide", U64), ("wider", 2**63)):
        b = bill(service_end_ms=end)
        ids[name] = (await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)).bill_id
    q = select(bills.c.id).where(bills.c.pile_id == p).order_by(bills.c.service_end_ms)
    async with storage.reader.connect() as conn:
        order = list((await conn.execute(q)).scalars())
        later = select(bills.c.id).where(bills.c.pile_id == p, bills.c.service_end_ms > RECEIVED)
        assert set((await conn.execute(later)).scalars()) == {
            ids["edge"], ids["wide"], ids["wider"]}  # fmt: skip
    assert order == [ids["real"], ids["edge"], ids["wider"], ids["wide"]]
    assert (await reads.get_bill(storage, ids["wide"]))["service_end_ms"] == U64  # type: ignore[index]
