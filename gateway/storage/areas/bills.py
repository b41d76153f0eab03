"""Bills: stored through the batch writer and awaited (durable before acknowledged), and
operator corrections."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from billing.reconcile import Settlement
from billing.records import PileBill
from gateway.storage import bills as bill_store
from gateway.storage import pricing
from gateway.storage.areas.base import StorageArea
from gateway.storage.areas.outbox import outbox_row
from gateway.storage.bills import Correction, StoredBill
from gateway.storage.schema import bills


class BillStorage(StorageArea):
    """What `Storage` keeps of bills."""

    async def store_bill(
        self,
        pile_id: str,
        bill: PileBill,
        settlement: Settlement,
        *,
        received_ms: int,
        session_id: str | None = None,
        flags: Iterable[str] = (),
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> StoredBill:
        """Store the bill, its lines and anomalies; return after the commit. A second copy
        (same pile + transaction id) is not stored again: StoredBill.duplicate is True and
        bill_id is the first copy's. Raises writer.WriteFailed if the commit failed.

        event: (topic, payload) for the outbox, committed in the bill's transaction and
        only if this copy was stored; its "bill_id" is set to the stored bill's id."""
        prepared = bill_store.prepare_bill(
            pile_id, bill, settlement, received_ms=received_ms, session_id=session_id, flags=flags
        )
        if event is not None:
            topic, payload = event
            payload = {**payload, "bill_id": prepared.bill_id}
            prepared.events.append(outbox_row(topic, payload, received_ms))
        return await self.writer.submit_bill(prepared)

    async def correct_bill(
        self,
        bill_id: str,
        new_energy_dwh: int,
        reason: str,
        who: str,
        at_ms: int,
        *,
        refund_base_fen: int | None = None,
    ) -> Correction:
        """Operator correction (field case 12): our amounts recomputed for the new energy
        with the bill's tariff; the bill row is kept, an audit row written. Returns the
        old/new totals (energy + service, fen) and the refund. Raises BillNotFound."""
        async with self.engine.begin() as conn:
            tariff_id = (
                await conn.execute(select(bills.c.tariff_id).where(bills.c.id == bill_id))
            ).scalar()
            if tariff_id is None:
                raise bill_store.BillNotFound(bill_id)
            tariff = await pricing.load_tariff(conn, tariff_id)
            if tariff is None:
                tariff = self.default_tariff
            return await bill_store.correct_bill(
                conn, bill_id, new_energy_dwh, reason=reason, who=who, at_ms=at_ms, tariff=tariff,
                refund_base_fen=refund_base_fen,
            )  # fmt: skip
