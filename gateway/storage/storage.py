"""`Storage`: the one object the gateway holds for everything it keeps in the database.

Writes that must be durable before the gateway answers (bills) go through the batch writer
and are awaited; journal frames, session rows, transitions, anomalies and outbox rows are
fire-and-forget through the same writer (ordered); claims, logins and operator actions are
direct transactions. Reads use a separate engine (on SQLite: no write lock for readers).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson
from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing import store as bill_store
from billing.anomalies import AnomalyCode
from billing.idle_fee import IdleFeeRule
from billing.reconcile import Settlement
from billing.records import PileBill
from billing.schema import (
    accounts,
    active_services,
    anomalies,
    anomaly_events,
    bill_corrections,
    bill_lines,
    bills,
    firmware_history,
    frame_journal,
    guns,
    idle_fee_rules,
    outbox,
    piles,
    session_transitions,
    sessions,
    stations,
    tariff_assignments,
)
from billing.store import Correction, StoredBill
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff, TariffScope
from billing.tariff import select_tariff as _select_tariff
from gateway.storage import migrate, pile_secrets
from gateway.storage.engine import create_engine, is_sqlite, resolve_url
from gateway.storage.pile_secrets import PileSecrets
from gateway.storage.records import (
    CLOSED_STATE,
    ENDED_EARLY_STATES,
    TERMINAL_STATES,
    AccountRecord,
    ActiveService,
    AnomalyEvent,
    AnomalyRecord,
    FirmwareSeen,
    JournalEntry,
    PileRecord,
    SessionRow,
    TransitionRecord,
)
from gateway.storage.writer import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_FLUSH_MS,
    DEFAULT_MAX_PENDING,
    BatchWriter,
    Kind,
    WriterStats,
)
from protocol import normalize_pile_id
from protocol.codes import Channel
from sessions import LIVE

log = logging.getLogger("pilegate.storage")

#: A claim younger than this is never judged stale: the row of the session it belongs to is
#: written through the batch writer, so it may lag the claim (a late charge re-claims the
#: account of an ended session before the session's row says so).
STALE_CLAIM_AGE_MS = 60_000


def stale_claims(claimed_before_ms: int) -> Any:
    """Sessions whose account claim is stale: claimed before claimed_before_ms, and the
    database says the service is over (not live) with no late charge still running on it.
    Their release was lost (a database outage, a crash before the release was written)."""
    s = sessions.c
    late_charge_open = and_(s.late_charge_start_ms.is_not(None), s.late_charge_end_ms.is_(None))
    return (
        select(s.id)
        .join(active_services, active_services.c.session_id == s.id)
        .where(
            active_services.c.since_ms < claimed_before_ms,
            s.state.not_in([p.value for p in LIVE]),
            ~late_charge_open,
        )
    )

#: The tariff of a pile with no pile, station or stored default tariff (docs/protocol.md
#: §7.8): 1.00 CNY/kWh in every period, no service fee. Replace it with
#: `pilegate tariff set-default` (a tariff of scope "default").
DEFAULT_TARIFF = Tariff(
    "default",
    ScopeKind.DEFAULT,
    "",
    0,
    dict.fromkeys(PeriodKind, PeriodPrice(energy_e4=10_000, service_e4=0)),  # 1.00 CNY/kWh
    (Segment(0, PeriodKind.FLAT),),
)
#: No idle fee, until `pilegate idle-fee set` stores a rule (pile, station or default scope).
DEFAULT_IDLE_RULE = IdleFeeRule(grace_minutes=15, rate_fen_per_minute=0)


@dataclasses.dataclass(frozen=True, slots=True)
class IdleFeeScope:
    """Which stored rule applies to a pile; builtin: none is stored, DEFAULT_IDLE_RULE is used."""

    scope_kind: ScopeKind
    scope_id: str
    builtin: bool


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or os.urandom(8).hex()
    digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, salt, _ = stored.split("$", 2)
    return hmac.compare_digest(hash_password(password, salt), stored)


def _channel_name(channel: str | int) -> str:
    if isinstance(channel, int):
        try:
            return Channel(channel).name.lower()
        except ValueError:
            return str(channel)
    return channel.lower()


def _where_equal(query: Any, *filters: tuple[Any, Any]) -> Any:
    """The query narrowed to column == value for every filter whose value was given."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


