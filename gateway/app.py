"""The running gateway: it composes the parts (gateway/ports.py says which part a pile's runtime
is given), runs the servers, the sweeps and the shutdown, lets piles in, brings a pile's
configuration up to date at each login, and serves the operator command API (start, stop,
enable, disable, query_bills, set_tariff, set_idle_fee, time_sync)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from billing.idle_fee import IdleFeeRule
from billing.tariff import ScopeKind, Tariff
from gateway import commands
from gateway.accounts import AccountClaims
from gateway.adapters.ocpp16.server import OcppServer
from gateway.adapters.pilegate.host import PilegateAdapter
from gateway.adapters.pilegate.pile_auth import PileAuthenticator
from gateway.adapters.sniffing import tcp_opening
from gateway.adapters.ykc.gateway_host import GatewayYkcHost
from gateway.background import Background
from gateway.bills import BillDesk
from gateway.commands import CommandResult
from gateway.config import GatewayConfig
from gateway.dialect import (
    Command,
    Connection,
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
from gateway.effects import SessionEffects
from gateway.events import Northbound
from gateway.frame_journal import FrameJournal
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.ports import RuntimePorts
from gateway.recovery import restore
from gateway.runtime import PileInfo, PileRuntime
from gateway.storage import Storage
from gateway.storage.pricing import TariffConflict
from gateway.tariffs import TARIFF_CONFLICT, login_tariffs
from gateway.tls import server_context
from gateway.transaction_ids import TransactionIds
from gateway.transports import TcpPileProtocol, WsPileProtocol
from protocol.pile_ids import canonical_pile_id
from sessions import SessionConfig, step

__all__ = ["Gateway", "PileInfo", "session_config", "wall_clock_ms"]

Clock = Callable[[], int]

#: How often each command of a pile's login configuration is sent when it goes unanswered.
LOGIN_CONFIG_ATTEMPTS = 3

#: How often account claims whose release was lost are looked for (Storage.stale_claims).
CLAIM_SWEEP_S = 60.0


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


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
        # Strictly increasing within this gateway, on its clock (an injected one in tests).
        self.transaction_ids = TransactionIds()
        self.piles: dict[str, PileRuntime] = {}
        self.connections: set[Connection] = set()  # every dialect's, logged in or not
        # Logins handled at once (each a few database round trips): a login storm queues
        # here, where a pile that gave up leaves the queue, not in the connection pool.
        self.login_slots = asyncio.Semaphore(config.database.pool_size)
        # The parts the piles' runtimes and the adapters are given (gateway/ports.py).
        self.background = Background(self.loop, self.log)
        # Northbound events go to the outbox (same group commit as the state they describe)
        # only when a broker is configured: with none, nobody would ever drain the table.
        self.northbound = Northbound(storage, bool(config.mqtt.url), live_owner=self)
        self.accounts = AccountClaims(storage, self.background, self.log)
        self.effects = SessionEffects(
            storage, self.northbound, self.background, self.metrics, self.log
        )
        self.bill_desk = BillDesk(
            storage, clock, self.northbound, self.metrics, config.limits, self.log
        )
        self.frame_journal = FrameJournal(storage, clock, config.database.journal, self.metrics)
        self.runtime_ports = RuntimePorts(
            clock=clock,
            scheduler=self.background,
            step=step,
            effects=self.effects,
            accounts=self.accounts,
            bills=self.bill_desk,
            lifecycle=self,
            new_transaction_id=self.transaction_ids.new,
            session_config=self.session_config,
            command_timeout_s=config.piles.command_timeout_s,
            time_scale=time_scale,
        )
        # What the adapters call on the gateway, kept by the parts above.
        self.spawn = self.background.spawn
        self.emit = self.northbound.emit
        self.journal = self.frame_journal.write
        self.find_account = self.accounts.find
        # Protocol v1: its connections, with its LOGIN MAC policy (one adapter, one policy).
        self.pilegate = PilegateAdapter(
            self, PileAuthenticator(config.piles, storage, clock, self.log)
        )
        # YKC shares v1's TCP port: a sniffer hands each connection to the one it speaks
        # (gateway/adapters/sniffing.py); with ykc.enabled = false every one is v1's.
        self.ykc = GatewayYkcHost(self, storage, self.effects.touch) if config.ykc.enabled else None
        self.tcp_opening = tcp_opening(
            self.pilegate, self.ykc.connection if self.ykc is not None else None
        )
        self.ocpp: OcppServer | None = None  # OCPP 1.6J charge points (docs/ocpp.md)
        self._servers: list[Any] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._wake_sweeper = asyncio.Event()  # set at stop: the sweep ends between rounds
        self.tcp_port = 0
        self.ws_port = 0
        self.stopping = False
        # Back-pressure: while the rows held for an unreachable database are at their bound,
        # no pile connection is read (piles' frames wait in their TCP buffers).
        self.reading_held = False
        storage.on_backlog(self._storage_backlog)

    # --- servers ----------------------------------------------------------------------------

    async def start(self) -> None:
        server = self.config.server
        tls = server_context(server)  # TLS on every listener when a certificate is set
        if self.config.ocpp.enabled:  # first: its schemas compile before any pile is let in
            self.ocpp = OcppServer(self, self.storage, self.config, self.log, self.now_ms)
            await self.ocpp.start(server.host, self.config.ocpp.port, tls)
        tcp = await self.loop.create_server(
            lambda: TcpPileProtocol(self.pilegate, self.tcp_opening),
            server.host,
            server.tcp_port,
            backlog=4096,
            ssl=tls,
        )
        self._servers.append(tcp)
        self.tcp_port = tcp.sockets[0].getsockname()[1]
        if server.ws_enabled:
            ws = await self.loop.create_server(
                lambda: WsPileProtocol(self.pilegate),
                server.host,
                server.ws_port,
                backlog=4096,
                ssl=tls,
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
        self.stopping = self.background.stopping = True
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
        in_flight = [w for c in self.connections if (w := c.in_flight()) is not None]
        if in_flight:
            await asyncio.wait([asyncio.ensure_future(w) for w in in_flight], timeout=grace_s)
        for conn in list(self.connections):
            conn.close("gateway shutting down")
        for pile in self.piles.values():
            pile.stop_timers()
        await self.background.wait(grace_s)
        for server in self._servers:
            if hasattr(server, "wait_closed"):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), grace_s)
        await self.storage.close()
        self.log.info("gateway_stopped")

    async def background_done(self, timeout: float = 5.0) -> None:
        """Wait for the background work spawned so far (account claims, stops, offline marks)."""
        await self.background.done(timeout)

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
            self.close_silent(now)
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

    def close_silent(self, now: float) -> None:
        """Close each logged-in connection, whatever its dialect, silent for longer than its
        limit (three heartbeat intervals)."""
        default = 3 * self.config.piles.heartbeat_interval_s
        for conn in list(self.connections):
            silent_since = conn.silent_since()
            if silent_since is None:
                continue
            limit = conn.silence_limit_s() or default
            if now - silent_since > limit:
                conn.close(f"no heartbeat for {limit:g} s")

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

    # --- connections ------------------------------------------------------------------------

    def connection_made(self, conn: Connection) -> None:
        if self.stopping:
            conn.close("gateway shutting down")
            return
        self.connections.add(conn)
        if self.reading_held:
            conn.hold_reading(True)

    def _storage_backlog(self, held: bool) -> None:
        self.reading_held = held
        self.log.warning(
            "pile_reading_paused" if held else "pile_reading_resumed",
            reason="storage backlog",
            held_rows=self.storage.stats.pending,
            connections=len(self.connections),
        )
        for conn in self.connections:
            conn.hold_reading(held)

    def connection_lost(self, conn: Connection) -> None:
        self.connections.discard(conn)

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
            pile = PileRuntime(self.runtime_ports, info, self.log)
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

    def logged_in(self, pile_id: str, login: PileLogin) -> None:
        """The login has been answered: bring the pile up to date (docs/protocol.md §8.1)."""
        pile = self.piles.get(pile_id)
        if pile is not None:
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
