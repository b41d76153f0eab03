"""Bills and helpers for the storage tests."""

from __future__ import annotations

import uuid
from dataclasses import replace

from billing.reconcile import Settlement, settle
from billing.records import GatewayObservation, PileBill
from tests.billing.fixtures import CLEAN, IDLE_RULE, TARIFF, at

RECEIVED = at(1, 10, 41)


def uid(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def pile_id() -> str:
    return "4403" + str(uuid.uuid4().int)[:16]


def bill(txn: str | None = None, **changes: object) -> PileBill:
    return replace(CLEAN, transaction_id=txn or uid("T"), **changes)


def settled(b: PileBill, obs: GatewayObservation | None = None) -> Settlement:
    return settle(b, obs or GatewayObservation(), TARIFF, IDLE_RULE, received_ms=RECEIVED)