class Storage:
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
        self._touches: dict[str, int] = {}
        self._touch_interval_s = touch_interval_s
        self._tariff_cache_s = tariff_cache_s
        self._tariff_cache: dict[str, tuple[float, list[Tariff], IdleFeeRule, IdleFeeScope]] = {}
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
        pipeline: int = 2,
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
        close_timeout_s: how long close() keeps trying to write them (None: for ever)."""
        resolved = resolve_url(url)
        if upgrade is None:
            upgrade = is_sqlite(resolved)
        if upgrade:
            await migrate.upgrade(resolved)
        else:
            await migrate.check_current(resolved)
        engine = create_engine(resolved, write=True, pool_size=pool_size)
        reader = create_engine(resolved, write=False) if is_sqlite(resolved) else engine
        writer = BatchWriter(
            engine,
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
            if self.reader is not self.engine:
                await self.reader.dispose()

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

    # --- stations and piles ------------------------------------------------------------

    async def add_station(self, station_id: str, name: str, *, at_ms: int | None = None) -> None:
        """Create or rename a station."""
        at = self.clock() if at_ms is None else at_ms
        async with self.engine.begin() as conn:
            stmt = self._insert(conn, stations).values(id=station_id, name=name, created_ms=at)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name})
            )

    async def register_pile(
        self,
        pile_id: str,
        *,
        station_id: str | None = None,
        vendor: str = "",
        model: str = "",
        firmware: str = "",
        gun_count: int = 1,
        enabled: bool = True,
        at_ms: int | None = None,
    ) -> PileRecord:
        """Operator registration (or update of station/enabled) ahead of the first login."""
        pile_id = normalize_pile_id(pile_id)
        at = self.clock() if at_ms is None else at_ms
        async with self.engine.begin() as conn:
            row = await self._pile_row(conn, pile_id)
            if row is None:
                await self._insert_pile(
                    conn, pile_id, station_id, vendor, model, firmware, gun_count, enabled, at
                )
            else:
                await conn.execute(
                    update(piles)
                    .where(piles.c.id == pile_id)
                    .values(station_id=station_id, enabled=enabled)
                )
            self._tariff_cache.pop(pile_id, None)
            return PileRecord.from_row(await self._pile_row(conn, pile_id))

    async def login_pile(
        self,
        pile_id: str,
        vendor: str,
        model: str,
        firmware: str,
        gun_count: int,
        at_ms: int,
        auto_register: bool,
        *,
        station_id: str | None = None,
    ) -> PileRecord | None:
        """A pile logged in: None if unknown and auto_register is off; otherwise the record,
        marked online, with firmware history appended when the firmware changed (or on
        registration). A disabled pile is returned with enabled=False: the caller decides."""
        async with self.engine.begin() as conn:
            row = await self._pile_row(conn, pile_id)
            if row is None:
                if not auto_register:
                    return None
                await self._insert_pile(
                    conn, pile_id, station_id, vendor, model, firmware, gun_count, True, at_ms,
                    online=True,
                )  # fmt: skip
                row = await self._pile_row(conn, pile_id)
                assert row is not None
                return PileRecord.from_row(row, registered_now=True, firmware_changed=True)
            changed = row["firmware"] != firmware
            if changed:
                await conn.execute(
                    insert(firmware_history).values(
                        pile_id=pile_id, firmware=firmware, first_seen_ms=at_ms
                    )
                )
            await conn.execute(
                update(piles)
                .where(piles.c.id == pile_id)
                .values(
                    vendor=vendor,
                    model=model,
                    firmware=firmware,
                    gun_count=gun_count,
                    online=True,
                    last_login_ms=at_ms,
                    last_seen_ms=at_ms,
                )
            )
            if gun_count > row["gun_count"]:
                await self._ensure_guns(conn, pile_id, gun_count)
            self._touches.pop(pile_id, None)
            seen_before = row["last_seen_ms"]
            row = await self._pile_row(conn, pile_id)
            assert row is not None
            return PileRecord.from_row(
                row, firmware_changed=changed, seen_before_login_ms=seen_before
            )

    async def pile_offline(self, pile_id: str, at_ms: int) -> None:
        self._touches.pop(pile_id, None)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(piles)
                .where(piles.c.id == pile_id)
                .values(
                    online=False,
                    last_seen_ms=func.coalesce(
                        func.greatest(piles.c.last_seen_ms, at_ms)
                        if self.dialect == "postgresql"
                        else func.max(piles.c.last_seen_ms, at_ms),
                        at_ms,
                    ),
                )
            )

    async def set_pile_enabled(self, pile_id: str, enabled: bool) -> bool:
        """Operator enable/disable (field case 8). False if the pile is unknown."""
        pile_id = normalize_pile_id(pile_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(piles).where(piles.c.id == pile_id).values(enabled=enabled)
            )
            return result.rowcount > 0

    async def pile_secrets(self, pile_id: str) -> PileSecrets | None:
        """The pile's login secrets (None: pile not registered); gateway/storage/pile_secrets."""
        return await pile_secrets.load(self.reader, pile_id)

    async def set_pile_secret(
        self, pile_id: str, secret: bytes, *, grace_ms: int = 0, at_ms: int | None = None
    ) -> bool:
        """Set or rotate the pile's login secret; the old one stays valid ``grace_ms``."""
        at = self.clock() if at_ms is None else at_ms
        return await pile_secrets.set_secret(
            self.engine, pile_id, secret, at_ms=at, grace_ms=grace_ms
        )

    async def clear_pile_secret(self, pile_id: str) -> bool:
        return await pile_secrets.clear(self.engine, pile_id)

    async def get_pile(self, pile_id: str) -> PileRecord | None:
        pile_id = normalize_pile_id(pile_id)
        async with self.reader.connect() as conn:
            row = await self._pile_row(conn, pile_id)
        return None if row is None else PileRecord.from_row(row)

    async def list_piles(
        self, *, station_id: str | None = None, online: bool | None = None
    ) -> list[PileRecord]:
        q = select(piles).order_by(piles.c.id)
        if station_id is not None:
            q = q.where(piles.c.station_id == station_id)
        if online is not None:
            q = q.where(piles.c.online == online)
        async with self.reader.connect() as conn:
            return [PileRecord.from_row(r) for r in (await conn.execute(q)).mappings()]

    async def firmware_history(self, pile_id: str) -> list[FirmwareSeen]:
        pile_id = normalize_pile_id(pile_id)
        q = (
            select(firmware_history.c.firmware, firmware_history.c.first_seen_ms)
            .where(firmware_history.c.pile_id == pile_id)
            .order_by(firmware_history.c.first_seen_ms, firmware_history.c.id)
        )
        async with self.reader.connect() as conn:
            return [FirmwareSeen(pile_id, fw, at) for fw, at in await conn.execute(q)]

    def touch(self, pile_id: str, at_ms: int) -> None:
        """Last-seen (heartbeat): kept in memory, written in one batch every interval."""
        if at_ms > self._touches.get(pile_id, -1):
            self._touches[pile_id] = at_ms

    def _submit_touches(self) -> None:
        if self._touches and not self.writer._closing:
            touches, self._touches = self._touches, {}
            self.writer.submit(Kind.TOUCH, touches)

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(self._touch_interval_s)
            self._submit_touches()

    async def _pile_row(self, conn: AsyncConnection, pile_id: str) -> Any:
        return (await conn.execute(select(piles).where(piles.c.id == pile_id))).mappings().first()

    async def _insert_pile(
        self,
        conn: AsyncConnection,
        pile_id: str,
        station_id: str | None,
        vendor: str,
        model: str,
        firmware: str,
        gun_count: int,
        enabled: bool,
        at_ms: int,
        *,
        online: bool = False,
    ) -> None:
        await conn.execute(
            insert(piles).values(
                id=pile_id,
                station_id=station_id,
                vendor=vendor,
                model=model,
                firmware=firmware,
                gun_count=gun_count,
                enabled=enabled,
                registered_at_ms=at_ms,
                last_login_ms=at_ms if online else None,
                last_seen_ms=at_ms if online else None,
                online=online,
            )
        )
        await conn.execute(
            insert(firmware_history).values(pile_id=pile_id, firmware=firmware, first_seen_ms=at_ms)
        )
        await self._ensure_guns(conn, pile_id, gun_count)

    async def _ensure_guns(self, conn: AsyncConnection, pile_id: str, gun_count: int) -> None:
        have = set(
            (await conn.execute(select(guns.c.gun).where(guns.c.pile_id == pile_id))).scalars()
        )
        rows = [
            {"pile_id": pile_id, "gun": n, "enabled": True}
            for n in range(1, gun_count + 1)
            if n not in have
        ]
        if rows:
            await conn.execute(insert(guns), rows)

    # --- accounts and the global active-service rule ----------------------------------

    async def add_account(
        self,
        account_id: str,
        *,
        balance_fen: int = 0,
        card_token: str | None = None,
        vin: str | None = None,
        password: str | None = None,
        enabled: bool = True,
        at_ms: int | None = None,
    ) -> AccountRecord:
        """Create an account (setup, demo, tests)."""
        if not isinstance(balance_fen, int):
            raise TypeError("balance_fen is integer fen")
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(accounts).values(
                    id=account_id,
                    card_token=card_token,
                    vin=vin,
                    password_hash=None if password is None else hash_password(password),
                    balance_fen=balance_fen,
                    enabled=enabled,
                    created_ms=self.clock() if at_ms is None else at_ms,
                )
            )
        return AccountRecord(
            account_id, balance_fen, enabled, card_token, vin, password is not None
        )

    async def find_account(
        self, channel: str | int, token: str, password: str | None = None
    ) -> AccountRecord | None:
        """The account a start presents: card -> by card token; vin -> by VIN; password ->
        account id `token` whose password matches; anything else (apps, operator) -> by
        account id. None when not found or the password is wrong. Disabled accounts are
        returned (enabled=False) so the caller can say why it refuses."""
        name = _channel_name(channel)
        column = {"card": accounts.c.card_token, "vin": accounts.c.vin}.get(name, accounts.c.id)
        async with self.reader.connect() as conn:
            r = (await conn.execute(select(accounts).where(column == token))).mappings().first()
        if r is None:
            return None
        if name == "password" and (
            password is None or not check_password(password, r["password_hash"])
        ):
            return None
        return AccountRecord(
            r["id"], r["balance_fen"], bool(r["enabled"]), r["card_token"], r["vin"],
            r["password_hash"] is not None,
        )  # fmt: skip

    async def claim_account(
        self, account_id: str, session_id: str, pile_id: str, gun: int, at_ms: int
    ) -> str | None:
        """Claim the account's one active service for session_id, atomically across all
        gateway instances. None: claimed (or already held by this session, whose claim is
        then renewed). Otherwise the id of the session that holds it. A stale claim (see
        stale_claims) in the way is released first, so a lost release cannot lock an
        account for good."""
        row = {
            "account_id": account_id,
            "session_id": session_id,
            "pile_id": pile_id,
            "gun": gun,
            "since_ms": at_ms,
        }
        svc = active_services.c
        for _ in range(5):  # a holder may release between our insert and our look
            async with self.engine.begin() as conn:
                stmt = self._insert(conn, active_services).values(row)
                stmt = stmt.on_conflict_do_nothing(index_elements=["account_id"])
                result = await conn.execute(stmt.returning(svc.account_id))
                if result.first() is not None:
                    return None
                holder = (
                    await conn.execute(select(svc.session_id).where(svc.account_id == account_id))
                ).scalar()
                if holder == session_id:  # a re-claim (a late charge): fresh again
                    await conn.execute(
                        update(active_services)
                        .where(svc.account_id == account_id)
                        .values(since_ms=at_ms, pile_id=pile_id, gun=gun)
                    )
                    return None
                if holder is not None:
                    stale = await conn.execute(
                        delete(active_services).where(
                            svc.account_id == account_id,
                            svc.session_id.in_(stale_claims(at_ms - STALE_CLAIM_AGE_MS)),
                        )
                    )
                    if stale.rowcount == 0:
                        return str(holder)
                    log.warning(
                        "stale account claim released: account %s, session %s",
                        account_id,
                        holder,
                    )
        raise RuntimeError(f"could not claim account {account_id}: contention")

    async def release_stale_claims(self, now_ms: int) -> int:
        """Release every stale claim (stale_claims); how many were released."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(active_services).where(
                    active_services.c.session_id.in_(stale_claims(now_ms - STALE_CLAIM_AGE_MS))
                )
            )
        return int(result.rowcount or 0)

    async def release_account(self, account_id: str, session_id: str) -> bool:
        """Release the claim if session_id holds it. False if it did not."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(active_services).where(
                    active_services.c.account_id == account_id,
                    active_services.c.session_id == session_id,
                )
            )
            return result.rowcount > 0

    async def active_service(self, account_id: str) -> ActiveService | None:
        async with self.reader.connect() as conn:
            r = (
                await conn.execute(
                    select(active_services).where(active_services.c.account_id == account_id)
                )
            ).first()
        return None if r is None else ActiveService(*r)

    async def active_services(self, pile_id: str | None = None) -> list[ActiveService]:
        q = select(active_services).order_by(active_services.c.since_ms)
        if pile_id is not None:
            q = q.where(active_services.c.pile_id == pile_id)
        async with self.reader.connect() as conn:
            return [ActiveService(*r) for r in await conn.execute(q)]

    # --- sessions ----------------------------------------------------------------------

    def record_session(self, row: SessionRow) -> None:
        """Upsert the session's row (fire-and-forget, ordered with its transitions)."""
        self.writer.submit(Kind.SESSION, row.to_row())

    def record_transition(
        self, session_id: str, from_state: str | None, to_state: str, reason: str, at_ms: int
    ) -> None:
        """Append a state change (fire-and-forget, never dropped, in submission order)."""
        self.writer.submit(
            Kind.TRANSITION,
            {
                "session_id": session_id,
                "from_state": None if from_state is None else str(from_state),
                "to_state": str(to_state),
                "reason": str(reason)[:200],
                "at_ms": at_ms,
            },
        )

    async def get_session(self, session_id: str) -> SessionRow | None:
        async with self.reader.connect() as conn:
            r = (
                (await conn.execute(select(sessions).where(sessions.c.id == session_id)))
                .mappings()
                .first()
            )
        return None if r is None else SessionRow.from_row(r)

    async def find_session(self, pile_id: str, transaction_id: str) -> SessionRow | None:
        q = select(sessions).where(
            sessions.c.pile_id == pile_id, sessions.c.transaction_id == transaction_id
        )
        async with self.reader.connect() as conn:
            r = (await conn.execute(q.order_by(sessions.c.updated_ms.desc()))).mappings().first()
        return None if r is None else SessionRow.from_row(r)

    async def transitions(self, session_id: str) -> list[TransitionRecord]:
        t = session_transitions
        q = (
            select(t.c.session_id, t.c.from_state, t.c.to_state, t.c.reason, t.c.at_ms)
            .where(t.c.session_id == session_id)
            .order_by(t.c.id)
        )
        async with self.reader.connect() as conn:
            return [TransitionRecord(*r) for r in await conn.execute(q)]

    async def open_sessions(self, pile_id: str | None = None) -> list[SessionRow]:
        """Sessions not settled, cancelled or failed (incl. closed ones awaiting their bill),
        for restart recovery. Reads committed rows: call flush() first in a live process."""
        pile_id = None if pile_id is None else normalize_pile_id(pile_id)
        q = select(sessions).where(sessions.c.state.not_in(TERMINAL_STATES))
        if pile_id is not None:
            q = q.where(sessions.c.pile_id == pile_id)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(q.order_by(sessions.c.updated_ms))).mappings()
            return [SessionRow.from_row(r) for r in rows]

    async def sessions_to_restore(self, pile_id: str, ended_limit: int) -> list[SessionRow]:
        """What a restart puts back on a pile's guns: its open sessions, plus its newest
        `ended_limit` cancelled or failed ones (a late bill or a late start still matches
        them, field cases 1, 2 and 6)."""
        s = sessions
        ended = (
            select(s)
            .where(s.c.pile_id == pile_id, s.c.state.in_(ENDED_EARLY_STATES))
            .order_by(s.c.updated_ms.desc())
            .limit(ended_limit)
        )
        async with self.reader.connect() as conn:
            rows = [SessionRow.from_row(r) for r in (await conn.execute(ended)).mappings()]
        return [*await self.open_sessions(pile_id), *rows]

    async def overlapping_sessions(
        self, account: str, session_id: str, start_ms: int, end_ms: int
    ) -> list[SessionRow]:
        """Other sessions of the account during which energy flowed at some time within
        [start_ms, end_ms): a charge the gateway saw, or one the pile drew after the gateway
        had ended the session (late_charge_*). Open-ended periods run until end_ms. Read from
        the database, so services on every gateway instance count (field case 2, code 7)."""
        s = sessions
        charge_end = func.coalesce(s.c.charge_end_ms, s.c.gateway_service_end_ms, end_ms)
        late_end = func.coalesce(s.c.late_charge_end_ms, end_ms)
        charged = and_(
            s.c.charge_start_ms.is_not(None), s.c.charge_start_ms < end_ms, charge_end > start_ms
        )
        charged_late = and_(
            s.c.late_charge_start_ms.is_not(None),
            s.c.late_charge_start_ms < end_ms,
            late_end > start_ms,
        )
        q = (
            select(s)
            .where(
                s.c.account == account,
                s.c.id != session_id,
                # the (account, authorised_ms) index: a service authorised after our end
                # cannot have charged within it
                s.c.authorised_ms < end_ms,
                or_(charged, charged_late),
            )
            .order_by(s.c.authorised_ms)
        )
        async with self.reader.connect() as conn:
            return [SessionRow.from_row(r) for r in (await conn.execute(q)).mappings()]

    async def closed_sessions_without_bill(self, older_than_ms: int) -> list[SessionRow]:
        """Closed sessions whose service ended before older_than_ms and that have no bill
        (by pile + transaction id or by session id): the lost-bill sweep."""
        s, b = sessions, bills
        ended = func.coalesce(s.c.gateway_service_end_ms, s.c.pile_service_end_ms, s.c.updated_ms)
        has_bill = exists().where(
            or_(
                and_(b.c.pile_id == s.c.pile_id, b.c.transaction_id == s.c.transaction_id),
                b.c.session_id == s.c.id,
            )
        )
        q = (
            select(s)
            .where(s.c.state == CLOSED_STATE, ended < older_than_ms, ~has_bill)
            .order_by(ended)
        )
        async with self.reader.connect() as conn:
            return [SessionRow.from_row(r) for r in (await conn.execute(q)).mappings()]

    # --- bills -------------------------------------------------------------------------

    async def store_bill(
        self,
        pile_id: str,
        bill: PileBill,
        settlement: Settlement,
        *,
        received_ms: int,
        session_id: str | None = None,
        flags: Iterable[str] = (),
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> StoredBill:
        """Store the bill, its lines and anomalies; return after the commit. A second copy
        (same pile + transaction id) is not stored again: StoredBill.duplicate is True and
        bill_id is the first copy's. Raises writer.WriteFailed if the commit failed.

        event: (topic, payload) for the outbox, committed in the bill's transaction and
        only if this copy was stored; its "bill_id" is set to the stored bill's id."""
        prepared = bill_store.prepare_bill(
            pile_id, bill, settlement, received_ms=received_ms, session_id=session_id, flags=flags
        )
        if event is not None:
            topic, payload = event
            payload = {**payload, "bill_id": prepared.bill_id}
            prepared.events.append(self._outbox_row(topic, payload, received_ms))
        return await self.writer.submit_bill(prepared)

    async def get_bill(self, bill_id: str) -> dict[str, Any] | None:
        async with self.reader.connect() as conn:
            r = (await conn.execute(select(bills).where(bills.c.id == bill_id))).mappings().first()
        return None if r is None else dict(r)

    async def find_bill(self, pile_id: str, transaction_id: str) -> dict[str, Any] | None:
        pile_id = normalize_pile_id(pile_id)
        q = select(bills).where(
            bills.c.pile_id == pile_id, bills.c.transaction_id == transaction_id
        )
        async with self.reader.connect() as conn:
            r = (await conn.execute(q)).mappings().first()
        return None if r is None else dict(r)

    async def bill_lines(self, bill_id: str) -> list[dict[str, Any]]:
        q = select(bill_lines).where(bill_lines.c.bill_id == bill_id).order_by(bill_lines.c.line_no)
        async with self.reader.connect() as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings()]

    async def count_bills(self, pile_id: str | None = None) -> int:
        q = select(func.count()).select_from(bills)
        if pile_id is not None:
            q = q.where(bills.c.pile_id == pile_id)
        async with self.reader.connect() as conn:
            return (await conn.execute(q)).scalar_one()

    async def correct_bill(
        self,
        bill_id: str,
        new_energy_dwh: int,
        reason: str,
        who: str,
        at_ms: int,
        *,
        refund_base_fen: int | None = None,
    ) -> Correction:
        """Operator correction (field case 12): our amounts recomputed for the new energy
        with the bill's tariff; the bill row is kept, an audit row written. Returns the
        old/new totals (energy + service, fen) and the refund. Raises BillNotFound."""
        async with self.engine.begin() as conn:
            tariff_id = (
                await conn.execute(select(bills.c.tariff_id).where(bills.c.id == bill_id))
            ).scalar()
            if tariff_id is None:
                raise bill_store.BillNotFound(bill_id)
            tariff = await bill_store.load_tariff(conn, tariff_id)
            if tariff is None:
                tariff = self.default_tariff
            return await bill_store.correct_bill(
                conn, bill_id, new_energy_dwh, reason=reason, who=who, at_ms=at_ms, tariff=tariff,
                refund_base_fen=refund_base_fen,
            )  # fmt: skip

    async def corrections(self, bill_id: str) -> list[dict[str, Any]]:
        c = bill_corrections
        q = select(c).where(c.c.bill_id == bill_id).order_by(c.c.id)
        async with self.reader.connect() as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings()]

    # --- anomalies ---------------------------------------------------------------------

    def record_anomaly(
        self,
        code: AnomalyCode | int | None,
        reason: str,
        *,
        at_ms: int,
        kind: str = "anomaly",
        pile_id: str | None = None,
        bill_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Open an anomaly (fire-and-forget, never dropped); returns its id at once."""
        anomaly_id = bill_store.new_id()
        self.writer.submit(
            Kind.ANOMALY,
            {
                "id": anomaly_id,
                "bill_id": bill_id,
                "session_id": session_id,
                "pile_id": pile_id,
                "kind": kind,
                "code": None if code is None else int(code),
                "reason": reason,
                "status": "open",
                "created_ms": at_ms,
                "resolved_ms": None,
                "resolved_by": None,
                "resolution": None,
            },
        )
        return anomaly_id

    async def resolve_anomaly(
        self, anomaly_id: str, *, at_ms: int, who: str, note: str | None = None
    ) -> bool:
        """Mark resolved and append to its history. False if unknown or already resolved."""
        return await self._set_anomaly_status(anomaly_id, "resolved", "open", at_ms, who, note)

    async def reopen_anomaly(
        self, anomaly_id: str, *, at_ms: int, who: str, note: str | None = None
    ) -> bool:
        return await self._set_anomaly_status(anomaly_id, "open", "resolved", at_ms, who, note)

    async def _set_anomaly_status(
        self, anomaly_id: str, status: str, was: str, at_ms: int, who: str, note: str | None
    ) -> bool:
        resolved = status == "resolved"
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(anomalies)
                .where(anomalies.c.id == anomaly_id, anomalies.c.status == was)
                .values(
                    status=status,
                    resolved_ms=at_ms if resolved else None,
                    resolved_by=who if resolved else None,
                    resolution=note if resolved else None,
                )
            )
            if result.rowcount == 0:
                return False
            await conn.execute(
                insert(anomaly_events).values(
                    anomaly_id=anomaly_id,
                    action="resolved" if resolved else "reopened",
                    at_ms=at_ms,
                    who=who,
                    note=note,
                )
            )
            return True

    async def anomalies(
        self,
        *,
        status: str | None = None,
        code: int | None = None,
        pile_id: str | None = None,
        bill_id: str | None = None,
        session_id: str | None = None,
        limit: int = 1000,
    ) -> list[AnomalyRecord]:
        a = anomalies
        q = _where_equal(
            select(a).order_by(a.c.created_ms, a.c.id).limit(limit),
            (a.c.status, status),
            (a.c.code, code),
            (a.c.pile_id, pile_id),
            (a.c.bill_id, bill_id),
            (a.c.session_id, session_id),
        )
        async with self.reader.connect() as conn:
            return [AnomalyRecord.from_row(r) for r in (await conn.execute(q)).mappings()]

    async def anomaly_history(self, anomaly_id: str) -> list[AnomalyEvent]:
        """Opened (from the anomaly row), then every resolve/reopen in order."""
        async with self.reader.connect() as conn:
            created = (
                await conn.execute(
                    select(anomalies.c.created_ms).where(anomalies.c.id == anomaly_id)
                )
            ).scalar()
            if created is None:
                return []
            e = anomaly_events
            rows = await conn.execute(
                select(e.c.action, e.c.at_ms, e.c.who, e.c.note)
                .where(e.c.anomaly_id == anomaly_id)
                .order_by(e.c.id)
            )
            return [
                AnomalyEvent(anomaly_id, "opened", created, None, None),
                *(AnomalyEvent(anomaly_id, *r) for r in rows),
            ]

    # --- tariffs and idle-fee rules ----------------------------------------------------

    async def put_tariff(self, tariff: Tariff, *, at_ms: int | None = None) -> None:
        """Assign a tariff to its scope from its effective_from_ms (defining its id on first
        use). Piles and stations already using the id keep it. Raises
        bill_store.TariffConflict if the id already names other prices."""
        async with self.engine.begin() as conn:
            await bill_store.assign_tariff(conn, tariff, self.clock() if at_ms is None else at_ms)
        self._tariff_cache.clear()

    async def put_idle_rule(
        self,
        scope_id: str,
        rule: IdleFeeRule,
        *,
        scope_kind: ScopeKind = ScopeKind.STATION,
        at_ms: int | None = None,
    ) -> None:
        """Create or replace the idle-fee rule of a pile, a station or the default (scope_id
        "")."""
        if scope_kind is ScopeKind.PILE:
            scope_id = normalize_pile_id(scope_id)
        elif scope_kind is ScopeKind.DEFAULT:
            scope_id = ""
        async with self.engine.begin() as conn:
            await bill_store.upsert_idle_rule(
                conn, scope_kind, scope_id, rule, self.clock() if at_ms is None else at_ms
            )
        self._tariff_cache.clear()

    async def idle_rules(self) -> list[tuple[ScopeKind, str, IdleFeeRule]]:
        """Every stored idle-fee rule: (scope kind, scope id, rule)."""
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(idle_fee_rules).order_by(
                        idle_fee_rules.c.scope_kind, idle_fee_rules.c.scope_id
                    )
                )
            ).mappings()
            return [
                (ScopeKind(r["scope_kind"]), r["scope_id"], bill_store.idle_rule_from_row(r))
                for r in rows
            ]

    async def _pricing(self, pile_id: str) -> tuple[list[Tariff], IdleFeeRule, IdleFeeScope]:
        pile_id = normalize_pile_id(pile_id)
        now = time.monotonic()
        hit = self._tariff_cache.get(pile_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2], hit[3]
        async with self.reader.connect() as conn:
            station = (
                await conn.execute(select(piles.c.station_id).where(piles.c.id == pile_id))
            ).scalar()
            scopes = [(ScopeKind.PILE, pile_id), (ScopeKind.DEFAULT, "")]
            if station is not None:
                scopes.insert(1, (ScopeKind.STATION, station))
            a = tariff_assignments
            tariff_scope = or_(
                *(and_(a.c.scope_kind == k.value, a.c.scope_id == i) for k, i in scopes)
            )
            # Assignment order: select_tariff gives equal start dates to the one set last.
            q = bill_store.ASSIGNED_TARIFFS.where(tariff_scope).order_by(
                a.c.effective_from_ms, a.c.id
            )
            rows = (await conn.execute(q)).mappings()
            found = [bill_store.tariff_from_row(r) for r in rows]
            rule_scope = or_(
                *(
                    and_(idle_fee_rules.c.scope_kind == k.value, idle_fee_rules.c.scope_id == i)
                    for k, i in scopes
                )
            )
            rule_rows = {
                (r["scope_kind"], r["scope_id"]): r
                for r in (await conn.execute(select(idle_fee_rules).where(rule_scope))).mappings()
            }
        if not found:
            found = [self.default_tariff]
        rule, rule_scope_used = self.default_idle_rule, IdleFeeScope(ScopeKind.DEFAULT, "", True)
        for kind, scope_id in scopes:  # most specific first
            row = rule_rows.get((kind.value, scope_id))
            if row is not None:
                rule = bill_store.idle_rule_from_row(row)
                rule_scope_used = IdleFeeScope(kind, scope_id, False)
                break
        self._tariff_cache[pile_id] = (now + self._tariff_cache_s, found, rule, rule_scope_used)
        return found, rule, rule_scope_used

    async def tariffs_for(self, pile_id: str) -> list[Tariff]:
        """Tariffs of the pile, of its station and the default ones (cached for
        tariff_cache_s); the built-in default tariff when none is stored at all."""
        return list((await self._pricing(pile_id))[0])

    async def tariff_for(self, pile_id: str, at_ms: int) -> Tariff:
        """The tariff in force for the pile at at_ms: the pile's own beats its station's, which
        beats a default one; each the latest effective by at_ms."""
        found = await self.tariffs_for(pile_id)
        station = next((t.scope_id for t in found if t.scope_kind is ScopeKind.STATION), "")
        chosen = _select_tariff(found, TariffScope(station, normalize_pile_id(pile_id)), at_ms)
        if chosen is None:  # all configured ones start later: the earliest one
            chosen = min(found, key=lambda t: t.effective_from_ms)
        return chosen

    async def idle_rule_for(self, pile_id: str) -> IdleFeeRule:
        """The idle-fee rule of the pile, else of its station, else the default rule."""
        return (await self._pricing(pile_id))[1]

    async def idle_rule_scope(self, pile_id: str) -> IdleFeeScope:
        """Where the pile's idle-fee rule comes from."""
        return (await self._pricing(pile_id))[2]

    # --- frame journal -----------------------------------------------------------------

    def journal(self, entry: JournalEntry) -> bool:
        """Keep a frame (fire-and-forget, held through a database outage, never dropped).
        Always True."""
        return self.writer.submit(Kind.JOURNAL, entry.to_row())

    async def frames(
        self,
        pile_id: str | None = None,
        *,
        transaction_id: str | None = None,
        session_id: str | None = None,
        gun: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        page: int = 1000,
    ) -> AsyncIterator[JournalEntry]:
        """Frames in time order (since <= at < until), streamed page by page (keyset)."""
        j = frame_journal
        base = _where_equal(
            select(j),
            (j.c.pile_id, pile_id),
            (j.c.transaction_id, transaction_id),
            (j.c.session_id, session_id),
            (j.c.gun, gun),
        )
        if since_ms is not None:
            base = base.where(j.c.at_ms >= since_ms)
        if until_ms is not None:
            base = base.where(j.c.at_ms < until_ms)
        after: tuple[int, int] | None = None
        while True:
            q = base
            if after is not None:
                q = q.where(
                    or_(j.c.at_ms > after[0], and_(j.c.at_ms == after[0], j.c.id > after[1]))
                )
            async with self.reader.connect() as conn:
                rows = (await conn.execute(q.order_by(j.c.at_ms, j.c.id).limit(page))).mappings()
                entries = [JournalEntry.from_row(r) for r in rows]
            for e in entries:
                yield e
            if len(entries) < page:
                return
            last = entries[-1]
            assert last.id is not None  # read back from the table: every row has its id
            after = (last.at_ms, last.id)

    async def purge_journal(self, older_than_ms: int, *, chunk: int = 10_000) -> int:
        """Delete journal frames older than older_than_ms (retention), in chunks."""
        j = frame_journal
        return await self._purge(j, j.c.at_ms < older_than_ms, chunk)

    async def purge_outbox(self, older_than_ms: int, *, chunk: int = 10_000) -> int:
        """Delete outbox rows published before older_than_ms; unpublished ones never."""
        o = outbox
        published = o.c.published_at_ms.is_not(None) & (o.c.published_at_ms < older_than_ms)
        return await self._purge(o, published, chunk)

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

    # --- outbox ------------------------------------------------------------------------

    def publish(self, topic: str, payload: Any, *, at_ms: int | None = None) -> None:
        """Queue a message for the MQTT publisher (fire-and-forget, never dropped)."""
        self.writer.submit(
            Kind.OUTBOX, self._outbox_row(topic, payload, self.clock() if at_ms is None else at_ms)
        )

    @staticmethod
    def _outbox_row(topic: str, payload: Any, at_ms: int) -> dict[str, Any]:
        return {
            "topic": topic,
            "payload": orjson.dumps(payload).decode(),
            "created_ms": at_ms,
            "published_at_ms": None,
        }

    async def outbox_pending(self, limit: int = 500) -> list[tuple[int, str, Any]]:
        """Unpublished messages, oldest first: (id, topic, payload)."""
        q = (
            select(outbox.c.id, outbox.c.topic, outbox.c.payload)
            .where(outbox.c.published_at_ms.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.reader.connect() as conn:
            return [(i, t, orjson.loads(p)) for i, t, p in await conn.execute(q)]

    async def outbox_published(self, ids: Iterable[int], at_ms: int) -> None:
        ids = list(ids)
        if ids:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(outbox).where(outbox.c.id.in_(ids)).values(published_at_ms=at_ms)
                )

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _insert(conn: AsyncConnection, table: Any) -> Any:
        return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
