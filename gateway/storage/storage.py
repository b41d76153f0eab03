"""`Storage`: the one object the gateway holds for everything it keeps in the database.

Writes that must be durable before the gateway answers (bills) go through the batch writer
and are awaited; journal frames, session rows, transitions, anomalies and outbox rows are
fire-and-forget through the same writer (ordered); claims, logins and operator actions are
direct transactions. Reads use a separate engine (on SQLite: no write lock for readers).

The methods live by area in ``gateway/storage/areas/`` (piles, accounts, sessions, bills,
anomalies, pricing, journal, outbox, ykc); this class composes them and owns the lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from billing.idle_fee import IdleFeeRule
from billing.tariff import Tariff
from gateway.storage import migrate
from gateway.storage.areas.accounts import AccountStorage
from gateway.storage.areas.anomalies import AnomalyStorage
from gateway.storage.areas.bills import BillStorage
from gateway.storage.areas.journal import JournalStorage
from gateway.storage.areas.ocpp import OcppStorage
from gateway.storage.areas.outbox import OutboxStorage
from gateway.storage.areas.piles import PileStorage
from gateway.storage.areas.pricing import DEFAULT_IDLE_RULE, DEFAULT_TARIFF, PricingStorage
from gateway.storage.areas.sessions import SessionStorage
from gateway.storage.areas.ykc import YkcStorage
from gateway.storage.engine import create_engine, is_sqlite, resolve_url
from gateway.storage.writer import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_FLUSH_MS,
    DEFAULT_MAX_PENDING,
    BatchWriter,
    WriterStats,
)

__all__ = ["DEFAULT_IDLE_RULE", "DEFAULT_TARIFF", "Storage", "wall_clock_ms"]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Storage(
    PileStorage,
    AccountStorage,
    SessionStorage,
    BillStorage,
    AnomalyStorage,
    PricingStorage,
    JournalStorage,
    OutboxStorage,
    OcppStorage,
    YkcStorage,
):
    """Open with `await Storage.open(url, ...)`, close with `await storage.close()`."""

    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        reader: AsyncEngine,
        writer: BatchWriter,
        *,
        touch_interval_s: float,
        default_tariff: Tariff,
        default_idle_rule: IdleFeeRule,
        tariff_cache_s: float,
        clock: Callable[[], int],
        close_timeout_s: float | None = None,
    ) -> None:
        self.url = url
        self.engine = engine  # writes (SQLite: BEGIN IMMEDIATE)
        self.reader = reader  # reads (the same engine on PostgreSQL)
        self.writer = writer
        self.dialect = engine.dialect.name
        self.default_tariff = default_tariff
        self.default_idle_rule = default_idle_rule
        self.clock = clock
        self.close_timeout_s = close_timeout_s
        self._touches = {}
        self._touch_interval_s = touch_interval_s
        self._tariff_cache_s = tariff_cache_s
        self._tariff_cache = {}
        self._closed = False
        self._toucher = asyncio.get_running_loop().create_task(
            self._touch_loop(), name="pilegate-storage-touch"
        )

    # --- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        flush_ms: float = DEFAULT_FLUSH_MS,
        max_pending: int = DEFAULT_MAX_PENDING,
        touch_interval_s: float = 30.0,
        upgrade: bool | None = None,
        pool_size: int = 8,
        pool_timeout_s: float = 120.0,
        pipeline: int = 2,
        own_writer_pool: bool = True,
        default_tariff: Tariff = DEFAULT_TARIFF,
        default_idle_rule: IdleFeeRule = DEFAULT_IDLE_RULE,
        tariff_cache_s: float = 60.0,
        clock: Callable[[], int] = wall_clock_ms,
        close_timeout_s: float | None = 60.0,
    ) -> Storage:
        """Connect, check (or upgrade) the schema, start the writer. url None: the embedded
        SQLite file var/pilegate.sqlite3. upgrade None: upgrade the embedded/SQLite database
        automatically, only check a PostgreSQL one (raises SchemaOutOfDate). max_pending:
        rows held while the database is unreachable before back-pressure (see writer.py);
        close_timeout_s: how long close() keeps trying to write them (None: for ever).
        pool_size: connections for direct transactions and reads (as many again may
        overflow), waited for up to pool_timeout_s; on PostgreSQL the batch writer has its
        own `pipeline` connections (own_writer_pool), so bills and held rows never queue
        for a connection behind a login storm's reads and claims."""
        resolved = resolve_url(url)
        if upgrade is None:
            upgrade = is_sqlite(resolved)
        if upgrade:
            await migrate.upgrade(resolved)
        else:
            await migrate.check_current(resolved)
        engine = create_engine(
            resolved, write=True, pool_size=pool_size, pool_timeout_s=pool_timeout_s
        )
        reader = create_engine(resolved, write=False) if is_sqlite(resolved) else engine
        writes = engine
        if own_writer_pool and not is_sqlite(resolved):
            writes = create_engine(resolved, write=True, pool_size=pipeline)
        writer = BatchWriter(
            writes,
            batch_rows=batch_rows,
            flush_ms=flush_ms,
            max_pending=max_pending,
            pipeline=1 if is_sqlite(resolved) else pipeline,
        )
        return cls(
            resolved,
            engine,
            reader,
            writer,
            touch_interval_s=touch_interval_s,
            default_tariff=default_tariff,
            default_idle_rule=default_idle_rule,
            tariff_cache_s=tariff_cache_s,
            clock=clock,
            close_timeout_s=close_timeout_s,
        )

    async def flush(self) -> None:
        """Write pending last-seen touches and wait until everything queued has committed."""
        self._submit_touches()
        await self.writer.flush()

    async def close(self) -> None:
        """Drain the writer (everything queued is written), then close the connections."""
        if self._closed:
            return
        self._closed = True
        self._toucher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._toucher
        self._submit_touches()
        try:
            await self.writer.close(self.close_timeout_s)
        finally:
            await self.engine.dispose()
            for other in {self.reader, self.writer.engine} - {self.engine}:
                await other.dispose()

    @property
    def stats(self) -> WriterStats:
        return self.writer.stats

    def on_backlog(self, listener: Callable[[bool], None]) -> None:
        """listener(True) when the rows held for the database reach their bound (the caller
        applies back-pressure), listener(False) when the backlog is written down."""
        self.writer.on_backlog(listener)

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
