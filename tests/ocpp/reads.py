"""What the OCPP tests read back from the gateway's database, and a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select

from gateway.storage import Storage
from gateway.storage.schema import anomalies, bills, sessions

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = 5.0, what: str = "condition"
) -> T:
    """The first truthy result of `check`, polled until `timeout` (then AssertionError)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.02)


async def bill_of(storage: Storage, pile_id: str, transaction_id: str) -> dict[str, Any] | None:
    q = select(bills).where(bills.c.pile_id == pile_id, bills.c.transaction_id == transaction_id)
    async with storage.reader.connect() as conn:
        row = (await conn.execute(q)).mappings().first()
    return None if row is None else dict(row)


async def bills_of(storage: Storage, pile_id: str) -> list[dict[str, Any]]:
    async with storage.reader.connect() as conn:
        rows = (await conn.execute(select(bills).where(bills.c.pile_id == pile_id))).mappings()
        return [dict(r) for r in rows]


async def session_row(storage: Storage, transaction_id: str) -> dict[str, Any] | None:
    q = select(sessions).where(sessions.c.transaction_id == transaction_id)
    async with storage.reader.connect() as conn:
        row = (await conn.execute(q)).mappings().first()
    return None if row is None else dict(row)


async def anomalies_of(storage: Storage, pile_id: str) -> list[dict[str, Any]]:
    q = select(anomalies).where(anomalies.c.pile_id == pile_id)
    async with storage.reader.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]
