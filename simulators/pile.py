"""A charging pile as a pure, clock-injected model: no I/O, no clock reads.

The connection layer (``simulators.client``) owns the clock and the socket. It calls
``tick(now_ms)`` whenever it wakes (at ``next_due_ms()`` at the latest), hands every gateway
message to ``on_message(msg, now_ms)`` (commands return the ``CommandAck`` to send with the
command's seq), builds ``login``/``heartbeat`` frames from here, and sends what ``drain()``
returns as new requests. Every state change is stamped with the time it was *due*, not the
time the model happened to be ticked, so timestamps and bills are exact whatever the jitter.

A gun's service: car arrives (PREPARING) -> card or password at the pile (AUTH_REQUEST) ->
AUTH_RESULT gives the transaction id -> car handshake of a few seconds -> START_RESULT,
CHARGING, VIN, METER_VALUES -> SOC target, driver, limit or gateway stop (STOP_RESULT,
FINISHING) -> idle time -> unplug (LOGOUT, AVAILABLE) and the bill, kept in the pending-bill
store until the gateway acknowledges it. Remote starts (START_CHARGE) plug a car in when the
gun is free.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol.pilegate.codes import (
    Channel,
    FaultCode,
    GunStatus,
    Result,
    StopReason,
)
from protocol.pilegate.fields import normalize_pile_id
from protocol.pilegate.messages import (
    SOC_UNKNOWN,
    AuthRequest,
    AuthResult,
    Bill,
    BillAck,
    CommandAck,
    Disable,
    Enable,
    GunReport,
    Heartbeat,
    Login,
    Logout,
    Message,
    MeterValues,
    QueryBills,
    SetIdleFee,
    SetTariff,
    StartCharge,
    StartResult,
    StatusChange,
    StopCharge,
    StopResult,
    TimeSync,
    Vin,
)
from simulators import accounts
from simulators.bill_store import BillStore
from simulators.charge import Car, ChargeProcess
from simulators.faults import Faults
from simulators.tariff import (
    DEFAULT_TARIFF,
    KINDS,
    NO_IDLE_FEE,
    IdleRule,
    PileTariff,
    TariffInvalid,
    price_energies,
)

SECOND = 1_000
MINUTE = 60 * SECOND
PROTOCOL_VERSION = 1

# Phases of a gun (what it waits for next).
IDLE = "idle"  # free; a car arrives at due_ms (auto mode)
PLUGGED = "plugged"  # car plugged, driver about to swipe (or waiting for an app start)
AUTHORISING = "authorising"  # AUTH_REQUEST sent, waiting for AUTH_RESULT
STARTING = "starting"  # authorised, car handshake until due_ms
CHARGING = "charging"
FINISHING = "finishing"  # charge over, car still plugged until due_ms
LEAVING = "leaving"  # no service; car leaves at due_ms
ROGUE_WAIT = "rogue_wait"  # unauthorised_charge: energy starts at due_ms without a session
DISABLED = "disabled"


@dataclass(slots=True)
class PileCounters:
    sessions_started: int = 0  # START_RESULT OK sent
    sessions_completed: int = 0  # unplugged after a service
    start_failures: int = 0
    bills_created: int = 0
    bills_lost: int = 0  # never stored (never_sends_bill, old firmware)
    faults_injected: int = 0


@dataclass(slots=True)
class Session:
    transaction_id: str
    channel: int
    account: str
    authorised_ms: int
    tariff: PileTariff
    remote: bool = False
    charge_start_ms: int = 0
    charge_end_ms: int = 0
    meter_start_dwh: int = 0
    stop_reason: int = StopReason.NONE
    vin: str = ""
    vin_due_ms: int | None = None
    meter_due_ms: int | None = None
    fault_due_ms: int | None = None
    user_stop_ms: int | None = None
    start_failed: bool = False
    unauthorised: bool = False
    stop_ignored: bool = False
    limit_energy_dwh: int = 0
    limit_amount_fen: int = 0
    limit_minutes: int = 0


@dataclass(slots=True)
class Gun:
    no: int
    meter_dwh: int
    status: int = GunStatus.AVAILABLE
    fault_code: int = FaultCode.NONE
    phase: str = IDLE
    due_ms: int | None = None
    auth_mode: str = "card"  # card | password | remote
    car: Car | None = None
    session: Session | None = None
    charge: ChargeProcess | None = None
    fault_sample: bool = False  # the next heartbeat reports one FAULTED sample (case 3)
    disable_pending: bool = False
    faults: Faults | None = None  # per-gun override of the pile's faults


@dataclass(slots=True)
class PileSpec:
    pile_id: str
    vendor: str = "ACME"
    model: str = "DC120-2"
    firmware: str = "V2.3.7"
    guns: int = 2
    dc: bool = True
    max_power_w: int = 60_000  # per gun


class Pile:
    """One pile and its guns. See the module docstring for how to drive it."""

    def __init__(
        self,
        spec: PileSpec,
        *,
        store: BillStore | None = None,
        faults: Faults | None = None,
        seed: int | str = 0,
        auto: bool = True,
        mean_arrival_ms: int = 20 * MINUTE,
        meter_interval_ms: int = MINUTE,
        time_scale: float = 1.0,
        tariff: PileTariff = DEFAULT_TARIFF,
        idle_rule: IdleRule | None = None,
        account_pool: int = accounts.DEFAULT_POOL,
    ) -> None:
        self.spec = spec
        self.account_pool = account_pool
        self.pile_id = normalize_pile_id(spec.pile_id)
        self.store = store if store is not None else BillStore(None, spec.pile_id)
        self.faults = faults or Faults()
        self.rng = random.Random(f"{seed}:{spec.pile_id}")
        self.auto = auto
        self.mean_arrival_ms = mean_arrival_ms
        self.time_scale = time_scale
        # Meter values at least every wall second, so a fast time scale does not flood.
        self.meter_interval_ms = max(meter_interval_ms, int(SECOND * time_scale))
        # Waiting for the gateway: at least 15 wall seconds whatever the time scale.
        self.gateway_wait_ms = max(MINUTE, int(15 * SECOND * time_scale))
        self.tariff = tariff
        self._future_tariffs: list[PileTariff] = []
        self.idle_rule = idle_rule or NO_IDLE_FEE  # until the gateway's SET_IDLE_FEE
        self.enabled = True
        meter0 = self.rng.randrange(1_000_000, 50_000_000)
        self.guns = [Gun(i, meter0 + i * 1_234_567) for i in range(1, spec.guns + 1)]
        self.outbox: list[Message] = []
        self.counters = PileCounters()
        self.offline_request_s: float | None = None  # set by offline_with_bills
        self._late_bills: list[tuple[int, Bill]] = []  # (due_ms, bill) for start_fails
        self._started = False
        #: Fixed delays in pile ms for scripted scenarios, instead of the random ones:
        #: "handshake" (authorised -> energy), "rogue" (unauthorised car -> energy), "swipe"
        #: (plugged -> card/password), "unplug" (charge end -> unplug) and "fault" (charge
        #: start -> transient fault sample). Unset keys keep the random delays.
        self.delays: dict[str, int] = {}

    # --- faults -----------------------------------------------------------------------

    def faults_for(self, gun: int) -> Faults:
        g = self.guns[gun - 1].faults if 1 <= gun <= len(self.guns) else None
        return g if g is not None else self.faults

    def force_fault(self, name: str, gun: int | None = None, on: bool = True, **params) -> None:
        """Set a named fault on one gun (or on the whole pile when gun is None)."""
        if gun is None:
            target = self.faults
        else:
            g = self.gun(gun)
            if g.faults is None:
                g.faults = self.faults.copy()
            target = g.faults
        target.set(name, on)
        for key, value in params.items():
            setattr(target, key, value)

    def gun(self, no: int) -> Gun:
        if not 1 <= no <= len(self.guns):
            raise ValueError(f"pile {self.pile_id} has no gun {no}")
        return self.guns[no - 1]

    # --- frames built here --------------------------------------------------------------

    def login(self, now_ms: int) -> Login:
        s = self.spec
        return Login(
            s.pile_id, s.vendor, s.model, s.firmware, PROTOCOL_VERSION, len(self.guns), now_ms
        )

    def heartbeat(self, now_ms: int) -> Heartbeat:
        self.tick(now_ms)
        return Heartbeat(tuple(self._report(g) for g in self.guns))

    def _report(self, g: Gun) -> GunReport:
        status, fault = g.status, g.fault_code
        if g.fault_sample:  # case 3: one sample says FAULTED, the charge goes on
            g.fault_sample = False
            status, fault = GunStatus.FAULTED, FaultCode.OVER_TEMPERATURE
        ch = g.charge
        if ch is not None and ch.done_ms is None:
            v, a = ch.voltage_current()
            return GunReport(g.no, status, fault, ch.meter_dwh, v, a, ch.power_w, int(ch.soc))
        soc = SOC_UNKNOWN
        if ch is not None:
            soc = int(ch.soc)
        elif g.car is not None:
            soc = int(g.car.soc_start)
        return GunReport(g.no, status, fault, g.meter_dwh, 0, 0, 0, soc)

    def drain(self) -> list[Message]:
        out, self.outbox = self.outbox, []
        return out

    def pending_bills(self, gun: int = 0) -> list[Bill]:
        return self.store.pending(gun)

    # --- time ---------------------------------------------------------------------------

    def next_due_ms(self) -> int | None:
        """The earliest pile time at which tick() has something to do."""
        dues = [g.due_ms for g in self.guns if g.due_ms is not None]
        for g in self.guns:
            s, ch = g.session, g.charge
            if g.phase == CHARGING and s is not None:
                dues += [
                    t
                    for t in (s.vin_due_ms, s.meter_due_ms, s.fault_due_ms, s.user_stop_ms)
                    if t is not None
                ]
                if ch is not None and (eta := ch.eta_ms()) is not None:
                    dues.append(eta)
                if ch is not None and ch.limit_ms:
                    dues.append(ch.start_ms + ch.limit_ms)
        dues += [t for t, _ in self._late_bills]
        dues += [t.effective_from_ms for t in self._future_tariffs]
        return min(dues) if dues else None

    def tick(self, now_ms: int) -> None:
        if not self._started:
            self._started = True
            for g in self.guns:
                if g.phase == IDLE and g.due_ms is None:
                    self._schedule_arrival(g, now_ms)
        for t in [t for t in self._future_tariffs if t.effective_from_ms <= now_ms]:
            self.tariff = t
            self._future_tariffs.remove(t)
        for g in self.guns:
            for _ in range(1_000):  # each pass handles one due event; bounded
                if not self._step(g, now_ms):
                    break
        for due, bill in [x for x in self._late_bills if x[0] <= now_ms]:
            self._late_bills.remove((due, bill))
            self._emit_bill(bill)

    def _step(self, g: Gun, now: int) -> bool:
        """Handle the earliest due event of a gun; False when nothing is due."""
        if g.phase == CHARGING:
            return self._step_charging(g, now)
        if g.due_ms is None or g.due_ms > now:
            return False
        t, g.due_ms = g.due_ms, None
        if g.phase == IDLE:
            if self.auto and self.enabled:
                mode = "password" if self.rng.random() < 0.3 else "card"
                self._arrive(g, t, mode)
        elif g.phase == PLUGGED:
            if g.auth_mode == "remote":
                self._car_leaves(g, t)  # no app start came
            else:
                self._request_auth(g, t)
        elif g.phase == AUTHORISING:
            self._car_leaves(g, t)  # no answer: the driver gives up
        elif g.phase == STARTING:
            self._start_energy(g, t)
        elif g.phase == ROGUE_WAIT:
            self._start_rogue(g, t)
        elif g.phase == FINISHING:
            self._unplug(g, t)
        elif g.phase == LEAVING:
            self._car_leaves(g, t)
        return True

    # --- a service, step by step ----------------------------------------------------------

    def _schedule_arrival(self, g: Gun, t: int) -> None:
        g.phase = IDLE
        if self.auto and self.enabled and not g.disable_pending:
            gap = int(self.rng.expovariate(1.0 / self.mean_arrival_ms))
            g.due_ms = t + max(30 * SECOND, gap)
        else:
            g.due_ms = None

    def _status(self, g: Gun, t: int, status: int, fault: int = FaultCode.NONE) -> None:
        g.status, g.fault_code = status, fault
        txid = g.session.transaction_id if g.session else ""
        self.outbox.append(StatusChange(g.no, status, fault, t, txid))

    def plug_in(self, gun: int, now_ms: int, *, auth: str = "card", car: Car | None = None) -> None:
        """Force a car onto a free gun now; auth is card, password or remote (app start)."""
        g = self.gun(gun)
        if g.phase != IDLE:
            raise ValueError(f"gun {gun} is busy ({g.phase})")
        self._arrive(g, now_ms, auth, car)

    def _arrive(self, g: Gun, t: int, mode: str, car: Car | None = None) -> None:
        g.car = car or Car.random(self.rng, dc=self.spec.dc)
        g.auth_mode = mode
        self._status(g, t, GunStatus.PREPARING)
        if self.faults_for(g.no).unauthorised_charge and mode != "remote":
            wait = self.delays.get("rogue")
            if wait is None:
                wait = self.rng.randint(5, 20) * SECOND
            g.phase, g.due_ms = ROGUE_WAIT, t + wait
        elif mode == "remote":
            g.phase, g.due_ms = PLUGGED, t + 5 * MINUTE
        else:
            wait = self.delays.get("swipe")
            if wait is None:
                wait = self.rng.randint(10, 40) * SECOND
            g.phase, g.due_ms = PLUGGED, t + wait

    def _request_auth(self, g: Gun, t: int) -> None:
        driver = self.rng.randrange(self.account_pool)
        if g.auth_mode == "password":
            account = accounts.password_account(driver)
            self.outbox.append(AuthRequest(g.no, Channel.PASSWORD, account, accounts.PASSWORD))
        else:
            card = accounts.card_token(driver)
            self.outbox.append(AuthRequest(g.no, Channel.CARD, card, ""))
        g.phase, g.due_ms = AUTHORISING, t + self.gateway_wait_ms

    def _car_leaves(self, g: Gun, t: int) -> None:
        """The car goes without a service (or after a failed one): no LOGOUT, no bill."""
        g.car, g.session, g.charge = None, None, None
        self._back_to_free(g, t)

    def _back_to_free(self, g: Gun, t: int) -> None:
        if g.disable_pending or not self.enabled:
            g.disable_pending = False
            self._status(g, t, GunStatus.UNAVAILABLE)
            g.phase, g.due_ms = DISABLED, None
        else:
            self._status(g, t, GunStatus.AVAILABLE)
            self._schedule_arrival(g, t)

    def _authorised(self, g: Gun, t: int, session: Session) -> None:
        g.session = session
        handshake = self.delays.get("handshake")
        if handshake is None:
            handshake = self.rng.randint(3, 8) * SECOND
        f = self.faults_for(g.no)
        if f.late_start:
            handshake += int(f.late_start_s * SECOND * self.time_scale)
            self.counters.faults_injected += 1
        g.phase, g.due_ms = STARTING, t + handshake

    def _start_energy(self, g: Gun, t: int) -> None:
        s, car = g.session, g.car
        assert s is not None and car is not None
        f = self.faults_for(g.no)
        if f.start_fails:  # case 1: device fault, no LOGOUT, a bill hours later
            self.counters.start_failures += 1
            self.counters.faults_injected += 1
            s.start_failed = True
            s.charge_start_ms = s.charge_end_ms = t
            s.meter_start_dwh = g.meter_dwh
            s.stop_reason = StopReason.DEVICE_FAULT
            self.outbox.append(
                StartResult(
                    g.no, s.transaction_id, Result.DEVICE_FAULT, FaultCode.DEVICE_FAULT, t,
                    g.meter_dwh,
                )
            )  # fmt: skip
            self._status(g, t, GunStatus.FAULTED, FaultCode.DEVICE_FAULT)
            due = t + f.late_bill_delay_ms
            self._late_bills.append((due, self._make_bill(g, s, None, service_end_ms=due)))
            g.phase, g.due_ms = LEAVING, t + MINUTE
            return
        s.charge_start_ms = t
        s.meter_start_dwh = g.meter_dwh
        g.charge = self._new_charge(g, car, t, s)
        self.counters.sessions_started += 1
        self.outbox.append(
            StartResult(g.no, s.transaction_id, Result.OK, FaultCode.NONE, t, g.meter_dwh)
        )
        self._status(g, t, GunStatus.CHARGING)
        s.vin = car.vin
        s.vin_due_ms = None if f.ignores_stop else t + 2 * SECOND  # case 2 never sent its VIN
        s.meter_due_ms = t + self.meter_interval_ms
        if car.user_stop_after_ms:
            s.user_stop_ms = t + car.user_stop_after_ms
        if f.transient_fault:
            after = self.delays.get("fault")
            if after is None:
                after = self.rng.randint(3, 10) * MINUTE
            s.fault_due_ms = t + after
        g.phase, g.due_ms = CHARGING, None

    def _new_charge(self, g: Gun, car: Car, t: int, s: Session | None) -> ChargeProcess:
        return ChargeProcess(
            car,
            self.spec.max_power_w,
            self.spec.dc,
            t,
            g.meter_dwh,
            limit_energy_dwh=s.limit_energy_dwh if s else 0,
            limit_amount_fen=s.limit_amount_fen if s else 0,
            limit_ms=(s.limit_minutes * MINUTE) if s else 0,
        )

    def _start_rogue(self, g: Gun, t: int) -> None:
        """Case 4: energy flows with no authorisation and no transaction."""
        assert g.car is not None
        self.counters.faults_injected += 1
        s = Session("", Channel.CARD, "", t, self.tariff, unauthorised=True)
        s.charge_start_ms, s.meter_start_dwh = t, g.meter_dwh
        g.session = s
        g.charge = self._new_charge(g, g.car, t, None)
        self._status(g, t, GunStatus.CHARGING)
        s.meter_due_ms = t + self.meter_interval_ms
        if g.car.user_stop_after_ms:
            s.user_stop_ms = t + g.car.user_stop_after_ms
        g.phase, g.due_ms = CHARGING, None

    def _step_charging(self, g: Gun, now: int) -> bool:
        s, ch = g.session, g.charge
        assert s is not None and ch is not None
        events = [
            (t, name)
            for t, name in (
                (s.user_stop_ms, "user"),
                (s.vin_due_ms, "vin"),
                (s.meter_due_ms, "meter"),
                (s.fault_due_ms, "fault"),
            )
            if t is not None and t <= now
        ]
        t_next, name = min(events) if events else (now, "")
        ch.advance(t_next, s.tariff)
        if ch.done_ms is not None:
            reason = StopReason.FULL if ch.done_reason == "full" else StopReason.LIMIT_REACHED
            self._end_charge(g, ch.done_ms, reason)
            return True
        if not name:
            return False
        if name == "user":
            s.user_stop_ms = None
            self._end_charge(g, t_next, StopReason.USER)
        elif name == "vin":
            s.vin_due_ms = None
            self.outbox.append(Vin(g.no, s.transaction_id, s.vin))
        elif name == "meter":
            s.meter_due_ms = t_next + self.meter_interval_ms
            v, a = ch.voltage_current()
            self.outbox.append(
                MeterValues(
                    g.no, s.transaction_id, t_next, ch.meter_dwh, ch.energy_dwh, v, a, ch.power_w,
                    int(ch.soc),
                )
            )  # fmt: skip
        elif name == "fault":
            s.fault_due_ms = None
            g.fault_sample = True
            self.counters.faults_injected += 1
        return True

    def _end_charge(self, g: Gun, t: int, reason: int) -> None:
        s, ch = g.session, g.charge
        assert s is not None
        if ch is not None:
            ch.advance(t, s.tariff)
            if ch.done_ms is None:
                ch.done_ms, ch.power_w = t, 0
            g.meter_dwh = ch.meter_dwh
        s.charge_end_ms, s.stop_reason = t, reason
        if not s.unauthorised:
            self.outbox.append(
                StopResult(g.no, s.transaction_id, Result.OK, reason, t, g.meter_dwh)
            )
        self._status(g, t, GunStatus.FINISHING)
        # Idle time before the driver unplugs; about a quarter overstay the grace period.
        idle_ms = self.delays.get("unplug")
        if idle_ms is None:
            idle = self.rng.randint(1, 12) if self.rng.random() < 0.75 else self.rng.randint(16, 40)
            idle_ms = idle * MINUTE
        g.phase, g.due_ms = FINISHING, t + idle_ms

    def _unplug(self, g: Gun, t: int) -> None:
        s = g.session
        assert s is not None
        f = self.faults_for(g.no)
        if s.unauthorised:
            g.car, g.session, g.charge = None, None, None
            self._back_to_free(g, t)
            return
        if f.offline_with_bills:
            self.offline_request_s = f.offline_s
            self.counters.faults_injected += 1
        self.outbox.append(Logout(g.no, s.transaction_id, s.stop_reason, t))
        bill = self._make_bill(g, s, g.charge, service_end_ms=t)
        self.counters.sessions_completed += 1
        g.car, g.session, g.charge = None, None, None
        self._back_to_free(g, t)
        if f.never_sends_bill or (f.old_firmware and self.rng.random() < f.bill_loss_rate):
            self.counters.bills_lost += 1
            self.counters.faults_injected += 1
            return
        self._emit_bill(bill)

    def _emit_bill(self, bill: Bill) -> None:
        self.counters.bills_created += 1
        self.store.add(bill)
        self.outbox.append(bill)

    def _make_bill(
        self, g: Gun, s: Session, ch: ChargeProcess | None, *, service_end_ms: int
    ) -> Bill:
        per_kind: dict[int, int] = dict(ch.per_kind) if ch is not None else dict.fromkeys(KINDS, 0)
        meter_stop = ch.meter_dwh if ch is not None else s.meter_start_dwh
        charge_start = s.charge_start_ms or s.authorised_ms
        charge_end = max(s.charge_end_ms, charge_start)
        idle = self.idle_rule.fee(charge_end, service_end_ms)
        a = price_energies(s.tariff, per_kind, idle)
        return Bill(
            s.transaction_id, g.no, s.channel, s.account, s.authorised_ms, charge_start,
            charge_end, service_end_ms, s.meter_start_dwh, meter_stop,
            meter_stop - s.meter_start_dwh, per_kind[1], per_kind[2], per_kind[3], per_kind[4],
            a.energy_amount_fen, a.service_amount_fen, a.idle_fee_fen, a.total_fen,
            s.stop_reason, s.vin,
        )  # fmt: skip

    # --- gateway messages ---------------------------------------------------------------

    def on_message(self, msg: Message, now_ms: int) -> CommandAck | None:
        """Apply a gateway message; for a command, the COMMAND_ACK to send at once."""
        self.tick(now_ms)
        if isinstance(msg, AuthResult):
            self._on_auth_result(msg, now_ms)
            return None
        if isinstance(msg, BillAck):
            self.on_bill_ack(msg)
            return None
        handler = _COMMANDS.get(type(msg))
        if handler is None:
            return None
        gun = getattr(msg, "gun", 0)
        return CommandAck(msg.TYPE, gun, handler(self, msg, now_ms))

    def on_bill_ack(self, ack: BillAck) -> bool:
        return self.store.on_ack(ack.transaction_id, ack.status)

    def _on_auth_result(self, msg: AuthResult, t: int) -> None:
        if not 1 <= msg.gun <= len(self.guns):
            return
        g = self.guns[msg.gun - 1]
        if g.phase != AUTHORISING:
            return
        if msg.result != Result.OK or not msg.transaction_id:
            g.phase, g.due_ms = LEAVING, t + 10 * SECOND
            return
        channel = Channel.PASSWORD if g.auth_mode == "password" else Channel.CARD
        self._authorised(g, t, Session(msg.transaction_id, channel, msg.account, t, self.tariff))

    def _cmd_start(self, msg: StartCharge, t: int) -> int:
        if not 1 <= msg.gun <= len(self.guns):
            return Result.OTHER
        g = self.guns[msg.gun - 1]
        if not self.enabled or g.phase == DISABLED:
            return Result.PILE_DISABLED
        if g.status == GunStatus.FAULTED:
            return Result.GUN_FAULTED
        if g.phase == IDLE:  # the driver plugged in and scanned the app's QR code
            g.car = Car.random(self.rng, dc=self.spec.dc)
            self._status(g, t, GunStatus.PREPARING)
        elif not (g.phase == PLUGGED and g.auth_mode == "remote"):
            return Result.GUN_BUSY
        s = Session(msg.transaction_id, msg.channel, msg.account, t, self.tariff, remote=True)
        s.limit_energy_dwh, s.limit_amount_fen = msg.limit_energy_dwh, msg.limit_amount_fen
        s.limit_minutes = msg.limit_minutes
        g.auth_mode = "remote"
        self._authorised(g, t, s)
        return Result.OK

    def _cmd_stop(self, msg: StopCharge, t: int) -> int:
        if not 1 <= msg.gun <= len(self.guns):
            return Result.OTHER
        g = self.guns[msg.gun - 1]
        s = g.session
        if s is None or g.phase not in (STARTING, CHARGING):
            return Result.UNKNOWN_TRANSACTION
        if not s.unauthorised and msg.transaction_id and msg.transaction_id != s.transaction_id:
            return Result.UNKNOWN_TRANSACTION
        f = self.faults_for(g.no)
        if g.phase == STARTING:
            if f.late_start:  # case 6: the late start happens anyway
                return Result.OK
            s.charge_start_ms = s.charge_end_ms = t
            s.meter_start_dwh = g.meter_dwh
            s.stop_reason = msg.reason or StopReason.REMOTE
            self.outbox.append(
                StopResult(g.no, s.transaction_id, Result.OK, s.stop_reason, t, g.meter_dwh)
            )
            self._status(g, t, GunStatus.FINISHING)
            g.phase, g.due_ms = FINISHING, t + self.rng.randint(1, 3) * MINUTE
            return Result.OK
        if f.ignores_stop and not s.unauthorised:  # case 2: ack, then charge on
            if not s.stop_ignored:
                s.stop_ignored = True
                self.counters.faults_injected += 1
            return Result.OK
        self._end_charge(g, t, msg.reason or StopReason.REMOTE)
        return Result.OK

    def _cmd_tariff(self, msg: SetTariff, t: int) -> int:
        try:
            tariff = PileTariff.from_message(msg)
        except TariffInvalid:
            return Result.OTHER
        if tariff.effective_from_ms <= t:
            self.tariff = tariff
        else:
            self._future_tariffs.append(tariff)
        return Result.OK

    def _cmd_enable(self, msg: Enable, t: int) -> int:
        guns = self.guns if msg.gun == 0 else [self.gun(msg.gun)]
        if msg.gun == 0:
            self.enabled = True
        for g in guns:
            g.disable_pending = False
            if g.phase == DISABLED:
                self._status(g, t, GunStatus.AVAILABLE)
                self._schedule_arrival(g, t)
        return Result.OK

    def _cmd_disable(self, msg: Disable, t: int) -> int:
        guns = self.guns if msg.gun == 0 else [self.gun(msg.gun)]
        if msg.gun == 0:
            self.enabled = False
        for g in guns:
            if g.phase == IDLE:
                self._status(g, t, GunStatus.UNAVAILABLE)
                g.phase, g.due_ms = DISABLED, None
            elif g.phase != DISABLED:
                g.disable_pending = True  # after the service in progress
        return Result.OK

    def _cmd_idle_fee(self, msg: SetIdleFee, t: int) -> int:
        # Services that end (unplug) from now on are billed with this rule (§7.14).
        self.idle_rule = IdleRule.from_message(msg)
        return Result.OK

    def _cmd_ok(self, msg: Message, t: int) -> int:
        return Result.OK  # QUERY_BILLS and TIME_SYNC: the connection layer acts on them


def _valid_gun(pile: Pile, gun: int) -> bool:
    return 0 <= gun <= len(pile.guns)


_Command = Callable[["Pile", Any, int], int]


def _guarded(fn: _Command) -> _Command:
    def run(pile: Pile, msg: Message, t: int) -> int:
        if not _valid_gun(pile, getattr(msg, "gun", 0)):
            return Result.OTHER
        return fn(pile, msg, t)

    return run


_COMMANDS: dict[type[Message], _Command] = {
    StartCharge: _guarded(Pile._cmd_start),
    StopCharge: _guarded(Pile._cmd_stop),
    SetTariff: Pile._cmd_tariff,
    Enable: _guarded(Pile._cmd_enable),
    Disable: _guarded(Pile._cmd_disable),
    QueryBills: _guarded(Pile._cmd_ok),
    TimeSync: Pile._cmd_ok,
    SetIdleFee: Pile._cmd_idle_fee,
}

COMMAND_TYPES = frozenset(cls.TYPE for cls in _COMMANDS)
