"""Seed data for the operator tests, written straight into the tables (fast, exact)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.schema import bills, firmware_history, piles, sessions, stations

CST = timezone(timedelta(hours=8))


def local(year: int, month: int, day: int, hh: int = 12, mm: int = 0) -> int:
    """Epoch ms of a local (UTC+8) time."""
    return int(datetime(year, month, day, hh, mm, tzinfo=CST).timestamp() * 1000)


def mask(codes: tuple[int, ...]) -> int:
    m = 0
    for c in codes:
        m |= 1 << c
    return m


def bill_row(
    pile_id: str,
    received_ms: int,
    *,
    channel: str = "own_app",
    codes: tuple[int, ...] = (),
    energy_dwh: int = 100_000,
    total_fen: int = 1_500,
    bill_id: str | None = None,
    tx: str | None = None,
) -> dict[str, Any]:
    start = received_ms - 3_600_000
    return {
        "id": bill_id or uuid.uuid4().hex,
        "pile_id": pile_id,
        "transaction_id": tx or uuid.uuid4().hex,
        "session_id": None,
        "gun": 1,
        "channel": channel,
        "account": "13800000000",
        "authorised_ms": start - 60_000,
        "charge_start_ms": start,
        "charge_end_ms": received_ms - 120_000,
        "service_end_ms": received_ms - 60_000,
        "meter_start_dwh": 1_000_000,
        "meter_stop_dwh": 1_000_000 + energy_dwh,
        "energy_dwh": energy_dwh,
        "sharp_dwh": 0,
        "peak_dwh": 0,
        "flat_dwh": energy_dwh,
        "valley_dwh": 0,
        "energy_amount_fen": total_fen - 500,
        "service_amount_fen": 500,
        "idle_fee_fen": 0,
        "total_amount_fen": total_fen,
        "stop_reason": 0,
        "vin": None,
        "tariff_id": "default",
        "our_energy_dwh": energy_dwh,
        "our_energy_amount_fen": total_fen - 500,
        "our_service_amount_fen": 500,
        "our_idle_fee_fen": 0,
        "our_total_fen": total_fen,
        "difference_fen": 0,
        "idle_ms": 60_000,
        "idle_billable_minutes": 0,
        "idle_capped": False,
        "idle_clamped": False,
        "idle_waived": None,
        "anomaly_codes": ",".join(str(c) for c in sorted(codes)),
        "anomaly_mask": mask(codes),
        "flags": "[]",
        "valid": not codes,
        "received_ms": received_ms,
        "status": "flagged" if codes else "stored",
    }


def pile_row(pile_id: str, station: str | None, firmware: str, *, online: bool = False) -> dict:
    return {
        "id": pile_id,
        "station_id": station,
        "vendor": "ACME",
        "model": "DC120",
        "firmware": firmware,
        "gun_count": 2,
        "enabled": True,
        "registered_at_ms": local(2019, 12, 1),
        "last_login_ms": None,
        "last_seen_ms": None,
        "online": online,
    }


def lost_session(pile_id: str, ended_ms: int, channel: str, offline: bool) -> dict[str, Any]:
    flags = ["bill_lost", "lost_while_offline"] if offline else ["bill_lost"]
    return {
        "id": uuid.uuid4().hex,
        "transaction_id": uuid.uuid4().hex,
        "pile_id": pile_id,
        "gun": 1,
        "account": "13900000000",
        "channel": channel,
        "state": "settled",
        "authorised_ms": ended_ms - 3_600_000,
        "charge_start_ms": ended_ms - 3_500_000,
        "charge_end_ms": ended_ms - 60_000,
        "pile_service_end_ms": None,
        "gateway_service_end_ms": ended_ms,
        "meter_start_dwh": 0,
        "meter_stop_dwh": None,
        "observed_energy_dwh": 50_000,
        "stop_reason": None,
        "cancel_reason": None,
        "flags": orjson.dumps(flags).decode(),
        "updated_ms": ended_ms + 7_200_000,
    }


# Piles: P1 (S1) moved from V1 to V2 on Jan 15; P2 (S1) V1; P3 (S2) V3; P4 (no station)
# V2 without any firmware history (falls back to the current one); P5 (S1) V1, no bills.
P1, P2, P3, P4, P5 = (f"4403060003000020006{n}" for n in range(1, 6))
JAN, FEB = local(2020, 1, 1, 0), local(2020, 2, 1, 0)

# (pile, received, channel, codes, count)
BILLS = [
    (P1, local(2020, 1, 5), "own_app", (), 3),
    (P1, local(2020, 1, 5, 13), "partner_app", (9, 10), 1),
    (P1, local(2020, 1, 20), "own_app", (10, 11), 2),
    (P1, local(2020, 1, 20, 13), "own_app", (8,), 1),
    (P2, local(2020, 1, 10), "partner_app", (), 2),
    (P2, local(2020, 1, 10, 13), "partner_app", (9, 10), 1),
    (P3, local(2020, 1, 12), "card", (4,), 1),
    (P3, local(2020, 1, 12, 13), "card", (), 1),
    (P4, local(2020, 1, 31, 23, 30), "own_app", (), 1),  # last local day: included
    (P1, local(2020, 2, 2), "own_app", (9,), 1),  # February: excluded
    (P2, local(2019, 12, 31, 23, 30), "partner_app", (9,), 1),  # December: excluded
]
LOST = [
    (P1, local(2020, 1, 6), "own_app", True),  # code 2, firmware V1
    (P2, local(2020, 1, 11), "partner_app", False),  # code 1
]


async def seed_reports(engine: AsyncEngine) -> list[str]:
    """The report data set; returns the ids of January's bills in export order."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(stations),
            [
                {"id": "S1", "name": "Station one", "created_ms": 0},
                {"id": "S2", "name": "Station two", "created_ms": 0},
            ],
        )
        await conn.execute(
            insert(piles),
            [
                pile_row(P1, "S1", "V2", online=True),
                pile_row(P2, "S1", "V1"),
                pile_row(P3, "S2", "V3", online=True),
                pile_row(P4, None, "V2"),
                pile_row(P5, "S1", "V1"),
            ],
        )
        await conn.execute(
            insert(firmware_history),
            [
                {"pile_id": P1, "firmware": "V1", "first_seen_ms": local(2019, 12, 1)},
                {"pile_id": P1, "firmware": "V2", "first_seen_ms": local(2020, 1, 15)},
                {"pile_id": P2, "firmware": "V1", "first_seen_ms": local(2019, 12, 1)},
                {"pile_id": P3, "firmware": "V3", "first_seen_ms": local(2019, 12, 1)},
                {"pile_id": P5, "firmware": "V1", "first_seen_ms": local(2019, 12, 1)},
            ],
        )
        rows = []
        for pile, at, channel, codes, count in BILLS:
            for i in range(count):
                rows.append(bill_row(pile, at + i, channel=channel, codes=codes))
        await conn.execute(insert(bills), rows)
        await conn.execute(
            insert(sessions), [lost_session(p, at, ch, off) for p, at, ch, off in LOST]
        )
    january = [r for r in rows if JAN <= r["received_ms"] < FEB]
    january.sort(key=lambda r: (r["received_ms"], r["id"]))
    return [r["id"] for r in january]
