"""Tariffs and idle-fee rules in the database: definition rows, assignments, rule upserts.

A tariff id names one definition (prices, day table, offset) for ever; which piles and
stations use it, and from when, are its assignments (docs/protocol.md §7.8).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff, same_definition
from gateway.storage.inserts import dialect_insert
from gateway.storage.schema import idle_fee_rules, tariff_assignments, tariffs
from protocol.error_root import PilegateError


@dataclasses.dataclass(frozen=True, slots=True)
class IdleFeeScope:
    """Which stored rule applies to a pile; builtin: none is stored, the built-in default is
    used."""

    scope_kind: ScopeKind
    scope_id: str
    builtin: bool


class TariffConflict(PilegateError, ValueError):
    """The tariff id already names a different definition (prices, day table, offset)."""


def tariff_row(t: Tariff, created_ms: int) -> dict[str, Any]:
    """The definition row of a tariff (its scope and start date are an assignment)."""
    row: dict[str, Any] = {
        "id": t.tariff_id,
        "segments": orjson.dumps([[s.start_minute, str(s.kind)] for s in t.segments]).decode(),
        "utc_offset_minutes": t.utc_offset_minutes,
        "created_ms": created_ms,
    }
    for kind in PeriodKind:
        p = t.price(kind)
        row[f"{kind}_energy_e4"] = p.energy_e4
        row[f"{kind}_service_e4"] = p.service_e4
    return row


def tariff_from_row(row: Mapping[Any, Any]) -> Tariff:
    """A Tariff from a definition row joined with one of its assignments (TARIFF_COLUMNS);
    a definition alone gets an unassigned pile scope."""
    prices = {
        kind: PeriodPrice(row[f"{kind}_energy_e4"], row[f"{kind}_service_e4"])
        for kind in PeriodKind
    }
    segments = tuple(Segment(m, PeriodKind(k)) for m, k in orjson.loads(row["segments"]))
    return Tariff(
        row["id"],
        ScopeKind(row.get("scope_kind") or ScopeKind.PILE),
        row.get("scope_id") or "",
        row.get("effective_from_ms") or 0,
        prices,
        segments,
        row["utc_offset_minutes"],
        set_ms=row.get("assigned_ms") or 0,
    )


#: A definition with one of its assignments, ordered so that ties go to the later one.
TARIFF_COLUMNS = (
    *tariffs.c,
    tariff_assignments.c.scope_kind,
    tariff_assignments.c.scope_id,
    tariff_assignments.c.effective_from_ms,
    tariff_assignments.c.assigned_ms,
)
ASSIGNED_TARIFFS = select(*TARIFF_COLUMNS).join_from(
    tariff_assignments, tariffs, tariffs.c.id == tariff_assignments.c.tariff_id
)


async def assign_tariff(conn: AsyncConnection, t: Tariff, at_ms: int) -> None:
    """Define t's id if new, then assign it to t's scope from t.effective_from_ms. Other
    piles and stations using the same id keep it. Raises TariffConflict if the id already
    names other prices: piles were told those prices under that id."""
    await conn.execute(
        dialect_insert(conn, tariffs)
        .values(tariff_row(t, at_ms))
        .on_conflict_do_nothing(index_elements=["id"])
    )
    stored = (
        (await conn.execute(select(tariffs).where(tariffs.c.id == t.tariff_id))).mappings().one()
    )
    if not same_definition(tariff_from_row(stored), t):
        raise TariffConflict(
            f"tariff {t.tariff_id} is already defined with other prices or periods; "
            "give the new definition a new tariff id"
        )
    await conn.execute(
        insert(tariff_assignments).values(
            tariff_id=t.tariff_id,
            scope_kind=str(t.scope_kind),
            scope_id=t.scope_id,
            effective_from_ms=t.effective_from_ms,
            assigned_ms=at_ms,
        )
    )


async def load_tariff(conn: AsyncConnection, tariff_id: str) -> Tariff | None:
    """The definition of tariff_id (with its latest assignment, if any)."""
    q = (
        select(*TARIFF_COLUMNS)
        .select_from(
            tariffs.outerjoin(tariff_assignments, tariffs.c.id == tariff_assignments.c.tariff_id)
        )
        .where(tariffs.c.id == tariff_id)
        .order_by(tariff_assignments.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else tariff_from_row(row)


async def upsert_idle_rule(
    conn: AsyncConnection, scope_kind: ScopeKind, scope_id: str, rule: IdleFeeRule, at_ms: int
) -> None:
    row = {
        "scope_kind": str(scope_kind),
        "scope_id": scope_id,
        "grace_minutes": rule.grace_minutes,
        "rate_fen_per_minute": rule.rate_fen_per_minute,
        "cap_fen": rule.cap_fen,
        "updated_ms": at_ms,
    }
    stmt = dialect_insert(conn, idle_fee_rules).values(row)
    changed = {k: stmt.excluded[k] for k in row if k not in ("scope_kind", "scope_id")}
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["scope_kind", "scope_id"], set_=changed)
    )


def idle_rule_from_row(row: Mapping[Any, Any]) -> IdleFeeRule:
    return IdleFeeRule(row["grace_minutes"], row["rate_fen_per_minute"], row["cap_fen"])
