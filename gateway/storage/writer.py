"""Group commit: one writer task writes rows from many piles in one transaction per batch.

Submissions are queued in order and written in batches of at most `batch_rows` items, a batch
starting when it is full or when its oldest item has waited `flush_ms` (defaults 500 / 5 ms),
or at once for `flush()`. While a batch commits, the next one fills: under load every commit
carries hundreds of rows.

- Awaited submissions (bills): the caller's future resolves only after the batch's
  transaction committed ("durable before acknowledged"); if the commit fails, the future
  raises `WriteFailed` and the caller must not acknowledge.
- Fire-and-forget submissions (sessions, transitions, anomalies, journal frames, outbox,
  last-seen updates) never block the caller. They count against `max_pending`: above it the
  writer drops journal frames (logged, counted in `stats.dropped_journal`), never anything
  else. A batch that fails is retried (fire-and-forget rows up to `retries` times with
  backoff, in their original order); bad rows (integrity or data errors) are isolated by
  splitting the batch, so one bad row cannot fail a whole batch of bills.

Within a batch, statements run in this order: session upserts, transitions, bills (with
their lines and anomalies), anomalies, anomaly events, journal, outbox, last-seen updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, exc, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.schema import (
    anomalies,
    anomaly_events,
    frame_journal,
    outbox,
    piles,
    session_transitions,
    sessions,
)
from billing.store import PreparedBill, StoredBill, insert_rows, write_bills
from gateway.metrics import Histogram

log = logging.getLogger("pilegate.storage.writer")

DEFAULT_BATCH_ROWS = 500
DEFAULT_FLUSH_MS = 5.0
DEFAULT_MAX_PENDING = 100_000


class StorageClosed(RuntimeError):
    """A submission after close()."""


class WriteFailed(RuntimeError):
    """The batch holding an awaited submission did not commit: nothing was stored."""


BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Kind(Enum):
    SESSION = "session"
    TRANSITION = "transition"
    BILL = "bill"
    ANOMALY = "anomaly"
    ANOMALY_EVENT = "anomaly_event"
    JOURNAL = "journal"
    OUTBOX = "outbox"
    TOUCH = "touch"  # payload: {pile_id: last_seen_ms}
    BARRIER = "barrier"  # flush(): resolves when everything before it committed


AWAITED = frozenset({Kind.BILL, Kind.BARRIER})


@dataclass(slots=True)
class _Item:
    kind: Kind
    payload: Any
    future: asyncio.Future[Any] | None
    at: float  # loop time of submission
    attempts: int = 0


@dataclass(slots=True)
class WriterStats:
    batches: int = 0  # committed transactions
    items: int = 0  # committed submissions
    bills: int = 0  # bill submissions committed (new + duplicates)
    duplicates: int = 0
    journal: int = 0
    failed_batches: int = 0
    retried: int = 0  # fire-and-forget items put back after a failed batch
    dropped_journal: int = 0  # over max_pending
    lost: dict[str, int] = field(default_factory=dict)  # given up after `retries` failures
    largest_batch: int = 0
    # For /metrics: how long a batch takes from BEGIN to COMMIT, and how many rows it carries.
    commit_seconds: Histogram = field(default_factory=Histogram)
    batch_sizes: Histogram = field(default_factory=lambda: Histogram(BATCH_SIZE_BUCKETS))


def _dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


_SESSION_COLS = [c.name for c in sessions.c if c.name != "id"]


class BatchWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        flush_ms: float = DEFAULT_FLUSH_MS,
        max_pending: int = DEFAULT_MAX_PENDING,
        retries: int = 3,
        pipeline: int = 1,
    ) -> None:
        if batch_rows < 1 or flush_ms < 0 or max_pending < 1:
            raise ValueError("batch_rows >= 1, flush_ms >= 0, max_pending >= 1")
        self.engine = engine
        self.batch_rows = batch_rows
        self.flush_s = flush_ms / 1000
        self.max_pending = max_pending
        self.retries = retries
        self.pipeline = max(1, pipeline)  # bill-only batches that may commit concurrently
        self._inflight: deque[asyncio.Task[None]] = deque()
        self.stats = WriterStats()
        self._queue: deque[_Item] = deque()
        self._fire_and_forget = 0  # queued fire-and-forget items
        self._wake = asyncio.Event()  # queue became non-empty, or closing
        self._full = asyncio.Event()  # a batch is full, or a barrier waits
        self._urgent = 0  # barriers queued
        self._closing = False
        self._failures = 0  # consecutive failed batches (backoff)
        self._last_drop_log = 0.0
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="pilegate-storage-writer")

    # --- submissions -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _put(self, item: _Item) -> None:
        if not self._queue:
            self._wake.set()
        self._queue.append(item)
        if len(self._queue) >= self.batch_rows:
            self._full.set()

    def submit_bill(self, prepared: PreparedBill) -> asyncio.Future[StoredBill]:
        """Queue a bill; the future resolves after its batch committed (or raises)."""
        if self._closing:
            raise StorageClosed("storage is closed")
        fut: asyncio.Future[StoredBill] = self._loop.create_future()
        self._put(_Item(Kind.BILL, prepared, fut, self._loop.time()))
        return fut

    def submit(self, kind: Kind, payload: Any) -> bool:
        """Fire-and-forget. False when a journal row was dropped over the bound."""
        if kind in AWAITED:
            raise ValueError(f"{kind} is awaited: use submit_bill() or flush()")
        if self._closing:
            raise StorageClosed("storage is closed")
        if self._fire_and_forget >= self.max_pending and kind is Kind.JOURNAL:
            self.stats.dropped_journal += 1
            now = time.monotonic()
            if now - self._last_drop_log > 10:
                self._last_drop_log = now
                log.warning(
                    "storage writer over %d pending rows: dropping journal frames "
                    "(%d dropped so far)",
                    self.max_pending,
                    self.stats.dropped_journal,
                )
            return False
        self._fire_and_forget += 1
        self._put(_Item(kind, payload, None, self._loop.time()))
        return True

    async def flush(self) -> None:
        """Return when everything submitted before this call has committed; raise
        WriteFailed if the batch holding the barrier failed."""
        if self._task.done():
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        self._urgent += 1
        self._put(_Item(Kind.BARRIER, None, fut, self._loop.time()))
        self._full.set()
        await fut

    async def close(self) -> None:
        """Stop taking submissions, write everything queued, end the task."""
        if self._closing:
            await asyncio.shield(self._task)
            return
        self._closing = True
        self._wake.set()
        self._full.set()
        await asyncio.shield(self._task)

    # --- the task ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    while self._inflight:
                        await self._inflight.popleft()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._queue) < self.batch_rows and not self._urgent and not self._closing:
                delay = self._queue[0].at + self.flush_s - self._loop.time()
                if delay > 0:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), delay)
            n = min(self.batch_rows, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            for it in batch:
                if it.kind is Kind.BARRIER:
                    self._urgent -= 1
                elif it.future is None:
                    self._fire_and_forget -= 1
            try:
                if self.pipeline > 1 and all(it.kind is Kind.BILL for it in batch):
                    # Bills need no order among themselves: while one batch commits, the
                    # next may already be on its way (the unique key dedupes across them).
                    while len(self._inflight) >= self.pipeline:
                        await self._inflight.popleft()
                    self._inflight.append(self._loop.create_task(self._write(batch)))
                else:  # ordered rows and barriers wait for every batch before them
                    while self._inflight:
                        await self._inflight.popleft()
                    await self._write(batch)
            except Exception:  # never let the writer die: log and go on
                log.exception("storage writer: unexpected error")
            if self._failures:
                await asyncio.sleep(min(0.05 * 2 ** (self._failures - 1), 2.0))

    async def _write(self, batch: list[_Item]) -> None:
        connected = False
        started = self._loop.time()
        try:
            async with self.engine.begin() as conn:
                connected = True
                results = await self._apply(conn, batch)
        except exc.DBAPIError as e:
            if connected and not e.connection_invalidated and len(batch) > 1:
                # A statement failed on a live connection: maybe one bad row. Isolate it by
                # halving, so the rest of the batch (other piles' bills) still commits.
                self.stats.failed_batches += 1
                mid = len(batch) // 2
                await self._write(batch[:mid])
                await self._write(batch[mid:])
            else:
                self._failed(batch, e, retry=True)
            return
        except Exception as e:
            self._failed(batch, e, retry=True)
            return
        self._failures = 0
        st = self.stats
        st.batches += 1
        st.items += len(batch)
        st.largest_batch = max(st.largest_batch, len(batch))
        st.commit_seconds.observe(self._loop.time() - started)
        st.batch_sizes.observe(len(batch))
        for it in batch:
            fut = it.future
            if fut is None:
                if it.kind is Kind.JOURNAL:
                    st.journal += 1
                continue
            if it.kind is Kind.BILL:
                stored = results[id(it)]
                st.bills += 1
                st.duplicates += stored.duplicate
                if not fut.done():
                    fut.set_result(stored)
            elif not fut.done():
                fut.set_result(None)

    def _failed(self, batch: list[_Item], error: Exception, *, retry: bool) -> None:
        self.stats.failed_batches += 1
        self._failures += 1
        log.error("storage writer: batch of %d failed: %s", len(batch), error)
        put_back = []
        for it in batch:
            if it.future is not None:
                if not it.future.done():
                    failure = WriteFailed(f"not stored: {type(error).__name__}: {error}")
                    failure.__cause__ = error
                    it.future.set_exception(failure)
                continue
            it.attempts += 1
            if retry and it.attempts <= self.retries:
                put_back.append(it)
            else:
                lost = self.stats.lost
                lost[it.kind.value] = lost.get(it.kind.value, 0) + 1
                log.error("storage writer: gave up on a %s row: %.300r", it.kind.value, it.payload)
        if put_back:
            self.stats.retried += len(put_back)
            self._fire_and_forget += len(put_back)
            self._queue.extendleft(reversed(put_back))
            self._wake.set()

    async def _apply(self, conn: AsyncConnection, batch: list[_Item]) -> dict[int, StoredBill]:
        by_kind: dict[Kind, list[_Item]] = {}
        for it in batch:
            by_kind.setdefault(it.kind, []).append(it)
        results: dict[int, StoredBill] = {}
        if items := by_kind.get(Kind.SESSION):
            latest: dict[str, Mapping[str, Any]] = {}
            for it in items:  # the last upsert of a session in the batch wins
                latest.pop(it.payload["id"], None)
                latest[it.payload["id"]] = it.payload
            stmt = _dialect_insert(conn, sessions)
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"], set_={c: stmt.excluded[c] for c in _SESSION_COLS}
            )
            await conn.execute(stmt, list(latest.values()))
        if items := by_kind.get(Kind.TRANSITION):
            await insert_rows(conn, session_transitions, [it.payload for it in items])
        if items := by_kind.get(Kind.BILL):
            stored = await write_bills(conn, [it.payload for it in items])
            results = {id(it): s for it, s in zip(items, stored, strict=True)}
        for kind, table in (
            (Kind.ANOMALY, anomalies),
            (Kind.ANOMALY_EVENT, anomaly_events),
            (Kind.JOURNAL, frame_journal),
            (Kind.OUTBOX, outbox),
        ):
            if items := by_kind.get(kind):
                await insert_rows(conn, table, [it.payload for it in items])
        if items := by_kind.get(Kind.TOUCH):
            seen: dict[str, int] = {}
            for it in items:
                for pile_id, at_ms in it.payload.items():
                    seen[pile_id] = max(at_ms, seen.get(pile_id, at_ms))
            if conn.dialect.name == "postgresql":
                # One statement for the whole fleet: per-row UPDATEs of 10k piles stall the
                # loop ~50 ms every flush (bench/idle_fleet.py).
                await conn.execute(
                    text(
                        "UPDATE piles SET last_seen_ms = GREATEST(COALESCE(piles.last_seen_ms, 0),"
                        " v.seen) FROM unnest(CAST(:pids AS text[]), CAST(:seens AS bigint[]))"
                        " AS v(pid, seen) WHERE piles.id = v.pid"
                    ),
                    {"pids": list(seen), "seens": list(seen.values())},
                )
            else:
                stmt = (
                    update(piles)
                    .where(piles.c.id == bindparam("pid"))
                    .values(last_seen_ms=bindparam("seen"))
                )
                await conn.execute(stmt, [{"pid": p, "seen": t} for p, t in seen.items()])
        return results
