"""step() and the transition table.

Every phase change of a session is a cell of TRANSITIONS, keyed by (phase, trigger):

- the phase is the session's (None: the gun has no session);
- the trigger is what happened: a session event's type (StopRequested ...), a status the pile
  reported (GunStatus.FINISHING ...; also read from PileOnline, the first report after a
  reconnect), PileOnline itself (reconciling what ended while the pile was away), or a named
  timeout that fell due (Timeout.STOP ...).

A cell names its handler and the phases that handler may move the session to (none: the
session stays where it is). The machine holds handlers to that: a move to a phase the cell does
not name raises UndeclaredMove, and nothing outside a cell moves a session.

A session event without a cell is impossible in that phase: step() raises ImpossibleTransition
and, since states are immutable, the caller's state is untouched. A report or a reconnect
without a cell changes nothing for the session (the gun's own part still runs: statuses,
faults, meter). Every timeout that pending() arms has its cell (tests/sessions/test_table.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import gun, ticks
from . import handlers as h
from ._context import NOWHERE, Ctx
from .actions import Action, AvailabilityChanged, SessionFlagged, SessionTransition, SessionUpdated
from .errors import ImpossibleTransition
from .events import (
    Authorised,
    BillReceived,
    Disabled,
    Enabled,
    Event,
    MeterSample,
    PileLoggedIn,
    PileOffline,
    PileOnline,
    ServiceEnded,
    StartCommandAccepted,
    StartCommandRejected,
    StartCommandTimedOut,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StatusReported,
    StopAcknowledged,
    StopConfirmed,
    StopRequested,
    Tick,
)
from .states import GunState, Session
from .timers import Timeout
from .vocab import GunStatus, Phase

Handler = Callable[[Ctx, Any, Any], None]  # (ctx, session or None, event / report / deadline)
Trigger = type | GunStatus | Timeout


@dataclass(frozen=True, slots=True)
class Cell:
    handler: Handler
    to: frozenset[Phase]  # where the handler may move the session; empty: it stays


NO_SESSION = None
AUTHORISED, STARTING, CHARGING, STOPPING = (
    Phase.AUTHORISED,
    Phase.STARTING,
    Phase.CHARGING,
    Phase.STOPPING,
)
FINISHED, CLOSED, SETTLED = Phase.FINISHED, Phase.CLOSED, Phase.SETTLED
CANCELLED, FAILED = Phase.CANCELLED, Phase.FAILED
STAYS: tuple[Phase, ...] = ()
_IDLE = (NO_SESSION, CLOSED, SETTLED, CANCELLED, FAILED)  # no live session on the gun
_LIVE = (AUTHORISED, STARTING, CHARGING, STOPPING, FINISHED)
_PRE_START = (AUTHORISED, STARTING)
_IN_CHARGE = (CHARGING, STOPPING)
# The end of a service: CLOSED, or SETTLED when the bill came in while still plugged.
_ENDED = (CLOSED, SETTLED)
# Reported statuses, as triggers.
R_AVAILABLE, R_PREPARING, R_CHARGING = GunStatus.AVAILABLE, GunStatus.PREPARING, GunStatus.CHARGING
R_FINISHING, R_FAULTED = GunStatus.FINISHING, GunStatus.FAULTED


Phases = Phase | None | tuple[Phase | None, ...]
Targets = Phase | tuple[Phase, ...]

# fmt: off
TABLE: tuple[tuple[Phases, Trigger, Handler, Targets], ...] = (
    # phase(s)           trigger                handler                       -> may move to
    # -- session events ------------------------------------------------------------------------
    (_IDLE,              Authorised,            h.authorise,                  AUTHORISED),  # new
    (_LIVE,              Authorised,            h.authorise,                  STAYS),  # gun_busy
    (AUTHORISED,         StartRequested,        h.request_start,              STARTING),
    (_PRE_START,         StartConfirmed,        h.start_confirmed,            CHARGING),
    (_PRE_START,         StartFailed,           h.start_failed,               FAILED),
    (_PRE_START,         StopRequested,         h.cancel_before_charge,       CANCELLED),
    (_PRE_START,         ServiceEnded,          h.service_ended_before_start, CANCELLED),
    (_PRE_START,         BillReceived,          h.bill_before_start,          SETTLED),
    (STARTING,           StartCommandAccepted,  h.start_accepted,             STAYS),
    (STARTING,           StartCommandRejected,  h.start_rejected,             CANCELLED),
    (STARTING,           StartCommandTimedOut,  h.start_command_timed_out,    CANCELLED),
    (CHARGING,           StartCommandAccepted,  h.ignore,                     STAYS),  # raced
    (CHARGING,           StartConfirmed,        h.start_confirmed,            CHARGING),  # again
    (CHARGING,           StopRequested,         h.request_stop,               STOPPING),
    (_IN_CHARGE,         StopConfirmed,         h.stop_confirmed,             FINISHED),
    (_IN_CHARGE,         BillReceived,          h.bill_in_charge,             FINISHED),
    (STOPPING,           StopRequested,         h.ignore,                     STAYS),
    (STOPPING,           StopAcknowledged,      h.stop_acknowledged,          STAYS),
    (_IN_CHARGE,         ServiceEnded,          h.service_ended,              CLOSED),
    (FINISHED,           ServiceEnded,          h.service_ended,              _ENDED),
    (FINISHED,           StopAcknowledged,      h.ignore,                     STAYS),  # raced
    (FINISHED,           StopConfirmed,         h.ignore,                     STAYS),  # again
    (FINISHED,           BillReceived,          h.bill_while_plugged,         STAYS),  # at close
    (CLOSED,             BillReceived,          h.bill_closed,                SETTLED),
    ((CLOSED, SETTLED),  ServiceEnded,          h.service_ended_idle,         STAYS),  # again
    (SETTLED,            BillReceived,          h.ignore,                     STAYS),  # re-upload
    (CANCELLED,          StartCommandAccepted,  h.ignore,                     STAYS),  # a late
    (CANCELLED,          StartFailed,           h.ignore,                     STAYS),  # start is
    ((CANCELLED, FAILED), ServiceEnded,         h.service_ended_late,         STAYS),  # flagged
    ((CANCELLED, FAILED), BillReceived,         h.bill_late,                  SETTLED),
    (NO_SESSION,         ServiceEnded,          h.service_ended_idle,         STAYS),
    (NO_SESSION,         BillReceived,          h.bill_unmatched,             STAYS),
    # energy or stop replies on a gun with no live session: charging without one?
    (_IDLE,              StartConfirmed,        h.start_after_end,            STAYS),
    (_IDLE,              StopAcknowledged,      h.ignore,                     STAYS),
    (_IDLE,              StopConfirmed,         h.stop_confirmed_no_session,  STAYS),
    # -- reported statuses (after the gun's own part, gun.observe) -----------------------------
    (_PRE_START,         R_CHARGING,            gun.start_by_status,          CHARGING),  # case 2
    ((STOPPING, FINISHED), R_CHARGING,          gun.still_charging,           STAYS),  # re-stop
    (_IDLE,              R_CHARGING,            gun.charging_unattributed,    STAYS),  # + stop
    (_PRE_START,         R_FAULTED,             gun.fault_before_start,       FAILED),  # case 1
    (_IN_CHARGE,         R_FAULTED,             gun.fault_in_charge,          FINISHED),  # if sure
    (_IN_CHARGE,         R_AVAILABLE,           gun.unplugged,                CLOSED),
    (FINISHED,           R_AVAILABLE,           gun.unplugged,                _ENDED),
    (_IN_CHARGE,         R_FINISHING,           gun.pile_finished,            FINISHED),
    (STOPPING,           R_PREPARING,           gun.pile_stopped,             FINISHED),
    # -- the first report after a reconnect, before it is read as a status ---------------------
    (_IN_CHARGE,         PileOnline,            gun.ended_while_offline,      (FINISHED, CLOSED)),
    (FINISHED,           PileOnline,            gun.ended_while_offline,      _ENDED),
    # -- named timeouts (sessions.timers) ------------------------------------------------------
    (_PRE_START,         Timeout.START,         ticks.start_timed_out,        CANCELLED),
    (CHARGING,           Timeout.MAX_CHARGE,    ticks.charged_too_long,       STOPPING),
    (STOPPING,           Timeout.STOP,          ticks.stop_unconfirmed,       FINISHED),  # or again
    (FINISHED,           Timeout.UNPLUG,        ticks.never_unplugged,        _ENDED),
    (CLOSED,             Timeout.BILL_WAIT,     ticks.bill_overdue,           STAYS),  # + query
    (CLOSED,             Timeout.BILL_LOST,     ticks.bill_lost,              SETTLED),
    (_PRE_START,         Timeout.OFFLINE,       ticks.offline_before_charge,  CANCELLED),
    (_IN_CHARGE,         Timeout.OFFLINE,       ticks.offline_after_start,    CLOSED),
    (FINISHED,           Timeout.OFFLINE,       ticks.offline_after_start,    _ENDED),
)
# fmt: on


def _index(
    table: tuple[tuple[Phases, Trigger, Handler, Targets], ...],
) -> dict[tuple[Phase | None, Trigger], Cell]:
    """One cell per (phase, trigger); a pair listed twice is a mistake in the table."""
    out: dict[tuple[Phase | None, Trigger], Cell] = {}
    for phases, trigger, handler, to in table:
        cell = Cell(handler, frozenset(to if isinstance(to, tuple) else (to,)))
        for phase in phases if isinstance(phases, tuple) else (phases,):
            if (phase, trigger) in out:
                raise ValueError(f"two cells for ({phase}, {trigger})")
            out[(phase, trigger)] = cell
    return out


TRANSITIONS: dict[tuple[Phase | None, Trigger], Cell] = _index(TABLE)

# Every firing disarms its timeout or re-arms it strictly later, so this bound is never
# reached in practice; it only guarantees step() returns.
_MAX_FIRINGS = 256


def _run(ctx: Ctx, cell: Cell, s: Session | None, arg: Any) -> None:
    ctx.allowed = cell.to
    cell.handler(ctx, s, arg)
    ctx.allowed = NOWHERE


def _react(ctx: Ctx, trigger: Trigger, arg: Any) -> None:
    """Run the cell of a gun-level trigger for the gun's session, if there is one."""
    s = ctx.gun.session
    cell = TRANSITIONS.get((s.phase if s is not None else NO_SESSION, trigger))
    if cell is not None:
        _run(ctx, cell, s, arg)


