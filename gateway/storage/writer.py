"""Group commit: one writer task writes rows from many piles in one transaction per batch.

Submissions are queued in order and written in batches of at most `batch_rows` items, a batch
starting when it is full or when its oldest item has waited `flush_ms` (defaults 500 / 5 ms),
or at once for `flush()`. While a batch commits, the next one fills: under load every commit
carries hundreds of rows.

- Awaited submissions (bills): the caller's future resolves only after the batch's
  transaction committed ("durable before acknowledged"); if the commit fails, the future
  raises `WriteFailed` and the caller must not acknowledge (the pile re-sends the bill).
- Fire-and-forget submissions (sessions, transitions, anomalies, journal frames, outbox,
  last-seen updates) never block the caller and are never dropped: the gateway decided to
  keep them. While the database is unreachable they are held in memory, in order, and
  written when it answers again (one log line when the outage starts, one when it ends).
- The hold is bounded by `max_pending` uncommitted fire-and-forget rows: at the bound the
  writer reports back-pressure (`on_backlog(True)`; the gateway stops reading from piles),
  and releases it (`on_backlog(False)`) once the backlog is down to three quarters. The bound
  is soft: rows from frames already read are still held, never dropped.
- A batch that fails on a live connection is split in halves to find a bad row, so one
  bad row cannot fail a whole batch of bills. A single row the database keeps refusing (a
  data or constraint error, `retries` times) is unwritable: it is logged whole and counted
  in `stats.lost` (a bug to report), so that it cannot block every row behind it forever.

- Session rows are stamped with a version when submitted, and the newest one of each
  session held is kept at hand (`held_sessions`): an account claim or release writes it in
  its own transaction, and the writer's later upsert of an older version changes nothing
  (session_rows.py).

Within a batch, statements run in this order: session upserts, transitions, bills (with
their lines, anomalies and outbox events), anomalies, anomaly events, journal, outbox,
last-seen updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, exc, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.metrics import Histogram
from gateway.storage.bills import PreparedBill, StoredBill, write_bills
from gateway.storage.inserts import insert_rows
from gateway.storage.schema import (
    anomalies,
    anomaly_events,
    frame_journal,
    outbox,
    piles,
    session_transitions,
)
from gateway.storage.session_rows import HeldSessionRows, RowVersions, upsert_sessions
from protocol.error_root import PilegateError

log = logging.getLogger("pilegate.storage.writer")

DEFAULT_BATCH_ROWS = 500
DEFAULT_FLUSH_MS = 5.0
DEFAULT_MAX_PENDING = 100_000
MAX_BACKOFF_S = 2.0

# SQLSTATE classes of errors that say nothing about the rows: connection (08), rollback
# (40: serialization, deadlock), resources (53), operator intervention (57: shutdown,
# cancel), system (58). Anything else on a live connection is blamed on the statement.
_TRANSIENT_SQLSTATE = ("08", "40", "53", "57", "58")


class StorageClosed(PilegateError, RuntimeError):
    """A submission after close()."""


class WriteFailed(PilegateError, RuntimeError):
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
    attempts: int = 0  # failures blamed on this row (not on an outage)


@dataclass(slots=True)
class WriterStats:
    batches: int = 0  # committed transactions
    items: int = 0  # committed submissions
    bills: int = 0  # bill submissions committed (new + duplicates)
    duplicates: int = 0
    journal: int = 0
    failed_batches: int = 0
    retried: int = 0  # fire-and-forget items put back after a failed batch
    lost: dict[str, int] = field(default_factory=dict)  # unwritable rows (refused `retries` times)
    largest_batch: int = 0
    # Rows held for the database: fire-and-forget rows not yet committed, and their bound.
    pending: int = 0
    max_pending: int = DEFAULT_MAX_PENDING
    outage: bool = False  # the database is unreachable now
    outages: int = 0  # outages begun
    outage_seconds: float = 0.0  # total length of the outages that ended
    backlog: bool = False  # back-pressure on piles now (pending reached max_pending)
    backlogs: int = 0  # times back-pressure was applied
    # For /metrics: how long a batch takes from BEGIN to COMMIT, and how many rows it carries.
    commit_seconds: Histogram = field(default_factory=Histogram)
    batch_sizes: Histogram = field(default_factory=lambda: Histogram(BATCH_SIZE_BUCKETS))


def _blames_the_rows(error: BaseException) -> bool:
    """Whether a statement error on a live connection is about the rows written (a bad
    value, a constraint) rather than about the database's state."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return False
        orig = error.orig
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if state:
            return not str(state).startswith(_TRANSIENT_SQLSTATE)
        # SQLite "database is locked" / "disk I/O error"; asyncpg's own connection errors
        return not isinstance(error, exc.OperationalError | exc.InterfaceError)
    # Values the driver refuses before sending anything (e.g. an int too large for SQLite)
    return isinstance(error, OverflowError | ValueError | TypeError)


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
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        if batch_rows < 1 or flush_ms < 0 or max_pending < 1:
            raise ValueError("batch_rows >= 1, flush_ms >= 0, max_pending >= 1")
        self.engine = engine
        self.batch_rows = batch_rows
        self.flush_s = flush_ms / 1000
        self.max_pending = max_pending
        self.resume_below = max(0, max_pending * 3 // 4)
        self.retries = retries
        self.max_backoff_s = max_backoff_s
        self.pipeline = max(1, pipeline)  # bill-only batches that may commit concurrently
        self._inflight: deque[asyncio.Task[None]] = deque()
        self.stats = WriterStats(max_pending=max_pending)
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()  # queue became non-empty, or closing
        self._full = asyncio.Event()  # a batch is full, or a barrier waits
        self._urgent = 0  # barriers queued
        self._closing = False
        self._failures = 0  # consecutive failed batches (backoff)
        self._outage_since: float | None = None
        self._outage_error = ""
        self._backlog_listeners: list[Callable[[bool], None]] = []
        # Session rows: each version stamped, the newest held ones kept at hand for the
        # claims and releases that write them in their own transactions (session_rows.py).
        self.row_versions = RowVersions()
        self.held_sessions = HeldSessionRows()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="pilegate-storage-writer")

    # --- submissions -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def held(self) -> int:
        """Fire-and-forget rows accepted and not yet committed (queued or being written)."""
        return self.stats.pending

    @property
    def in_outage(self) -> bool:
        return self._outage_since is not None

    def on_backlog(self, listener: Callable[[bool], None]) -> None:
        """Call listener(True) when the held rows reach max_pending, listener(False) when
        they are down to three quarters of it again."""
        self._backlog_listeners.append(listener)

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
        """Fire-and-forget: held until written, never dropped. Always True (kept for
        callers that counted drops)."""
        if kind in AWAITED:
            raise ValueError(f"{kind} is awaited: use submit_bill() or flush()")
        if self._closing:
            raise StorageClosed("storage is closed")
        if kind is Kind.SESSION:
            payload["row_version"] = self.row_versions.next()
            self.held_sessions.submitted(payload)
        self._hold(1)
        self._put(_Item(kind, payload, None, self._loop.time()))
        return True

    def _hold(self, n: int) -> None:
        st = self.stats
        st.pending += n
        if n > 0 and not st.backlog and st.pending >= self.max_pending:
            st.backlog = True
            st.backlogs += 1
            log.warning(
                "storage writer holds %d rows (bound %d): back-pressure on piles until the "
                "database has written them down to %d",
                st.pending,
                self.max_pending,
                self.resume_below,
            )
            self._tell_backlog(True)
        elif n < 0 and st.backlog and st.pending <= self.resume_below:
            st.backlog = False
            log.warning("storage writer down to %d held rows: back-pressure released", st.pending)
            self._tell_backlog(False)

    def _tell_backlog(self, on: bool) -> None:
        for listener in self._backlog_listeners:
            try:
                listener(on)
            except Exception:  # a listener's bug must not stop the writer
                log.exception("storage writer: back-pressure listener failed")

    async def flush(self) -> None:
        """Return when everything submitted before this call has committed; raise
        WriteFailed if the database was unreachable for the batch holding the barrier (the
        rows before it are still held and written later)."""
        if self._task.done():
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        self._urgent += 1
        self._put(_Item(Kind.BARRIER, None, fut, self._loop.time()))
        self._full.set()
        await fut

    async def close(self, drain_timeout_s: float | None = None) -> None:
        """Stop taking submissions, write everything queued, end the task. With a
        drain_timeout_s (the database may be down for good), give up after it: what is
        still held is logged and counted in stats.lost."""
        if not self._closing:
            self._closing = True
            self._wake.set()
            self._full.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), drain_timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._abandon()

    def _abandon(self) -> None:
        left = list(self._queue)
        self._queue.clear()
        for it in left:
            if it.future is not None:
                if not it.future.done():
                    it.future.set_exception(WriteFailed("not stored: storage closed"))
            else:
                self.stats.lost[it.kind.value] = self.stats.lost.get(it.kind.value, 0) + 1
                if it.kind is Kind.SESSION:
                    self.held_sessions.written(it.payload)
        held = sum(it.future is None for it in left)
        if held:
            self.stats.pending -= held
            log.error(
                "storage writer closed with %d rows not written (database unavailable): lost",
                held,
            )

    # --- the task ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    while self._inflight:
                        await self._inflight.popleft()
                    return
                self._wake.clear()
                if self._outage_since is None:
                    await self._wake.wait()
                else:  # nothing to write, but the end of the outage must still be noticed
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._backoff_s())
                    if not self._queue and not self._closing:
                        await self._probe()
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
                await asyncio.sleep(self._backoff_s())

    def _backoff_s(self) -> float:
        return min(0.05 * 2 ** max(0, self._failures - 1), self.max_backoff_s)

    async def _probe(self) -> None:
        """During an outage with nothing queued: is the database back?"""
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception:
            self._failures += 1
            return
        self._failures = 0
        self._outage_ended()

    async def _write(self, batch: list[_Item]) -> None:
        # Everything not written goes back to the front of the queue in one piece, so the
        # rows keep their order however the batch was split. A flush() barrier resolves only
        # when nothing of its batch is left to write again.
        again = await self._attempt(batch)
        barriers = [
            it
            for it in batch
            if it.kind is Kind.BARRIER and it.future is not None and not it.future.done()
        ]
        if again and barriers:
            self._urgent += len(barriers)
            again += barriers
        else:
            for it in barriers:
                it.future.set_result(None)  # type: ignore[union-attr]  # filtered on it above
        self._put_back(again)

    async def _attempt(self, batch: list[_Item]) -> list[_Item]:
        """Write the batch in one transaction; return the fire-and-forget items to write
        again, in order (awaited ones that failed have their futures failed)."""
        connected = False
        started = self._loop.time()
        try:
            async with self.engine.begin() as conn:
                connected = True
                results = await self._apply(conn, batch)
        except Exception as e:
            if not (connected and _blames_the_rows(e)):
                return self._unreachable(batch, e)
            if len(batch) == 1:
                return self._refused(batch[0], e)
            # A statement failed on a live connection: maybe one bad row. Isolate it by
            # halving, so the rest of the batch (other piles' bills) commits.
            self.stats.failed_batches += 1
            mid = len(batch) // 2
            again = await self._attempt(batch[:mid])
            if self._outage_since is not None:  # the database went away meanwhile
                return again + self._fail_awaited(batch[mid:], e)
            return again + await self._attempt(batch[mid:])
        self._failures = 0
        if self._outage_since is not None:
            self._outage_ended()
        st = self.stats
        st.batches += 1
        st.items += len(batch)
        st.largest_batch = max(st.largest_batch, len(batch))
        st.commit_seconds.observe(self._loop.time() - started)
        st.batch_sizes.observe(len(batch))
        committed = 0
        for it in batch:
            fut = it.future
            if fut is None:
                committed += 1
                if it.kind is Kind.JOURNAL:
                    st.journal += 1
                elif it.kind is Kind.SESSION:
                    self.held_sessions.written(it.payload)
                continue
            if it.kind is Kind.BILL:
                stored = results[id(it)]
                st.bills += 1
                st.duplicates += stored.duplicate
                if not fut.done():
                    fut.set_result(stored)
            # barriers: resolved by _write, once nothing before them is left to write
        if committed:
            self._hold(-committed)
        return []

    def _fail_awaited(self, batch: list[_Item], error: BaseException) -> list[_Item]:
        """Fail the awaited items (their callers must not acknowledge); the rest back."""
        rest = []
        for it in batch:
            if it.future is None:
                rest.append(it)
            elif not it.future.done():
                failure = WriteFailed(f"not stored: {type(error).__name__}: {error}")
                failure.__cause__ = error
                it.future.set_exception(failure)
        return rest

    def _put_back(self, items: list[_Item]) -> None:
        if items:
            self.stats.retried += sum(it.kind is not Kind.BARRIER for it in items)
            self._queue.extendleft(reversed(items))
            if self._urgent:
                self._full.set()
            self._wake.set()

    def _unreachable(self, batch: list[_Item], error: BaseException) -> list[_Item]:
        """The database did not answer (or aborted for its own reasons): nothing in the
        batch is to blame. Awaited items fail; every other row is kept, in order."""
        self.stats.failed_batches += 1
        self._failures += 1
        if self._outage_since is None:
            self._outage_since = self._loop.time()
            self._outage_error = f"{type(error).__name__}: {error}"
            self.stats.outage = True
            self.stats.outages += 1
            log.error(
                "storage outage: database unavailable (%s); holding rows until it answers",
                self._outage_error[:500],
            )
        self._wake.set()  # an idle writer must start probing for the database's return
        return self._fail_awaited(batch, error)

    def _outage_ended(self) -> None:
        assert self._outage_since is not None
        lasted = self._loop.time() - self._outage_since
        self._outage_since = None
        self.stats.outage = False
        self.stats.outage_seconds += lasted
        log.warning(
            "storage outage over after %.1f s: database answers again; %d rows held to write",
            lasted,
            self.stats.pending,
        )

    def _refused(self, it: _Item, error: BaseException) -> list[_Item]:
        """One row the database refused on a live connection (the database works: no
        back-off). Retried `retries` times in case the cause was passing, then given up."""
        self.stats.failed_batches += 1
        if not self._fail_awaited([it], error):
            return []
        it.attempts += 1
        if it.attempts < self.retries:
            return [it]
        lost = self.stats.lost
        lost[it.kind.value] = lost.get(it.kind.value, 0) + 1
        if it.kind is Kind.SESSION:
            self.held_sessions.written(it.payload)
        self._hold(-1)
        log.error(
            "storage writer: database refused a %s row %d times, not kept: %s; row: %.2000r",
            it.kind.value,
            it.attempts,
            error,
            it.payload,
        )
        return []

    async def _apply(self, conn: AsyncConnection, batch: list[_Item]) -> dict[int, StoredBill]:
        by_kind: dict[Kind, list[_Item]] = {}
        for it in batch:
            by_kind.setdefault(it.kind, []).append(it)
        results: dict[int, StoredBill] = {}
        if items := by_kind.get(Kind.SESSION):
            # The newest version of each row wins, here and against one a claim wrote.
            await upsert_sessions(conn, [it.payload for it in items])
        if items := by_kind.get(Kind.TRANSITION):
            await insert_rows(conn, session_transitions, [it.payload for it in items])
        if items := by_kind.get(Kind.BILL):
            stored = await write_bills(conn, [it.payload for it in items])
            results = {id(it): s for it, s in zip(items, stored, strict=True)}
        for kind, table in (
            (Kind.ANOMALY, anomalies),
            (Kind.ANOMALY_EVENT, anomaly_events),
            (Kind.JOURNAL, frame_journal),
        ):
            if items := by_kind.get(kind):
                await insert_rows(conn, table, [it.payload for it in items])
        # Outbox rows in submission order; a bill's events only if that copy was stored,
        # so they commit in the bill's own transaction (docs/mqtt.md).
        events: list[Mapping[str, Any]] = []
        if Kind.OUTBOX in by_kind or Kind.BILL in by_kind:
            for it in batch:
                if it.kind is Kind.OUTBOX:
                    events.append(it.payload)
                elif it.kind is Kind.BILL and not results[id(it)].duplicate:
                    events.extend(it.payload.events)
        if events:
            await insert_rows(conn, outbox, events)
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
