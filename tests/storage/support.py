"""Bills and helpers for the storage tests."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

from billing.reconcile import Settlement, settle
from billing.records import GatewayObservation, PileBill
from gateway.storage.writer import BatchWriter
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


class WriterGate:
    """Holds the batch writer's batches at its door (a writer lagging minutes behind, as
    after an outage): what the database holds meanwhile is what a kill -9 would leave.
    `step()` lets one batch through, `open()` all of them."""

    def __init__(self, writer: BatchWriter) -> None:
        self._permits = asyncio.Semaphore(0)
        self._open = False
        self.waiting = 0  # batches held at the door now
        real = writer._attempt

        async def attempt(batch: list[Any]) -> list[Any]:
            if not self._open:
                self.waiting += 1
                try:
                    await self._permits.acquire()
                finally:
                    self.waiting -= 1
            return await real(batch)

        writer._attempt = attempt  # type: ignore[method-assign]  # the test's door

    def step(self) -> None:
        self._permits.release()

    def open(self) -> None:
        self._open = True
        for _ in range(self.waiting):
            self._permits.release()
