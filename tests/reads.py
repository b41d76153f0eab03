"""Reads (and one write) that tests make of the database and the gateway never needs.

They were `Storage` methods that no production code called; the gateway's port keeps only
what the gateway uses. Each takes the open `Storage` and reads through its reader engine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from gateway.storage import Storage
from gateway.storage.records import (
    ActiveService,
    AnomalyEvent,
    PileRecord,
    SessionRow,
    TransitionRecord,
)
from gateway.storage.schema import (
    active_services,
    anomalies,
    anomaly_events,
    bill_corrections,
    bills,
    piles,
    session_transitions,
    sessions,
)
from gateway.storage.schema import (
    bill_lines as bill_line_rows,
)
from protocol.pilegate import normalize_pile_id


async def list_piles(
    storage: Storage, *, station_id: str | None = None, online: bool | None = None
) -> list[PileRecord]:
    q = select(piles).order_by(piles.c.id)
    if station_id is not None:
        q = q.where(piles.c.station_id == station_id)
    if online is not None:
        q = q.where(piles.c.online == online)
    async with storage.reader.connect() as conn:
        return [PileRecord.from_row(r) for r in (await conn.execute(q)).mappings()]


async def active_service(storage: Storage, account_id: str) -> ActiveService | None:
    q = select(active_services).where(active_services.c.account_id == account_id)
    async with storage.reader.connect() as conn:
        r = (await conn.execute(q)).first()
    return None if r is None else ActiveService(*r)


async def get_session(storage: Storage, session_id: str) -> SessionRow | None:
    async with storage.reader.connect() as conn:
        q = select(sessions).where(sessions.c.id == session_id)
        r = (await conn.execute(q)).mappings().first()
    return None if r is None else SessionRow.from_row(r)


async def find_session(storage: Storage, pile_id: str, transaction_id: str) -> SessionRow | None:
    q = select(sessions).where(
        sessions.c.pile_id == pile_id, sessions.c.transaction_id == transaction_id
    )
    async with storage.reader.connect() as conn:
        r = (await conn.execute(q.order_by(sessions.c.updated_ms.desc()))).mappings().first()
    return None if r is None else SessionRow.from_row(r)


async def transitions(storage: Storage, session_id: str) -> list[TransitionRecord]:
    t = session_transitions
    q = (
        select(t.c.session_id, t.c.from_state, t.c.to_state, t.c.reason, t.c.at_ms)
        .where(t.c.session_id == session_id)
        .order_by(t.c.id)
    )
    async with storage.reader.connect() as conn:
        return [TransitionRecord(*r) for r in await conn.execute(q)]


async def get_bill(storage: Storage, bill_id: str) -> dict[str, Any] | None:
    async with storage.reader.connect() as conn:
        r = (await conn.execute(select(bills).where(bills.c.id == bill_id))).mappings().first()
    return None if r is None else dict(r)


async def find_bill(storage: Storage, pile_id: str, transaction_id: str) -> dict[str, Any] | None:
    pile_id = normalize_pile_id(pile_id)
    q = select(bills).where(bills.c.pile_id == pile_id, bills.c.transaction_id == transaction_id)
    async with storage.reader.connect() as conn:
        r = (await conn.execute(q)).mappings().first()
    return None if r is None else dict(r)


async def bill_lines(storage: Storage, bill_id: str) -> list[dict[str, Any]]:
    b = bill_line_rows
    q = select(b).where(b.c.bill_id == bill_id).order_by(b.c.line_no)
    async with storage.reader.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def count_bills(storage: Storage, pile_id: str | None = None) -> int:
    q = select(func.count()).select_from(bills)
    if pile_id is not None:
        q = q.where(bills.c.pile_id == pile_id)
    async with storage.reader.connect() as conn:
        return (await conn.execute(q)).scalar_one()


async def corrections(storage: Storage, bill_id: str) -> list[dict[str, Any]]:
    c = bill_corrections
    q = select(c).where(c.c.bill_id == bill_id).order_by(c.c.id)
    async with storage.reader.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def reopen_anomaly(
    storage: Storage, anomaly_id: str, *, at_ms: int, who: str, note: str | None = None
) -> bool:
    """What an operator's reopen would write: status open again, and a history row."""
    a = anomalies
    async with storage.engine.begin() as conn:
        result = await conn.execute(
            update(a)
            .where(a.c.id == anomaly_id, a.c.status == "resolved")
            .values(status="open", resolved_ms=None, resolved_by=None, resolution=None)
        )
        if result.rowcount == 0:
            return False
        await conn.execute(
            insert(anomaly_events).values(
                anomaly_id=anomaly_id, action="reopened", at_ms=at_ms, who=who, note=note
            )
        )
        return True


async def anomaly_history(storage: Storage, anomaly_id: str) -> list[AnomalyEvent]:
    """Opened (from the anomaly row), then every resolve/reopen in order."""
    async with storage.reader.connect() as conn:
        q = select(anomalies.c.created_ms).where(anomalies.c.id == anomaly_id)
        created = (await conn.execute(q)).scalar()
        if created is None:
            return []
        e = anomaly_events
        rows = await conn.execute(
            select(e.c.action, e.c.at_ms, e.c.who, e.c.note)
            .where(e.c.anomaly_id == anomaly_id)
            .order_by(e.c.id)
        )
        return [
            AnomalyEvent(anomaly_id, "opened", created, None, None),
            *(AnomalyEvent(anomaly_id, *r) for r in rows),
        ]