def _reported(ctx: Ctx, ev: StatusReported | PileOnline) -> None:
    gun.observe(ctx, ev.status, ev.fault_code, ev.meter)
    _react(ctx, ev.status, ev)


def _online(ctx: Ctx, ev: PileOnline) -> None:
    """Reconcile the gateway's view with what the pile reports after a reconnect."""
    gun.pile_online(ctx, ev)
    _react(ctx, PileOnline, ev)
    _reported(ctx, ev)
    gun.query_owed_bills(ctx)


def _tick(ctx: Ctx, ev: Tick) -> None:
    """Fire every due named timeout, earliest first."""
    for _ in range(_MAX_FIRINGS):
        d = ticks.first_due(ctx)
        if d is None:
            return
        s = ticks.concerned(ctx, d)
        if s is None:
            continue
        cell = TRANSITIONS.get((s.phase, d.timeout))
        if cell is None:  # pending() armed a timeout no cell handles: a defect
            raise ImpossibleTransition(s.phase, ev)
        _run(ctx, cell, s, d)


def _logged_in(ctx: Ctx, ev: PileLoggedIn) -> None:
    """A deadline that passed while the pile was away (or the gateway was down) fires first,
    as it would have on time; only then is the gun reachable again."""
    _tick(ctx, Tick())
    gun.pile_logged_in(ctx, ev)


