"""The outbox side of the bridge: which instance drains a shared outbox, and its retention.

Several gateway instances may share one PostgreSQL database (and so one outbox table). Only
the instance holding the PostgreSQL advisory lock ``OUTBOX_LOCK_KEY`` publishes, so a shared
outbox is published once and in id order; when that instance dies its database session ends,
the lock is freed and another instance takes over within ``retry_s``. A SQLite database
belongs to one process: its bridge always drains.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

OUTBOX_LOCK_KEY = 0x70696C6567617465 >> 1  # "pilegate", fits a signed bigint


async def purge_published(storage: Any, older_than_ms: int) -> int:
    """Delete outbox rows published before older_than_ms; unpublished rows are never deleted."""
    return int(await storage.purge_outbox(older_than_ms))


class OutboxLease:
    """``await lease.held()``: may this instance publish the outbox now? Cheap to call often."""

    def __init__(
        self, storage: Any, log: Any, *, retry_s: float = 2.0, check_s: float = 5.0
    ) -> None:
        self.storage = storage
        self.log = log
        self.retry_s = retry_s
        self.check_s = check_s
        self.shared = getattr(storage, "dialect", "") == "postgresql"
        self._conn: AsyncConnection | None = None
        self._checked = 0.0
        self._next_try = 0.0

    @property
    def holding(self) -> bool:
        """Holds the shared outbox right now (always False for an unshared SQLite one)."""
        return self._conn is not None

    async def held(self) -> bool:
        if not self.shared:
            return True
        now = time.monotonic()
        if self._conn is not None:
            if now - self._checked < self.check_s:
                return True
            try:
                await self._conn.execute(text("SELECT 1"))
                self._checked = now
                return True
            except Exception as exc:
                self.log.warning("mqtt_outbox_lease_lost", error=repr(exc))
                await self._drop()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_s
        conn: AsyncConnection | None = None
        try:
            conn = await self.storage.engine.connect()
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": OUTBOX_LOCK_KEY}
                )
            ).scalar()
        except Exception as exc:
            self.log.warning("mqtt_outbox_lease_failed", error=repr(exc))
            if conn is not None:
                await _close(conn)
            return False
        if not got:
            await _close(conn)
            return False
        self._conn, self._checked = conn, now
        self.log.info("mqtt_outbox_lease_acquired")
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):  # closing the session frees the lock anyway
            await self._conn.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": OUTBOX_LOCK_KEY}
            )
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn)


async def _close(conn: AsyncConnection) -> None:
    try:
        await conn.close()
    except Exception:
        with contextlib.suppress(Exception):
            await conn.invalidate()
