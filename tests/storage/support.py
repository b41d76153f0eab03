"""Bills and helpers for the storage tests."""

from __future__ import annotations

import uuid
from dataclasses import replace

from billing.reconcile import Settlement, settle
from billing.records import GatewayObservation, PileBill
from tests.billing.fixtures import IDLE_RULE, TARIFF, at

# 10 kWh from 09:30 to 10:30 (half flat, half peak): clean against TARIFF.
CLEAN = PileBill(
    transaction_id="T1",
    gun=1,
    channel="app",
    account="U1",
    authorised_ms=at(1, 9, 25),
    charge_start_ms=at(1, 9, 30),
    charge_end_ms=at(1, 10, 30),
    service_end_ms=at(1, 10, 40),
    meter_start_dwh=1_000_000,
    meter_stop_dwh=1_100_000,
    energy_dwh=100_000,
    sharp_dwh=0,
    peak_dwh=50_000,
    flat_dwh=50_000,
    valley_dwh=0,
    energy_amount_fen=880,
    service_amount_fen=800,
    idle_fee_fen=0,
    total_amount_fen=1_680,
    stop_reason=0,
    vin="LSVAA4182E2000001",
)
RECEIVED = at(1, 10, 41)


def uid(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def pile_id() -> str:
    return "4403" + str(uuid.uuid4().int)[:16]


def bill(txn: str | None = None, **changes: object) -> PileBill:
    return replace(CLEAN, transaction_id=txn or uid("T"), **changes)


def settled(b: PileBill, obs: GatewayObservation | None = None) -> Settlement:
    return settle(b, obs or GatewayObservation(), TARIFF, IDLE_RULE, received_ms=RECEIVED)