# Events about the gun rather than one session, accepted in every phase; the session's part of
# each goes through TRANSITIONS.
GUN_EVENTS: dict[type, Callable[[Ctx, Any], None]] = {
    StatusReported: _reported,
    MeterSample: gun.meter_sample,
    PileOffline: gun.pile_offline,  # pauses pile-bound timers
    PileLoggedIn: _logged_in,  # overdue timeouts fire, then online again
    PileOnline: _online,  # reconciles, then reads the report, queries owed bills
    Disabled: gun.disable,
    Enabled: gun.enable,
    Tick: _tick,  # fires every due named timeout
}


def _concerned(state: GunState, event: Event) -> Session | None:
    """The session an event is about: the bill's own session, else the gun's current one."""
    if isinstance(event, BillReceived):
        return state.find(transaction_id=event.transaction_id)
    return state.session


def step(state: GunState, event: Event, now_ms: int) -> tuple[GunState, tuple[Action, ...]]:
    """Apply one event at the gateway's time now_ms (UTC epoch ms).

    Returns the new state and the actions to perform, in order. Raises a SessionError
    (ImpossibleTransition, AuthorisationRejected, TransactionMismatch) for an event that cannot
    be applied; the state passed in is then still the current one.
    """
    ctx = Ctx(state, now_ms)
    gun_handler = GUN_EVENTS.get(type(event))
    if gun_handler is not None:
        gun_handler(ctx, event)
    else:
        session = _concerned(state, event)
        phase = session.phase if session is not None else NO_SESSION
        cell = TRANSITIONS.get((phase, type(event)))
        if cell is None:
            raise ImpossibleTransition(phase, event)
        _run(ctx, cell, session, event)
    if ctx.gun is not state:
        ctx.emit(*_unrecorded(state, ctx.gun, ctx.actions, now_ms))
    if ctx.gun.availability is not state.availability:
        ctx.emit(AvailabilityChanged(ctx.gun.availability, state.availability, now_ms))
    return ctx.gun, tuple(ctx.actions)


def _unrecorded(
    before: GunState, after: GunState, actions: list[Action], now_ms: int
) -> list[SessionUpdated]:
    """Sessions whose durable part changed in this step beyond the last record an action
    carried (e.g. a stop retry counted after the flag was emitted, the bill-wait alarm)."""
    last = {s.session_id: s for s in before.sessions()}
    for a in actions:
        if isinstance(a, SessionTransition | SessionFlagged):
            last[a.session_id] = a.record
    out = []
    for s in after.sessions():
        seen = last.get(s.session_id)
        if seen is not s and (seen is None or seen.durable() != s.durable()):
            out.append(SessionUpdated(s.session_id, now_ms, s))
    return out
