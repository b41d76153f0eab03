"""Anomalies: opened fire-and-forget, resolved by operators (with a history row)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from billing.anomalies import AnomalyCode
from gateway.storage import bills as bill_store
from gateway.storage.areas.base import StorageArea, where_equal
from gateway.storage.records import AnomalyRecord
from gateway.storage.schema import anomalies, anomaly_events
from gateway.storage.writer import Kind


class AnomalyStorage(StorageArea):
    """What `Storage` keeps of anomalies."""

    def record_anomaly(
        self,
        code: AnomalyCode | int | None,
        reason: str,
        *,
        at_ms: int,
        kind: str = "anomaly",
        pile_id: str | None = None,
        bill_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Open an anomaly (fire-and-forget, never dropped); returns its id at once."""
        anomaly_id = bill_store.new_id()
        self.writer.submit(
            Kind.ANOMALY,
            {
                "id": anomaly_id,
                "bill_id": bill_id,
                "session_id": session_id,
                "pile_id": pile_id,
                "kind": kind,
                "code": None if code is None else int(code),
                "reason": reason,
                "status": "open",
                "created_ms": at_ms,
                "resolved_ms": None,
                "resolved_by": None,
                "resolution": None,
            },
        )
        return anomaly_id

    async def resolve_anomaly(
        self, anomaly_id: str, *, at_ms: int, who: str, note: str | None = None
    ) -> bool:
        """Mark resolved and append to its history. False if unknown or already resolved."""
        return await self._set_anomaly_status(anomaly_id, "resolved", "open", at_ms, who, note)

    async def _set_anomaly_status(
        self, anomaly_id: str, status: str, was: str, at_ms: int, who: str, note: str | None
    ) -> bool:
        resolved = status == "resolved"
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(anomalies)
                .where(anomalies.c.id == anomaly_id, anomalies.c.status == was)
                .values(
                    status=status,
                    resolved_ms=at_ms if resolved else None,
                    resolved_by=who if resolved else None,
                    resolution=note if resolved else None,
                )
            )
            if result.rowcount == 0:
                return False
            await conn.execute(
                insert(anomaly_events).values(
                    anomaly_id=anomaly_id,
                    action="resolved" if resolved else "reopened",
                    at_ms=at_ms,
                    who=who,
                    note=note,
                )
            )
            return True

    async def anomalies(
        self,
        *,
        status: str | None = None,
        code: int | None = None,
        pile_id: str | None = None,
        bill_id: str | None = None,
        session_id: str | None = None,
        limit: int = 1000,
    ) -> list[AnomalyRecord]:
        a = anomalies
        q = where_equal(
            select(a).order_by(a.c.created_ms, a.c.id).limit(limit),
            (a.c.status, status),
            (a.c.code, code),
            (a.c.pile_id, pile_id),
            (a.c.bill_id, bill_id),
            (a.c.session_id, session_id),
        )
        async with self.reader.connect() as conn:
            return [AnomalyRecord.from_row(r) for r in (await conn.execute(q)).mappings()]
