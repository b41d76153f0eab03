"""The running gateway: servers, the piles it knows, storage wiring, sweeps, shutdown, the
configuration a pile is given at each login, and the operator command API (start, stop,
enable, disable, query_bills, set_tariff, set_idle_fee, time_sync)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from billing.anomalies import AnomalyCode
from billing.idle_fee import IdleFeeRule
from billing.records import PileBill
from billing.tariff import ScopeKind, Tariff
from gateway import commands
from gateway.adapters.ocpp16.server import OcppServer
from gateway.adapters.pilegate.connection import PileConnection
from gateway.adapters.pilegate.pile_auth import PileAuthenticator
from gateway.admin import live
from gateway.bills import store_bill
from gateway.commands import CommandResult
from gateway.config import GatewayConfig
from gateway.dialect import (
    BillVerdict,
    Command,
    JournalLine,
    LoginRefusal,
    LoginRefused,
    PileLink,
    PileLogin,
    QueryBills,
    SetAvailability,
    SetIdleFee,
    SetTariff,
    SyncTime,
    command_name,
)
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.recovery import restore
from gateway.runtime import PileRuntime
from gateway.storage import JournalEntry, SessionRow, Storage
from gateway.storage.pricing import TariffConflict
from gateway.tariffs import TARIFF_CONFLICT, login_tariffs
from gateway.tls import server_context
from gateway.transaction_ids import TransactionIds
from gateway.transports import TcpPileProtocol, WsPileProtocol
from protocol.pile_ids import canonical_pile_id
from sessions import (
    AccountClaimed,
    AlarmKind,
    RaiseAlarm,
    SessionConfig,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StatusConfirmed,
    step,
)

Clock = Callable[[], int]

#: How often each command of a pile's login configuration is sent when it goes unanswered.
LOGIN_CONFIG_ATTEMPTS = 3

#: How often account claims whose release was lost are looked for (Storage.stale_claims).
CLAIM_SWEEP_S = 60.0
T = TypeVar("T")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class PileInfo:
    pile_id: str
    station_id: str | None
    gun_count: int
    enabled: bool
    firmware: str = ""
    model: str = ""  # from LOGIN: selects the validation limits (config [limits])
    session_config: SessionConfig | None = None  # its dialect's rules; None: the gateway's


def session_config(config: GatewayConfig) -> SessionConfig:
    s = config.sessions
    return SessionConfig(
        start_timeout_ms=int(s.start_timeout_s * 1000),
        stop_not_honoured_reports=s.stop_not_honoured_reports,
        fault_confirm_samples=s.fault_confirm_samples,
        unplug_timeout_ms=int(s.finishing_timeout_s * 1000),
        bill_wait_ms=int(s.bill_wait_s * 1000),
        bill_lost_ms=int(s.bill_lost_s * 1000),
        offline_timeout_ms=int(s.offline_timeout_s * 1000),
    )


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        storage: Storage,
        clock: Clock = wall_clock_ms,
        time_scale: float = 1.0,
    ) -> None:
        self.config = config
        self.storage = storage
        self.now_ms = clock
        # With a faster clock (the demo runs an hour a minute), session timers run faster too.
        self.time_scale = time_scale
        self.loop = asyncio.get_running_loop()
        self.log = get_logger()
        self.metrics = Metrics()
        self.session_config = session_config(config)
        self.pile_auth = PileAuthenticator(config.piles, storage, clock, self.log)
        self.step = step
        # Strictly increasing within this gateway, on its clock (an injected one in tests).
        self.transaction_ids = TransactionIds()
        self.piles: dict[str, PileRuntime] = {}
        self.connections: set[PileConnection] = set()
        # Logins handled at once (each a few database round trips): a login storm queues
        # here, where a pile that gave up leaves the queue, not in the connection pool.
        self.login_slots = asyncio.Semaphore(config.database.pool_size)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._account_ops: dict[str, asyncio.Task[Any]] = {}  # the last queued per account
        self._servers: list[Any] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._wake_sweeper = asyncio.Event()  # set at stop: the sweep ends between rounds
        self.tcp_port = 0
        self.ws_port = 0
        self.ocpp: OcppServer | None = None  # OCPP 1.6J charge points (docs/ocpp.md)
        self.stopping = False
        # Northbound events go to the outbox (same group commit as the state they describe)
        # only when a broker is configured: with none, nobody would ever drain the table.
        self.events_enabled = bool(config.mqtt.url)
        # Back-pressure: while the rows held for an unreachable database are at their bound,
        # no pile connection is read (piles' frames wait in their TCP buffers).
        self.reading_held = False
        storage.on_backlog(self._storage_backlog)

    # --- servers ----------------------------------------------------------------------------

    async def start(self) -> None:
        server = self.config.server
        tls = server_context(server)  # TLS on both listeners when a certificate is set
        if self.config.ocpp.enabled:  # first: its schemas compile before any pile is let in
            self.ocpp = OcppServer(self, self.storage, self.config, self.log, self.now_ms)
            await self.ocpp.start(server.host, self.config.ocpp.port, tls)
        tcp = await self.loop.create_server(
            lambda: TcpPileProtocol(self), server.host, server.tcp_port, backlog=4096, ssl=tls
        )
        self._servers.append(tcp)
        self.tcp_port = tcp.sockets[0].getsockname()[1]
        if server.ws_enabled:
            ws = await self.loop.create_server(
                lambda: WsPileProtocol(self), server.host, server.ws_port, backlog=4096, ssl=tls
            )
            self._servers.append(ws)
            self.ws_port = ws.sockets[0].getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep())
        self.log.info(
            "gateway_started",
            tcp=f"{server.host}:{self.tcp_port}",
            ws=f"{server.host}:{self.ws_port}" if self.ws_port else None,
            ocpp=f"{server.host}:{self.ocpp.port}" if self.ocpp is not None else None,
            database=self.storage.dialect,
            tls=tls is not None,
            pile_auth=self.config.piles.auth,
            start_timeout_s=self.config.sessions.start_timeout_s,
        )

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting, finish and acknowledge what is in flight, flush, close."""
        if self.stopping:
            return
        self.stopping = True
        self.log.info("gateway_stopping", connections=len(self.connections))
        for server in self._servers:
            server.close()
        if self.ocpp is not None:
            await self.ocpp.stop()
        self._wake_sweeper.set()
        if self._sweeper is not None:
            # Let a sweep that is inside a database call finish it: a task cancelled there
            # leaves a pooled connection to be reset after the engine is gone.
            await asyncio.wait([self._sweeper], timeout=grace_s)
            self._sweeper.cancel()
        in_flight = [c._worker for c in self.connections if c._worker is not None]
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace_s)
        for conn in list(self.connections):
            conn.close("gateway shutting down")
        for pile in self.piles.values():
            pile.stop_timers()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for server in self._servers:
            if hasattr(server, "wait_closed"):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), grace_s)
        await self.storage.close()
        self.log.info("gateway_stopped")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    async def background_done(self, timeout: float = 5.0) -> None:
        """Wait for the background work spawned so far (account claims, stops, offline marks)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background_task_failed", error=repr(task.exception()))

    async def _sweep(self) -> None:
        """Close silent connections (3 missed heartbeats) and flush last-seen times."""
        interval = self.config.piles.heartbeat_interval_s
        period = min(5.0, interval / 2)
        retention_ms = self.config.database.journal_retention_days * 86_400_000
        next_purge = next_claims = 0.0
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_sweeper.wait(), period)
            if self.stopping:
                return
            now = self.loop.time()
            for conn in list(self.connections):
                if conn.pile is not None and now - conn.last_rx > 3 * interval:
                    conn.close(f"no heartbeat for {3 * interval} s")
            self._periodic_time_sync()
            try:
                if now >= next_claims:
                    next_claims = now + CLAIM_SWEEP_S
                    released = await self.storage.release_stale_claims(self.now_ms())
                    if released:
                        self.log.warning("stale_claims_released", claims=released)
                if now >= next_purge:
                    next_purge = now + 3600
                    await self.storage.purge_journal(self.now_ms() - retention_ms)
            except Exception:
                self.log.exception("sweep_failed")

    def _periodic_time_sync(self) -> None:
        """TIME_SYNC to each connected pile every piles.time_sync_interval_s (0: never)."""
        every_ms = self.config.piles.time_sync_interval_s * 1000
        if every_ms <= 0:
            return
        now = self.now_ms()
        for pile in self.piles.values():
            if pile.online and now - pile.time_synced_ms >= every_ms:
                pile.time_synced_ms = now
                self.spawn(self.time_sync(pile.pile_id, why="periodic"))

    def emit(self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None:
        """A northbound event on pilegate/v1/events/{pile_id}/{kind} (docs/mqtt.md)."""
        self.notify_live(kind, pile_id, payload, at_ms)
        message = self.event(kind, pile_id, payload, at_ms)
        if message is not None:
            self.storage.publish(*message, at_ms=at_ms)

    def notify_live(self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None:
        """The web console's live feed (in-process, nothing stored)."""
        live.broadcast(self, kind, pile_id, payload, at_ms)

    def event(
        self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int
    ) -> tuple[str, dict[str, Any]] | None:
        """(topic, body) of a northbound event, or None when events are off: for events
        that must commit in the transaction of what they describe (a bill)."""
        if not self.events_enabled:
            return None
        body = {"kind": kind, "pile_id": pile_id, "at_ms": at_ms, **payload}
        return f"pilegate/v1/events/{pile_id}/{kind}", body

    # --- connections ------------------------------------------------------------------------

    def connection_made(self, conn: PileConnection) -> None:
        if self.stopping:
            conn.close("gateway shutting down")
            return
        self.connections.add(conn)
        if self.reading_held:
            self._hold_reading(conn, True)

    def _storage_backlog(self, held: bool) -> None:
        self.reading_held = held
        self.log.warning(
            "pile_reading_paused" if held else "pile_reading_resumed",
            reason="storage backlog",
            held_rows=self.storage.stats.pending,
            connections=len(self.connections),
        )
        for conn in self.connections:
            self._hold_reading(conn, held)

    @staticmethod
    def _hold_reading(conn: PileConnection, held: bool) -> None:
        hold = getattr(conn.link, "hold_reading", None)
        if hold is not None:
            hold(held)

    def connection_lost(self, conn: PileConnection) -> None:
        self.connections.discard(conn)

    def pile_went_offline(self, pile: PileRuntime, reason: str) -> None:
        """Its link closed (and no newer one replaced it): its sessions are held, offline."""
        self._keep_meters(pile)
        now = self.now_ms()
        offline = functools.partial(self.storage.pile_offline, pile.pile_id, now)
        self.spawn(self.until_written("pile_offline", offline, pile_id=pile.pile_id))
        self.log.info("pile_offline", pile=pile.pile_id, reason=reason)
        self.emit("offline", pile.pile_id, {"reason": reason}, now)

    async def login(self, link: PileLink, login: PileLogin) -> PileRuntime | LoginRefused:
        """Let a pile in whose adapter has checked its credentials: record the login, and give
        the pile's runtime (its `PilePort`), or why not. The adapter answers the pile, then
        calls `connected` on the runtime."""
        running = self.piles.get(login.pile_id)
        old = running.connection if running is not None else None
        if (
            old is not None
            and old is not link
            and not old.closed
            and running is not None
            and running.login is not None
            and running.login.authenticated
            and not login.authenticated
        ):
            # While migrating (policy optional) an unsigned login is let in, but never in
            # place of a connection that proved it holds the pile's secret.
            return LoginRefused(
                LoginRefusal.AUTH_FAILED, "unsigned login while a signed one is live"
            )
        record = await self.storage.login_pile(
            login.pile_id,
            vendor=login.vendor,
            model=login.model,
            firmware=login.firmware,
            gun_count=login.gun_count,
            at_ms=self.now_ms(),
            auto_register=self.config.piles.auto_register,
        )
        if record is None:
            return LoginRefused(LoginRefusal.UNKNOWN_PILE, "unknown pile")
        self.metrics.logins += 1
        pile = self.piles.get(login.pile_id)
        if pile is None:
            info = PileInfo(
                record.pile_id,
                record.station_id,
                login.gun_count,
                record.enabled,
                login.firmware,
                login.model,
                login.session_config,
            )
            pile = PileRuntime(self, info)
            self.piles[login.pile_id] = pile
            rows = await self.storage.sessions_to_restore(
                login.pile_id, self.session_config.history_limit * login.gun_count
            )
            restored = restore(pile.guns, rows, record.seen_before_login_ms)
            if restored:
                pile.reschedule()
                self.log.info("sessions_restored", pile=login.pile_id, sessions=restored)
        else:
            pile.info.enabled = record.enabled
            pile.info.firmware = login.firmware
            pile.info.model = login.model
            pile.ensure_guns(login.gun_count)
        self.emit(
            "login",
            login.pile_id,
            {
                "vendor": login.vendor,
                "model": login.model,
                "firmware": login.firmware,
                "firmware_changed": record.firmware_changed,
                "guns": login.gun_count,
                "enabled": record.enabled,
                "authenticated": login.authenticated,
            },
            self.now_ms(),
        )
        old = pile.connection
        if old is not None and old is not link and not old.closed:
            self.log.warning("connection_replaced", pile=login.pile_id, new_peer=login.peer)
            old.close("replaced by a newer login of the same pile")
        return pile

    # --- configuration sent at every login ----------------------------------------------------

    def after_login(self, pile: PileRuntime, login: PileLogin) -> None:
        """The login has been answered: bring the pile up to date (docs/protocol.md §8.1)."""
        self.spawn(self._configure(pile, login.pile_time_ms))

    async def _configure(self, pile: PileRuntime, pile_time_ms: int | None) -> None:
        """TIME_SYNC if its clock drifted, then its enabled state, tariff(s) and idle-fee
        rule, each awaiting the pile's answer; what changed while it was offline arrives here.
        Each is read just before it is sent, so an operator's change made meanwhile is not
        overtaken by an older value."""
        conn = pile.connection
        pile.time_synced_ms = self.now_ms()
        if pile_time_ms is not None:
            drift_ms = pile_time_ms - self.now_ms()
            if abs(drift_ms) > self.config.piles.time_sync_drift_s * 1000:
                await self.time_sync(pile.pile_id, why="login", drift_ms=drift_ms)

        async def state() -> list[Command]:
            return [SetAvailability(0, pile.info.enabled)]

        async def tariffs() -> list[Command]:
            now = self.now_ms()
            found = await self.storage.tariffs_for(pile.pile_id)
            current = await self.storage.tariff_for(pile.pile_id, now)
            return [SetTariff(t) for t in login_tariffs(found, current, now)]

        async def idle_fee() -> list[Command]:
            return [SetIdleFee(await self.storage.idle_rule_for(pile.pile_id))]

        for read in (state, tariffs, idle_fee):
            for command in await read():
                # Each is idempotent: one the pile did not answer in time is sent again (a
                # busy pile would otherwise keep a stale tariff until its next login).
                for attempt in range(1, LOGIN_CONFIG_ATTEMPTS + 1):
                    if pile.connection is not conn or not pile.online:
                        return  # gone or replaced: the next login starts over
                    result = await pile.simple(command)
                    name = command_name(command)
                    self._command_done(name, pile.pile_id, 0, result, why="login", attempt=attempt)
                    if result.outcome is not commands.Outcome.TIMED_OUT:
                        break

    # --- storage facade used by connections and runtimes ------------------------------------

    def touch(self, pile_id: str, now_ms: int) -> None:
        self.storage.touch(pile_id, now_ms)

    def journal(self, pile_id: str, line: JournalLine) -> None:
        """One message in or out, as its adapter describes it (config database.journal)."""
        if not self.config.database.journal:
            return
        entry = JournalEntry(
            at_ms=self.now_ms(),
            pile_id=pile_id,
            direction=line.direction,
            seq=line.seq,
            msg_type=line.msg_type,
            type_name=line.type_name,
            hex=line.raw.hex(),
            fields=line.fields,
            gun=line.gun,
            transaction_id=line.transaction_id,
        )
        if not self.storage.journal(entry):
            self.metrics.journal_dropped += 1

    def session_changed(self, pile: PileRuntime, gun: int, t: SessionTransition) -> None:
        self.log.info(
            "session_transition",
            pile=pile.pile_id,
            gun=gun,
            session=t.session_id,
            from_phase=t.from_phase.value if t.from_phase else None,
            to_phase=t.to_phase.value,
            reason=t.reason,
        )
        self.storage.record_session(
            SessionRow.from_session(t.record, pile_id=pile.pile_id, gun=gun, at_ms=t.at_ms)
        )
        self.storage.record_transition(
            t.session_id,
            t.from_phase.value if t.from_phase else None,
            t.to_phase.value,
            t.reason,
            t.at_ms,
        )
        r = t.record
        self.emit(
            f"session_{t.to_phase.value}",
            pile.pile_id,
            {
                "gun": gun,
                "session_id": t.session_id,
                "transaction_id": r.transaction_id,
                "account": r.account,
                "channel": r.channel,
                "from_phase": t.from_phase.value if t.from_phase else None,
                "phase": t.to_phase.value,
                "reason": t.reason,
                "charge_start_ms": r.charge_start_ms,
                "charge_end_ms": r.charge_end_ms,
                "gateway_service_end_ms": r.gateway_service_end_ms,
                "pile_service_end_ms": r.pile_service_end_ms,
                "flags": sorted(f.value for f in r.flags),
            },
            t.at_ms,
        )

    def session_flagged(self, pile: PileRuntime, gun: int, f: SessionFlagged) -> None:
        self.log.warning(
            "session_flagged",
            pile=pile.pile_id,
            gun=gun,
            session=f.session_id,
            flags=sorted(x.value for x in f.flags),
        )
        self.storage.record_session(
            SessionRow.from_session(f.record, pile_id=pile.pile_id, gun=gun, at_ms=f.at_ms)
        )

    def _keep_meters(self, pile: PileRuntime) -> None:
        """Meter readings are not written with every report (the heartbeat path writes no
        row); when a pile goes away its live sessions' rows get the latest, so a restart
        meanwhile still knows the energy the gateway saw flow."""
        now = self.now_ms()
        for gun, state in pile.guns.items():
            s = state.live_session
            if s is not None and s.last_meter is not None:
                row = SessionRow.from_session(s, pile_id=pile.pile_id, gun=gun, at_ms=now)
                self.storage.record_session(row)

    def session_updated(self, pile: PileRuntime, gun: int, u: SessionUpdated) -> None:
        """Timer and alarm state a restart must find again (no log line: not an event)."""
        self.storage.record_session(
            SessionRow.from_session(u.record, pile_id=pile.pile_id, gun=gun, at_ms=u.at_ms)
        )

    def alarm(self, pile: PileRuntime, gun: int, alarm: RaiseAlarm, now_ms: int) -> None:
        self.metrics.alarms[alarm.kind.value] += 1
        self.log.warning(
            "alarm",
            pile=pile.pile_id,
            gun=gun,
            kind=alarm.kind.value,
            detail=alarm.detail,
            session=alarm.session_id,
        )
        self.emit(
            "alarm",
            pile.pile_id,
            {"gun": gun, "alarm": alarm.kind.value, "detail": alarm.detail,
             "session_id": alarm.session_id},
            now_ms,
        )  # fmt: skip
        if alarm.kind is AlarmKind.BILL_WAIT_TIMEOUT:
            # A closed service with no bill: code 1, or 2 when the pile is offline (field
            # cases); resolved, with its history, when the late bill arrives.
            code = AnomalyCode.BILL_LOST if pile.online else AnomalyCode.BILL_LOST_OFFLINE
            self.storage.record_anomaly(
                code,
                alarm.detail,
                at_ms=now_ms,
                pile_id=pile.pile_id,
                session_id=alarm.session_id,
            )
        self.storage.record_anomaly(
            None,
            f"gun {gun}: {alarm.detail}",
            at_ms=now_ms,
            kind=f"alarm:{alarm.kind.value}",
            pile_id=pile.pile_id,
            session_id=alarm.session_id,
        )

    def gun_status_changed(self, pile: PileRuntime, gun: int, change: StatusConfirmed) -> None:
        self.emit(
            "gun_status",
            pile.pile_id,
            {
                "gun": gun,
                "status": change.status.value,
                "previous": change.previous.value,
                "session_id": change.session_id,
            },
            change.at_ms,
        )

    # One account, one active service. Claims and releases are rows in the database (held
    # across gateway instances); within this process they run one after another per account,
    # in the order they were asked for on the event loop. So a claim the machine asks for when
    # a pile reports charging (a re-claim, field case 2) is in place before the claim of any
    # authorisation that reaches that point later, and a release queued before it cannot land
    # after it and free the account again.

    def _account_op(self, account: str, op: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        before = self._account_ops.get(account)

        async def in_turn() -> T:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own caller's business
            return await op()

        task = self.spawn(in_turn())
        self._account_ops[account] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._account_ops.get(account) is done:
                del self._account_ops[account]

        task.add_done_callback(forget)
        return task

    def claim_account_later(
        self, pile: PileRuntime, gun: int, claim: AccountClaimed, now_ms: int
    ) -> None:
        """Queue the claim at once (it is ordered now); nobody waits for its outcome."""
        # Energy is flowing on this account (a late charge): the claim must land, even
        # through an outage, so the account's next service is refused meanwhile.
        claim_op = functools.partial(
            self.storage.claim_account, claim.account, claim.session_id, pile.pile_id, gun, now_ms
        )
        claiming = self._account_op(
            claim.account,
            lambda: self.until_written(
                "account_claim", claim_op, account=claim.account, session=claim.session_id
            ),
        )

        def check(done: asyncio.Task[str | None]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            conflict = done.result()
            if conflict is not None and conflict != claim.session_id:
                self.log.warning(
                    "account_overlap",
                    pile=pile.pile_id,
                    gun=gun,
                    account=claim.account,
                    session=claim.session_id,
                    other_session=conflict,
                )

        claiming.add_done_callback(check)

    async def claim_account(
        self,
        account: str,
        session_id: str,
        pile: PileRuntime,
        gun: int,
        now_ms: int,
        *,
        channel: str | None = None,
    ) -> str | None:
        """Claim the account for a session; with `channel`, a session this claim opens,
        whose row commits with the claim (Storage.claim_account)."""
        return await self._claim(account, session_id, pile, gun, now_ms, channel)

    def _claim(
        self,
        account: str,
        session_id: str,
        pile: PileRuntime,
        gun: int,
        now_ms: int,
        channel: str | None,
    ) -> asyncio.Task[str | None]:
        opens = None
        if channel is not None:
            opens = SessionRow.authorised(
                session_id, transaction_id=session_id, pile_id=pile.pile_id, gun=gun,
                account=account, channel=channel, at_ms=now_ms,
            )  # fmt: skip
        claim = functools.partial(
            self.storage.claim_account, account, session_id, pile.pile_id, gun, now_ms,
            opens=opens,
        )  # fmt: skip
        return self._account_op(account, claim)

    def release_account(self, account: str, session_id: str, *, opened: bool = True) -> None:
        """Released once the database has it: a claim left behind would refuse the
        account's next service. opened=False: the claim's session never opened (refused
        after the claim); the row the claim wrote for it goes too."""
        release = functools.partial(
            self.storage.release_account, account, session_id, opened=opened
        )
        self._account_op(
            account,
            lambda: self.until_written(
                "account_release", release, account=account, session=session_id
            ),
        )

    async def until_written(self, what: str, op: Callable[[], Awaitable[T]], **ctx: Any) -> T:
        """Run a database write the gateway has decided to keep, retrying it (with back-off)
        through an outage until the database takes it or the gateway stops. The write must
        be idempotent. One still unwritten at shutdown is repaired at the next start (stale
        claims by the sweep; a pile's online flag at its next login)."""
        delay = 0.05
        for attempt in itertools.count():
            try:
                return await op()
            except Exception as exc:
                if self.stopping:
                    raise
                if attempt == 0:
                    self.log.warning(f"{what}_retrying", error=repr(exc)[:200], **ctx)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    async def find_account(self, channel: str, token: str, password: str) -> Any:
        return await self.storage.find_account(channel, token, password)

    async def account(self, account_id: str) -> Any:
        return await self.storage.find_account("operator", account_id)

    async def store_bill(self, pile: PileRuntime, bill: PileBill) -> BillVerdict | None:
        return await store_bill(self, pile, bill)

    # --- operator command API ---------------------------------------------------------------

    def _pile(self, pile_id: str) -> PileRuntime | None:
        return self.piles.get(pile_id)

    async def start_charge(
        self, pile_id: str, gun: int, account: str, channel: str = "operator"
    ) -> CommandResult:
        pile_id = canonical_pile_id(pile_id)
        pile = self._pile(pile_id)
        result = commands.OFFLINE if pile is None else await pile.start(gun, account, channel)
        return self._command_done("start", pile_id, gun, result)

    async def stop_charge(self, pile_id: str, gun: int) -> CommandResult:
        pile_id = canonical_pile_id(pile_id)
        pile = self._pile(pile_id)
        result = commands.OFFLINE if pile is None else await pile.stop(gun)
        return self._command_done("stop", pile_id, gun, result)

    async def set_enabled(self, pile_id: str, enabled: bool) -> CommandResult:
        """Recorded in the database at once; sent to the pile now when it is connected,
        otherwise as part of its next login (case 8): the outcome is then ``stored``."""
        pile_id = canonical_pile_id(pile_id)
        known = await self.storage.set_pile_enabled(pile_id, enabled)
        name = "enable" if enabled else "disable"
        if not known:
            return self._command_done(name, pile_id, 0, commands.rejected("unknown_pile"))
        pile = self._pile(pile_id)
        if pile is not None:
            pile.set_enabled(enabled)
        if pile is None or not pile.online:
            return self._command_done(name, pile_id, 0, commands.STORED)
        result = await pile.simple(SetAvailability(0, enabled))
        return self._command_done(name, pile_id, 0, result)

    async def query_bills(self, pile_id: str, gun: int = 0) -> CommandResult:
        pile_id = canonical_pile_id(pile_id)
        pile = self._pile(pile_id)
        result = commands.OFFLINE if pile is None else await pile.simple(QueryBills(gun))
        return self._command_done("query_bills", pile_id, gun, result)

    async def set_tariff(self, pile_id: str, tariff: Tariff) -> CommandResult:
        """Stored at once; sent now when the pile is connected, else at its next login."""
        pile_id = canonical_pile_id(pile_id)
        try:
            await self.storage.put_tariff(tariff)
        except TariffConflict as exc:  # the id already names other prices: nothing sent
            reason = f"{TARIFF_CONFLICT}: {exc}"
            return self._command_done("set_tariff", pile_id, 0, commands.rejected(reason))
        return await self._send_config(pile_id, SetTariff(tariff))

    async def set_idle_fee(self, pile_id: str, rule: IdleFeeRule) -> CommandResult:
        """The pile's own idle-fee rule: stored, sent now or at its next login."""
        pile_id = canonical_pile_id(pile_id)
        return (await self.set_idle_fee_rule(ScopeKind.PILE, pile_id, rule))[pile_id]

    async def set_idle_fee_rule(
        self, scope_kind: ScopeKind, scope_id: str, rule: IdleFeeRule
    ) -> dict[str, CommandResult]:
        """Store the rule of a pile, a station or the default, then send it to each connected
        pile whose rule it now is; {pile_id: result} (a pile scope always names its pile:
        ``stored`` when it is offline). Others get it at their next login."""
        if scope_kind is ScopeKind.PILE:
            scope_id = canonical_pile_id(scope_id)
        await self.storage.put_idle_rule(scope_id, rule, scope_kind=scope_kind)
        results: dict[str, CommandResult] = {}
        if scope_kind is ScopeKind.PILE:
            results[scope_id] = await self._send_config(scope_id, SetIdleFee(rule))
            return results
        for pile in list(self.piles.values()):
            if not pile.online:
                continue
            used = await self.storage.idle_rule_scope(pile.pile_id)
            if (used.scope_kind, used.scope_id) == (scope_kind, scope_id):
                results[pile.pile_id] = await self._send_config(pile.pile_id, SetIdleFee(rule))
        return results

    async def set_default_tariff(self, tariff: Tariff) -> dict[str, CommandResult]:
        """Store a default-scope tariff; send it to each connected pile it is now in force
        for (piles with no tariff of their own or of their station). Raises TariffConflict
        when the id already names other prices (nothing stored or sent)."""
        await self.storage.put_tariff(tariff)
        results: dict[str, CommandResult] = {}
        for pile in list(self.piles.values()):
            if not pile.online:
                continue
            tariffs = await self.storage.tariffs_for(pile.pile_id)
            if any(t.scope_kind is not ScopeKind.DEFAULT for t in tariffs):
                continue  # the pile's or its station's tariff wins
            results[pile.pile_id] = await self._send_config(pile.pile_id, SetTariff(tariff))
        return results

    async def _send_config(self, pile_id: str, command: Command) -> CommandResult:
        name = command_name(command)
        pile = self._pile(pile_id)
        if pile is None or not pile.online:
            return self._command_done(name, pile_id, 0, commands.STORED)
        return self._command_done(name, pile_id, 0, await pile.simple(command))

    async def time_sync(
        self, pile_id: str, *, why: str = "operator", drift_ms: int | None = None
    ) -> CommandResult:
        """TIME_SYNC now (docs/protocol.md §7.12); a clock cannot be set while offline."""
        pile_id = canonical_pile_id(pile_id)
        pile = self._pile(pile_id)
        if pile is None or not pile.online:
            return self._command_done("time_sync", pile_id, 0, commands.OFFLINE, why=why)
        pile.time_synced_ms = self.now_ms()
        result = await pile.simple(SyncTime(self.now_ms()))
        return self._command_done("time_sync", pile_id, 0, result, why=why, drift_ms=drift_ms)

    def _command_done(
        self, name: str, pile_id: str, gun: int, result: CommandResult, **context: Any
    ) -> Any:
        self.metrics.commands[f"{name}:{result.outcome.value}"] += 1
        self.log.info(
            "command",
            command=name,
            pile=pile_id,
            gun=gun,
            outcome=result.outcome.value,
            reason=result.reason,
            transaction=result.transaction_id,
            **{k: v for k, v in context.items() if v is not None},
        )
        return result

    def describe(self) -> dict[str, Any]:
        return {pile_id: pile.describe() for pile_id, pile in self.piles.items()}
