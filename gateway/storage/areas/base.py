"""What every area of `Storage` shares: its engines, writer, clock and caches.

`Storage` (gateway/storage/storage.py) composes the areas (piles, accounts, sessions, bills,
anomalies, pricing, journal, outbox), each a class of this package holding that area's
methods; `Storage.__init__` sets the attributes declared here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.idle_fee import IdleFeeRule
from billing.tariff import Tariff
from gateway.storage.pricing import IdleFeeScope
from gateway.storage.writer import BatchWriter


def where_equal(query: Any, *filters: tuple[Any, Any]) -> Any:
    """The query narrowed to column == value for every filter whose value was given."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


class StorageArea:
    """The state the areas share (set by `Storage.__init__`)."""

    url: str
    engine: AsyncEngine  # writes (SQLite: BEGIN IMMEDIATE)
    reader: AsyncEngine  # reads (the same engine on PostgreSQL)
    writer: BatchWriter
    dialect: str
    default_tariff: Tariff
    default_idle_rule: IdleFeeRule
    clock: Callable[[], int]
    close_timeout_s: float | None
    _touches: dict[str, int]  # pile id -> last seen ms, not yet written
    _touch_interval_s: float
    _tariff_cache_s: float
    _tariff_cache: dict[str, tuple[float, list[Tariff], IdleFeeRule, IdleFeeScope]]
    _closed: bool
    _toucher: asyncio.Task[None]

    async def _purge(self, table: Any, where: Any, chunk: int) -> int:
        """Delete matching rows in chunks, each its own short transaction (no long locks)."""
        total = 0
        while True:
            async with self.engine.begin() as conn:
                ids = select(table.c.id).where(where).limit(chunk)
                result = await conn.execute(
                    delete(table).where(table.c.id.in_(ids.scalar_subquery()))
                )
            total += result.rowcount
            if result.rowcount < chunk:
                return total
