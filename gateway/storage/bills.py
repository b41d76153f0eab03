"""Persistence of bills: rows from a (PileBill, Settlement), idempotent batch insert, corrections.

The batch writer (``gateway/storage/writer.py``) calls `write_bills` inside the
transaction of a batch and resolves each caller's future only after that transaction
committed. A bill is identified by (pile id, transaction id): a second copy, in a later batch
or in the same one, is not stored again and is reported as a duplicate. Bill lines and one
anomaly row per code (per finding kind for the uncoded amount findings) go into the same
transaction, and so do the bill's outbox events (written by the batch writer, only for the
copy that was stored). A bill that fails validation is stored all the same, with status
"flagged".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.amounts import BillLine, ComputedBill
from billing.anomalies import AnomalyCode
from billing.correction import correct_energy, refund_fen
from billing.reconcile import Settlement
from billing.records import PileBill
from billing.tariff import PeriodKind, Tariff
from gateway.storage.inserts import dialect_insert, pg_array_type, unnest_insert_sql
from gateway.storage.schema import anomalies, bill_corrections, bill_lines, bills
from protocol.error_root import PilegateError


class BillNotFound(PilegateError, LookupError):
    pass


# Extra flags the gateway passes with a bill (any string is accepted and stored).
UNKNOWN_SESSION = "unknown_session"
SESSION_CANCELLED = "session_cancelled"
SESSION_FAILED = "session_failed"
LATE = "late"

STATUS_STORED = "stored"  # no finding, no flag
STATUS_FLAGGED = "flagged"  # findings or flags: an operator should look
STATUS_CORRECTED = "corrected"  # see bill_corrections (the bill row keeps its amounts)


def new_id() -> str:
    return uuid.uuid4().hex


def anomaly_mask(codes: Iterable[AnomalyCode]) -> int:
    """Bit n set for code n, as BillAck.anomalies carries it."""
    mask = 0
    for code in codes:
        mask |= 1 << int(code)
    return mask


@dataclass(frozen=True, slots=True)
class StoredBill:
    """Outcome of storing one bill, known only after its transaction committed."""

    bill_id: str  # the stored row's id (the first copy's, for a duplicate)
    duplicate: bool
    anomaly_mask: int  # of this upload's settlement
    status: str


@dataclass(slots=True)
class PreparedBill:
    """The rows of one bill, ready for a batch. Built outside the writer (no I/O)."""

    key: tuple[str, str]  # (pile_id, transaction_id)
    row: dict[str, Any]
    lines: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    # Outbox rows to commit with the bill, and only if this copy is the one stored (the
    # writer inserts them in its batch's outbox statement, in submission order).
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bill_id(self) -> str:
        return self.row["id"]


def prepare_bill(
    pile_id: str,
    bill: PileBill,
    settlement: Settlement,
    *,
    received_ms: int,
    session_id: str | None = None,
    flags: Iterable[str] = (),
) -> PreparedBill:
    """All rows for one bill: the bill (pile's fields and ours), its lines, its anomalies."""
    bill_id = new_id()
    s = settlement
    computed, idle = s.computed, s.idle_fee
    codes = s.codes
    flag_list = sorted(set(flags))
    valid = not s.findings
    status = STATUS_STORED if valid and not flag_list else STATUS_FLAGGED
    row = {
        "id": bill_id,
        "pile_id": pile_id,
        "transaction_id": bill.transaction_id,
        "session_id": session_id,
        "gun": bill.gun,
        "channel": str(bill.channel),
        "account": bill.account,
        "authorised_ms": bill.authorised_ms,
        "charge_start_ms": bill.charge_start_ms,
        "charge_end_ms": bill.charge_end_ms,
        "service_end_ms": bill.service_end_ms,
        "meter_start_dwh": bill.meter_start_dwh,
        "meter_stop_dwh": bill.meter_stop_dwh,
        "energy_dwh": bill.energy_dwh,
        "sharp_dwh": bill.sharp_dwh,
        "peak_dwh": bill.peak_dwh,
        "flat_dwh": bill.flat_dwh,
        "valley_dwh": bill.valley_dwh,
        "energy_amount_fen": bill.energy_amount_fen,
        "service_amount_fen": bill.service_amount_fen,
        "idle_fee_fen": bill.idle_fee_fen,
        "total_amount_fen": bill.total_amount_fen,
        "stop_reason": bill.stop_reason,
        "vin": bill.vin or None,
        "tariff_id": computed.tariff_id,
        "our_energy_dwh": s.our_energy_dwh,
        "our_energy_amount_fen": computed.energy_amount_fen,
        "our_service_amount_fen": computed.service_amount_fen,
        "our_idle_fee_fen": idle.fee_fen,
        "our_total_fen": s.our_total_fen,
        "difference_fen": s.difference_fen,
        "idle_ms": idle.idle_ms,
        "idle_billable_minutes": idle.billable_minutes,
        "idle_capped": idle.capped,
        "idle_clamped": idle.clamped,
        "idle_waived": idle.waived,
        "anomaly_codes": ",".join(str(int(c)) for c in sorted(codes)),
        "anomaly_mask": anomaly_mask(codes),
        "flags": orjson.dumps(flag_list).decode(),
        "valid": valid,
        "received_ms": received_ms,
        "status": status,
    }
    lines = [
        {
            "bill_id": bill_id,
            "line_no": n,
            "kind": str(x.kind),
            "start_ms": x.start_ms,
            "end_ms": x.end_ms,
            "energy_dwh": x.energy_dwh,
            "energy_amount_fen": x.energy_amount_fen,
            "service_amount_fen": x.service_amount_fen,
        }
        for n, x in enumerate(computed.lines, 1)
    ]
    # One row per anomaly code; the uncoded amount findings one row per kind.
    grouped: dict[tuple[str, int | None], list[str]] = {}
    for f in s.findings:
        grouped.setdefault((str(f.kind), None if f.code is None else int(f.code)), []).append(
            f.reason
        )
    rows = [
        {
            "id": new_id(),
            "bill_id": bill_id,
            "session_id": session_id,
            "pile_id": pile_id,
            "kind": kind,
            "code": code,
            "reason": "; ".join(reasons),
            "status": "open",
            "created_ms": received_ms,
            "resolved_ms": None,
            "resolved_by": None,
            "resolution": None,
        }
        for (kind, code), reasons in grouped.items()
    ]
    return PreparedBill((pile_id, bill.transaction_id), row, lines, rows)


async def write_bills(conn: AsyncConnection, prepared: Sequence[PreparedBill]) -> list[StoredBill]:
    """Insert a batch of bills inside the caller's transaction; one result per input, in
    order. Copies already stored, or repeated within the batch, are duplicates."""
    first: dict[tuple[str, str], PreparedBill] = {}
    for p in prepared:
        first.setdefault(p.key, p)
    candidates = list(first.values())
    if conn.dialect.name == "postgresql":
        new = await _write_bills_pg(conn, candidates)
    else:
        stmt = (
            dialect_insert(conn, bills)
            .on_conflict_do_nothing(index_elements=["pile_id", "transaction_id"])
            .returning(bills.c.id)
        )
        result = await conn.execute(stmt, [p.row for p in candidates])
        inserted = {r[0] for r in result}
        new = [p for p in candidates if p.bill_id in inserted]
        lines = [line for p in new for line in p.lines]
        if lines:
            await conn.execute(insert(bill_lines), lines)
        rows = [a for p in new for a in p.anomalies]
        if rows:
            await conn.execute(insert(anomalies), rows)
    inserted = {p.bill_id for p in new}
    existing: dict[tuple[str, str], tuple[str, str]] = {
        p.key: (p.bill_id, p.row["status"]) for p in new
    }
    missing = [p.key for p in candidates if p.bill_id not in inserted]
    for chunk in range(0, len(missing), 200):
        keys = missing[chunk : chunk + 200]
        cond = or_(*(and_(bills.c.pile_id == k[0], bills.c.transaction_id == k[1]) for k in keys))
        q = select(bills.c.id, bills.c.pile_id, bills.c.transaction_id, bills.c.status)
        for bid, pile, txn, status in await conn.execute(q.where(cond)):
            existing[(pile, txn)] = (bid, status)
    out = []
    for p in prepared:
        bid, status = existing[p.key]
        out.append(StoredBill(bid, bid != p.bill_id, p.row["anomaly_mask"], status))
    return out


_LINE_COLS = tuple(c.name for c in bill_lines.c)
_ANOMALY_COLS = tuple(c.name for c in anomalies.c)


async def _write_bills_pg(
    conn: AsyncConnection, candidates: Sequence[PreparedBill]
) -> list[PreparedBill]:
    """One statement, one round trip: bills, then the lines and anomalies of the bills that
    were new (data-modifying CTEs), each table fed by unnest() of per-column arrays."""
    cols = tuple(candidates[0].row)
    sql = _CTE_SQL.get(cols)
    if sql is None:
        n, m = len(cols), len(_LINE_COLS)
        sql = _CTE_SQL[cols] = (
            f"WITH new AS ({unnest_insert_sql(bills, cols, '')} "
            "ON CONFLICT (pile_id, transaction_id) DO NOTHING RETURNING id), "
            f"l AS ({_unnest_children(bill_lines, _LINE_COLS, n)}), "
            f"a AS ({_unnest_children(anomalies, _ANOMALY_COLS, n + m)}) "
            "SELECT id FROM new"
        )
    lines = [x for p in candidates for x in p.lines]
    found = [x for p in candidates for x in p.anomalies]
    params = (
        *([p.row[c] for p in candidates] for c in cols),
        *([x[c] for x in lines] for c in _LINE_COLS),
        *([x[c] for x in found] for c in _ANOMALY_COLS),
    )
    result = await conn.exec_driver_sql(sql, params)
    inserted = {r[0] for r in result}
    return [p for p in candidates if p.bill_id in inserted]


_CTE_SQL: dict[tuple[str, ...], str] = {}


def _unnest_children(table: Any, cols: tuple[str, ...], offset: int) -> str:
    """INSERT of child rows whose bill_id was inserted by the `new` CTE."""
    arrays = ", ".join(
        f"${offset + n}::{pg_array_type(table.c[c])}[]" for n, c in enumerate(cols, 1)
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT u.* FROM unnest({arrays}) "
        f"AS u({', '.join(cols)}) WHERE u.bill_id IN (SELECT id FROM new)"
    )


# --- corrections (field case 12) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Correction:
    correction_id: int
    bill_id: str
    tariff_id: str
    original_energy_dwh: int
    corrected_energy_dwh: int
    original_total_fen: int  # our energy + service amounts before this correction
    corrected_total_fen: int  # ... and after
    refund_fen: int  # original - corrected (< 0: to charge extra)
    idle_fee_fen: int  # our idle fee, unchanged by an energy correction
    lines: tuple[BillLine, ...]


def _lines_json(lines: Iterable[BillLine]) -> str:
    return orjson.dumps(
        [
            [str(x.kind), x.start_ms, x.end_ms, x.energy_dwh, x.energy_amount_fen,
             x.service_amount_fen]
            for x in lines
        ]
    ).decode()  # fmt: skip


def _lines_from_json(text: str) -> tuple[BillLine, ...]:
    return tuple(BillLine(PeriodKind(k), *rest) for k, *rest in orjson.loads(text))


def _computed(tariff_id: str, lines: Sequence[BillLine]) -> ComputedBill:
    ea = sum(x.energy_amount_fen for x in lines)
    sa = sum(x.service_amount_fen for x in lines)
    return ComputedBill(tariff_id, tuple(lines), sum(x.energy_dwh for x in lines), ea, sa, ea + sa)


async def current_computed(conn: AsyncConnection, bill_id: str) -> tuple[ComputedBill, int]:
    """Our current amounts of a bill (latest correction, else the stored lines), idle fee."""
    b = (
        await conn.execute(
            select(bills.c.tariff_id, bills.c.our_idle_fee_fen).where(bills.c.id == bill_id)
        )
    ).first()
    if b is None:
        raise BillNotFound(bill_id)
    tariff_id, idle_fee = b
    last = (
        await conn.execute(
            select(bill_corrections.c.tariff_id, bill_corrections.c.lines)
            .where(bill_corrections.c.bill_id == bill_id)
            .order_by(bill_corrections.c.id.desc())
            .limit(1)
        )
    ).first()
    if last is not None:
        return _computed(last[0], _lines_from_json(last[1])), idle_fee
    rows = await conn.execute(
        select(bill_lines).where(bill_lines.c.bill_id == bill_id).order_by(bill_lines.c.line_no)
    )
    lines = [
        BillLine(
            PeriodKind(r.kind),
            r.start_ms,
            r.end_ms,
            r.energy_dwh,
            r.energy_amount_fen,
            r.service_amount_fen,
        )
        for r in rows
    ]
    return _computed(tariff_id, lines), idle_fee


async def correct_bill(
    conn: AsyncConnection,
    bill_id: str,
    new_energy_dwh: int,
    *,
    reason: str,
    who: str,
    at_ms: int,
    tariff: Tariff,
    refund_base_fen: int | None = None,
) -> Correction:
    """Recompute our amounts for corrected energy (billing.correction.correct_energy) and
    write an audit row. The bill row keeps the pile's and our original amounts; its status
    becomes "corrected". Runs inside the caller's transaction. refund_base_fen: the amount
    the refund is counted from (the pile's, when the operator says so); default ours."""
    original, idle_fee = await current_computed(conn, bill_id)
    corrected = correct_energy(original, new_energy_dwh, tariff)
    refund = refund_fen(original, corrected)
    if refund_base_fen is not None:
        refund = refund_base_fen - corrected.total_fen
    row = {
        "bill_id": bill_id,
        "at_ms": at_ms,
        "who": who,
        "reason": reason,
        "tariff_id": tariff.tariff_id,
        "original_energy_dwh": original.energy_dwh,
        "corrected_energy_dwh": corrected.energy_dwh,
        "original_energy_amount_fen": original.energy_amount_fen,
        "corrected_energy_amount_fen": corrected.energy_amount_fen,
        "original_service_amount_fen": original.service_amount_fen,
        "corrected_service_amount_fen": corrected.service_amount_fen,
        "original_total_fen": original.total_fen,
        "corrected_total_fen": corrected.total_fen,
        "refund_fen": refund,
        "lines": _lines_json(corrected.lines),
    }
    result = await conn.execute(insert(bill_corrections).returning(bill_corrections.c.id), row)
    correction_id = result.scalar_one()
    await conn.execute(update(bills).where(bills.c.id == bill_id).values(status=STATUS_CORRECTED))
    return Correction(
        correction_id,
        bill_id,
        tariff.tariff_id,
        original.energy_dwh,
        corrected.energy_dwh,
        original.total_fen,
        corrected.total_fen,
        refund,
        idle_fee,
        corrected.lines,
    )
