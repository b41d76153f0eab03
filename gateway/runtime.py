"""One pile as the gateway keeps it, connected or not: its guns' session machines, their timers,
and the carrying out of their actions.

A PileRuntime is the `PilePort` its dialect's adapter reports to, and it commands the pile only
through the adapter's `PileLink` (gateway/dialect.py): nothing here knows a dialect. It outlives
its connections: when a pile goes offline its sessions are held here and reconciled with the
first reports after it logs in again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from billing.records import PileBill
from gateway import commands
from gateway.commands import CommandResult
from gateway.dialect import (
    NOT_SUPPORTED,
    Authorisation,
    BillVerdict,
    Command,
    GunReport,
    PileLink,
    PileLogin,
    PilePort,
    QueryBills,
    Reply,
    StartService,
    StopService,
    check_channel,
    command_name,
)
from gateway.ports import BilledPile, RuntimePorts
from sessions import (
    AccountClaimed,
    AccountReleased,
    Action,
    AuthorisationRejected,
    Authorised,
    AvailabilityChanged,
    BillReceived,
    Disabled,
    Enabled,
    Event,
    GunState,
    MeterSample,
    PileLoggedIn,
    PileOffline,
    PileOnline,
    RaiseAlarm,
    Refusal,
    SendQueryBills,
    SendStartCharge,
    SendStopCharge,
    ServiceEnded,
    Session,
    SessionConfig,
    SessionError,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StartCommandAccepted,
    StartCommandRejected,
    StartCommandTimedOut,
    StartRequested,
    StatusConfirmed,
    StatusReported,
    StopAcknowledged,
    StopReason,
    StopRequested,
    Tick,
    UnmatchedBill,
    next_deadline,
    refusal,
)

MAX_SAMPLES = 2_000  # meter samples kept per session for the time-of-use split


@dataclass(slots=True)
class PileInfo:
    pile_id: str
    station_id: str | None
    gun_count: int
    enabled: bool
    firmware: str = ""
    model: str = ""  # from LOGIN: selects the validation limits (config [limits])
    session_config: SessionConfig | None = None  # its dialect's rules; None: the gateway's


class PileRuntime:
    def __init__(self, ports: RuntimePorts, info: PileInfo, log: Any) -> None:
        self.ports = ports
        self.now_ms = ports.clock
        self.pile_id = info.pile_id
        self.info = info
        self.guns: dict[int, GunState] = {}
        self.connection: PileLink | None = None
        self.login: PileLogin | None = None  # what the pile said at its latest accepted login
        self._timers: dict[int, tuple[int, asyncio.TimerHandle]] = {}
        self._reconcile: set[int] = set()  # guns whose first report since login is due
        self._commanding: set[int] = set()  # guns with an outstanding operator command
        # The session whose account _authorise() has just claimed itself: the machine's
        # AccountClaimed for it needs no second, later claim (which could land after the
        # session's release and hold the account with no session).
        self._claim_held: str | None = None
        self._stops: dict[int, asyncio.Task[Reply | None]] = {}  # latest STOP per gun
        self.samples: dict[str, list[tuple[int, int]]] = {}
        self.time_synced_ms = 0  # last TIME_SYNC (or login check), gateway clock
        self.log = log.bind(pile=info.pile_id)
        self.ensure_guns(info.gun_count)

    def ensure_guns(self, count: int) -> None:
        config = self.info.session_config or self.ports.session_config
        for gun in range(1, count + 1):
            if gun not in self.guns:
                self.guns[gun] = GunState(config=config, disabled=not self.info.enabled)

    @property
    def model(self) -> str:
        return self.info.model

    @property
    def online(self) -> bool:
        return self.connection is not None and not self.connection.closed

    # --- connection lifecycle ---------------------------------------------------------------

    def connected(self, link: PileLink, login: PileLogin) -> None:
        """The adapter answered the login: reachable through `link` from now on."""
        self.connection, self.login = link, login
        # Reachable from now on, whenever its first report comes (up to an interval later):
        # starts are possible at once, and that report reconciles the sessions held.
        self._reconcile = set(self.guns)
        now = self.now_ms()
        for gun in self.guns:
            self.feed(gun, PileLoggedIn(), now)
        self.ports.lifecycle.logged_in(self.pile_id, login)  # its state, tariff, ...

    def disconnected(self, link: PileLink, reason: str) -> None:
        if self.connection is not link:
            return  # replaced by a newer login: that one is the pile now
        self.connection = None
        now = self.now_ms()
        for gun in self.guns:
            self.feed(gun, PileOffline(), now)
        self.ports.effects.pile_offline(self.pile_id, self.guns, reason, self.now_ms())

    def has_gun(self, gun: int) -> bool:
        return gun in self.guns

    # --- what the pile reports -> events ------------------------------------------------------

    def reports(self, reports: Sequence[GunReport]) -> None:
        now = self.now_ms()
        for report in reports:
            if report.gun not in self.guns:
                self.log.warning("bad_gun_report", gun=report.gun, status=report.status.value)
                continue
            event: Event
            # Each gun's first report after a login reconciles it, whether the dialect
            # reports all guns at once (v1's heartbeat) or one at a time (YKC, OCPP).
            reconcile = report.gun in self._reconcile
            self._reconcile.discard(report.gun)
            if reconcile:
                event = PileOnline(report.status, report.fault_code, report.meter_dwh)
            else:
                event = StatusReported(
                    report.status, report.fault_code, report.meter_dwh, report.power_w, report.soc
                )
            self.feed(report.gun, event, now)
        self.ports.effects.touch(self.pile_id, now)

    def meter(
        self, gun: int, transaction_id: str, at_ms: int, meter_dwh: int,
        power_w: int | None, soc: int | None,
    ) -> None:  # fmt: skip
        self._sample(transaction_id, at_ms, meter_dwh)
        self.feed(gun, MeterSample(meter_dwh, power_w, soc))

    def service_ended(self, gun: int, pile_end_ms: int) -> None:
        now = self.now_ms()
        for each in list(self.guns) if gun == 0 else [gun]:
            state = self.guns.get(each)
            if state is not None and state.session is not None:
                self.feed(each, ServiceEnded(pile_end_ms), now)

    def _sample(self, transaction_id: str, at_ms: int, meter_dwh: int) -> None:
        samples = self.samples.setdefault(transaction_id, [])
        if len(samples) < MAX_SAMPLES and (not samples or samples[-1][0] < at_ms):
            samples.append((at_ms, meter_dwh))

    # --- the machine --------------------------------------------------------------------------

    def feed(self, gun: int, event: Event, now_ms: int | None = None) -> bool:
        """Apply one event to a gun's machine (now, unless `now_ms` says when); False when it
        could not be (logged)."""
        if now_ms is None:
            now_ms = self.now_ms()
        if gun not in self.guns:
            self.log.warning("unknown_gun", gun=gun, session_event=type(event).__name__)
            return False
        try:
            self.apply_or_raise(gun, event, now_ms)
        except SessionError as exc:
            self.log.warning(
                "impossible_transition",
                gun=gun,
                error=type(exc).__name__,
                detail=str(exc),
                session_event=type(event).__name__,
            )
            return False
        return True

    def apply_or_raise(self, gun: int, event: Event, now_ms: int) -> None:
        """Apply one event to a known gun's machine and carry out its actions; a SessionError
        (the event cannot be applied now) leaves the gun as it was."""
        state = self.guns[gun]
        new, actions = self.ports.step(state, event, now_ms)
        if new is state and not actions:
            return  # nothing changed (a steady heartbeat): the timer already matches
        self.guns[gun] = new
        for action in actions:
            try:
                self._execute(gun, action, now_ms)
            except Exception:
                self.log.exception("action_failed", gun=gun, action=type(action).__name__)
        self._schedule(gun, new, now_ms)

    def _schedule(self, gun: int, state: GunState, now_ms: int) -> None:
        deadline = next_deadline(state)
        current = self._timers.get(gun)
        if current is not None and current[0] == deadline:
            return
        if current is not None:
            current[1].cancel()
            del self._timers[gun]
        if deadline is not None:
            delay = max(0.0, (deadline - now_ms) / 1000 / self.ports.time_scale)
            self._timers[gun] = (deadline, self.ports.scheduler.call_later(delay, self._tick, gun))

    def reschedule(self) -> None:
        """Arm every gun's timer from its state (after sessions were restored)."""
        now = self.now_ms()
        for gun, state in self.guns.items():
            self._schedule(gun, state, now)

    def _tick(self, gun: int) -> None:
        self._timers.pop(gun, None)
        self.feed(gun, Tick(), self.now_ms())

    def stop_timers(self) -> None:
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _execute(self, gun: int, action: Action, now_ms: int) -> None:
        effects, pile_id = self.ports.effects, self.pile_id
        if isinstance(action, SessionTransition):
            effects.session_changed(pile_id, gun, action)
        elif isinstance(action, SessionFlagged):
            effects.session_flagged(pile_id, gun, action)
        elif isinstance(action, SessionUpdated):
            effects.session_updated(pile_id, gun, action)
        elif isinstance(action, SendStopCharge):
            self._send_stop(gun, action)
        elif isinstance(action, SendStartCharge):
            pass  # sent by start(), which awaits the pile's acknowledgement itself
        elif isinstance(action, SendQueryBills):
            if self.connection is not None:
                self.log.info("query_bills", gun=gun, transactions=list(action.transaction_ids))
                timeout = self.ports.command_timeout_s
                self.ports.scheduler.spawn(self.connection.command(QueryBills(gun), timeout))
        elif isinstance(action, RaiseAlarm):
            effects.alarm(pile_id, self.online, gun, action, now_ms)
        elif isinstance(action, AccountClaimed):
            if action.session_id != self._claim_held:
                self.ports.accounts.claim_later(pile_id, gun, action, now_ms)
        elif isinstance(action, AccountReleased):
            self.ports.accounts.release(action.account, action.session_id)
        elif isinstance(action, StatusConfirmed):
            self.log.info(
                "gun_status",
                gun=gun,
                status=action.status.value,
                previous=action.previous.value,
                session=action.session_id,
            )
            effects.gun_status_changed(pile_id, gun, action)
        elif isinstance(action, AvailabilityChanged):
            self.log.info(
                "gun_availability",
                gun=gun,
                availability=action.availability.value,
                previous=action.previous.value,
            )
        elif isinstance(action, UnmatchedBill):
            self.log.info("bill_unmatched", gun=gun, transaction=action.transaction_id)

    def _send_stop(self, gun: int, action: SendStopCharge) -> None:
        conn = self.connection
        if conn is None or conn.closed:
            self.log.warning("stop_not_sent_offline", gun=gun, reason=action.reason)
            return
        self.log.info(
            "stop_charge", gun=gun, transaction=action.transaction_id, reason=action.reason
        )
        command = StopService(gun, action.transaction_id, action.reason)

        async def send() -> Reply | None:
            reply = await conn.command(command, self.ports.command_timeout_s)
            if reply is not None and reply.accepted:
                self.feed(gun, StopAcknowledged(), self.now_ms())
            return reply

        self._stops[gun] = self.ports.scheduler.spawn(send())

    # --- authorisation and bills ---------------------------------------------------------------

    def _refusal(self, gun: int, *, own_command: bool = False) -> Refusal | None:
        """Why a new service cannot start on this gun now, or None (sessions.refusal)."""
        return refusal(
            self.guns.get(gun),
            pile_enabled=self.info.enabled,
            command_in_progress=gun in self._commanding and not own_command,
        )

    async def _authorise(
        self, gun: int, account: str, channel: str, *, own_command: bool = False
    ) -> tuple[str, None] | tuple[None, Refusal]:
        """Claim the account and open a session: (transaction id, None) or (None, why not)."""
        now = self.now_ms()
        numbering = self.login.transaction_ids if self.login is not None else None
        transaction_id = numbering(gun, now) if numbering else self.ports.new_transaction_id(now)
        conflict = await self.ports.accounts.claim(
            account, transaction_id, self.pile_id, gun, now, channel=channel
        )
        if conflict is not None:
            self.log.warning("account_busy", gun=gun, account=account, held_by=conflict)
            return None, Refusal.ACCOUNT_BUSY
        # From here on the claim is released unless a session now holds it, whatever happens.
        held = False
        try:
            refused = self._refusal(gun, own_command=own_command)  # the claim awaited the db
            if refused is None:
                event = Authorised(transaction_id, transaction_id, account, channel)
                self._claim_held = transaction_id
                refused = self._open_session(gun, event, now)
            held = refused is None
        finally:
            self._claim_held = None
            if not held:
                self.ports.accounts.release(account, transaction_id, opened=False)
        if refused is not None:
            return None, refused
        return transaction_id, None

    def _open_session(self, gun: int, event: Authorised, now_ms: int) -> Refusal | None:
        """Apply Authorised; the machine's own refusal (the same rule) if it refuses."""
        try:
            self.apply_or_raise(gun, event, now_ms)
        except AuthorisationRejected as exc:
            self.log.info("authorisation_refused_by_machine", gun=gun, reason=exc.reason.value)
            return exc.reason
        return None

    async def authorise(self, gun: int, channel: str, token: str, password: str) -> Authorisation:
        """An authorisation the pile asks for (a card, a password, ...): a session opened on
        the account, or why not."""
        refused = self._refusal(gun)
        if refused is None:
            account = await self.ports.accounts.find(channel, token, password)
            if account is None:
                refused = Refusal.UNKNOWN_ACCOUNT
            elif not account.enabled:
                refused = Refusal.ACCOUNT_DISABLED
            else:
                transaction_id, refused = await self._authorise(gun, account.account_id, channel)
                if transaction_id is not None:
                    self.log.info(
                        "authorised_at_pile",
                        gun=gun,
                        account=account.account_id,
                        transaction=transaction_id,
                        channel=channel,
                    )
                    return Authorisation(
                        transaction_id, account.account_id, account.balance_fen, None
                    )
        assert refused is not None
        self.log.info("authorisation_refused", gun=gun, reason=refused.value, token=token)
        return Authorisation(None, None, 0, refused)

    async def bill(self, bill: PileBill) -> BillVerdict | None:
        """Store the bill; the verdict to answer with, None when it could not be committed."""
        return await self.ports.bills.store(self, bill)

    def bill_committed(self, bill: PileBill) -> None:
        state = self.guns.get(bill.gun)
        if state is not None and bill.transaction_id:
            self.feed(bill.gun, BillReceived(bill.transaction_id), self.now_ms())
        self.samples.pop(bill.transaction_id, None)

    def session_for(self, gun: int, transaction_id: str) -> Session | None:
        state = self.guns.get(gun)
        if state is not None and transaction_id:
            found = state.find(transaction_id=transaction_id)
            if found is not None:
                return found
        for other in self.guns.values():
            found = other.find(transaction_id=transaction_id) if transaction_id else None
            if found is not None:
                return found
        return None

    # --- operator commands ----------------------------------------------------------------------

    async def start(self, gun: int, account_id: str, channel: str = "operator") -> CommandResult:
        if not self.online:
            return commands.OFFLINE
        check_channel(channel)
        refused = self._refusal(gun)
        if refused is not None:
            return commands.rejected(refused)
        account = await self.ports.accounts.by_id(account_id)
        if account is None:
            return commands.rejected(Refusal.UNKNOWN_ACCOUNT)
        if not account.enabled:
            return commands.rejected(Refusal.ACCOUNT_DISABLED)
        self._commanding.add(gun)
        try:
            transaction_id, refused = await self._authorise(
                gun, account_id, channel, own_command=True
            )
            if transaction_id is None:
                assert refused is not None  # _authorise: exactly one of the two is None
                return commands.rejected(refused)
            now = self.now_ms()
            self.feed(gun, StartRequested(), now)
            conn = self.connection
            if conn is None:
                self.feed(gun, StartCommandTimedOut(), self.now_ms())
                return commands.OFFLINE
            command = StartService(gun, transaction_id, account_id, channel, account.balance_fen)
            self.log.info("start_charge", gun=gun, account=account_id, transaction=transaction_id)
            reply = await conn.command(command, self.ports.command_timeout_s)
            now = self.now_ms()
            if reply is None:
                self.feed(gun, StartCommandTimedOut(), now)
                result = commands.OFFLINE if conn.closed else commands.TIMED_OUT
                return commands.CommandResult(result.outcome, result.reason, transaction_id)
            if not reply.accepted:
                self.feed(gun, StartCommandRejected(reply.status), now)
                return commands.rejected(reply.status, transaction_id)
            self.feed(gun, StartCommandAccepted(), now)
            return commands.accepted(transaction_id)
        finally:
            self._commanding.discard(gun)

    async def stop(self, gun: int) -> CommandResult:
        state = self.guns.get(gun)
        if state is None:
            return commands.rejected("unknown_gun")
        session = state.live_session
        if session is None:
            return commands.rejected("no_live_session")
        if not self.online:
            return commands.OFFLINE
        self._stops.pop(gun, None)
        if not self.feed(gun, StopRequested(StopReason.OPERATOR), self.now_ms()):
            return commands.rejected("stop_not_possible_now", session.transaction_id)
        sent = self._stops.get(gun)
        if sent is None:
            state = self.guns[gun]
            if state.live_session is not None and state.live_session.stop_sent_ms is not None:
                # A stop is already out; the machine re-sends it on its own schedule.
                return commands.rejected("stop_already_sent", session.transaction_id)
            return commands.accepted(session.transaction_id)  # ended without a pile command
        reply = await sent
        tx = session.transaction_id
        if reply is None:
            result = commands.OFFLINE if not self.online else commands.TIMED_OUT
            return commands.CommandResult(result.outcome, result.reason, tx)
        if not reply.accepted:
            return commands.rejected(reply.status, tx)
        return commands.accepted(tx)

    async def simple(self, command: Command) -> CommandResult:
        """A command other than start and stop (availability, bills, tariff, idle fee, time):
        send it and await the pile's answer."""
        conn = self.connection
        if conn is None or conn.closed:
            return commands.OFFLINE
        reply = await conn.command(command, self.ports.command_timeout_s)
        if reply is None:
            return commands.OFFLINE if conn.closed else commands.TIMED_OUT
        if not reply.accepted:
            if reply is NOT_SUPPORTED:
                self.log.info("command_not_supported", command=command_name(command))
            return commands.rejected(reply.status)
        return commands.accepted()

    def set_enabled(self, enabled: bool) -> None:
        self.info.enabled = enabled
        now = self.now_ms()
        for gun in self.guns:
            self.feed(gun, Enabled() if enabled else Disabled(), now)

    def describe(self) -> dict[str, Any]:
        guns = {}
        for gun, state in self.guns.items():
            s = state.session
            guns[gun] = {
                "availability": state.availability.value,
                "reported": state.reported.value,
                "session": None
                if s is None
                else {
                    "transaction_id": s.transaction_id,
                    "phase": s.phase.value,
                    "account": s.account,
                    "since_ms": s.phase_since_ms,
                },
            }
        return {
            "pile_id": self.pile_id,
            "online": self.online,
            "enabled": self.info.enabled,
            "guns": guns,
        }


if TYPE_CHECKING:

    def _is_a_pile_port(runtime: PileRuntime) -> PilePort:
        return runtime  # mypy checks that the runtime keeps the contract of gateway/dialect.py

    def _is_a_billed_pile(runtime: PileRuntime) -> BilledPile:
        return runtime
