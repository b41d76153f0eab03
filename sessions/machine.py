"""step() and the transition table.

Session events are looked up by (phase of the session they concern, event type); the phase is
None when the gun has no session. A missing cell is an impossible transition: step() raises
ImpossibleTransition and, since states are immutable, the caller's state is untouched.
Gun-level events (reports, offline/online, enable/disable, Tick) are accepted in every phase.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import gun, ticks
from . import handlers as h
from ._context import Ctx
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
from .vocab import Phase

SessionHandler = Callable[[Ctx, Any, Any], None]
GunHandler = Callable[[Ctx, Any], None]

NO_SESSION = None
AUTHORISED, STARTING, CHARGING, STOPPING = (
    Phase.AUTHORISED,
    Phase.STARTING,
    Phase.CHARGING,
    Phase.STOPPING,
)
FINISHED, CLOSED, SETTLED = Phase.FINISHED, Phase.CLOSED, Phase.SETTLED
CANCELLED, FAILED = Phase.CANCELLED, Phase.FAILED
_IDLE = (NO_SESSION, CLOSED, SETTLED, CANCELLED, FAILED)  # no live session on the gun
_LIVE = (AUTHORISED, STARTING, CHARGING, STOPPING, FINISHED)


def _cells(phases: tuple[Phase | None, ...], event: type, handler: SessionHandler) -> dict:
    return {(p, event): handler for p in phases}


def _logged_in(ctx: Ctx, ev: PileLoggedIn) -> None:
    """A deadline that passed while the pile was away (or the gateway was down) fires first,
    as it would have on time; only then is the gun reachable again."""
    ticks.tick(ctx, Tick())
    gun.pile_logged_in(ctx, ev)


# fmt: off
TRANSITIONS: dict[tuple[Phase | None, type], SessionHandler] = {
    # (phase of the session, event)             handler                       -> phase
    **_cells(_IDLE, Authorised,                 h.authorise),               # AUTHORISED (new)
    **_cells(_LIVE, Authorised,                 h.authorise),               # refused: gun_busy
    (AUTHORISED, StartRequested):               h.request_start,            # STARTING
    (AUTHORISED, StartConfirmed):               h.start_confirmed,          # CHARGING (pile start)
    (AUTHORISED, StartFailed):                  h.start_failed,             # FAILED
    (AUTHORISED, StopRequested):                h.cancel_before_charge,     # CANCELLED
    (AUTHORISED, ServiceEnded):                 h.service_ended_before_start,  # CANCELLED
    (AUTHORISED, BillReceived):                 h.bill_before_start,        # SETTLED
    (STARTING, StartCommandAccepted):           h.start_accepted,           # STARTING
    (STARTING, StartCommandRejected):           h.start_rejected,           # CANCELLED
    (STARTING, StartCommandTimedOut):           h.start_command_timed_out,  # CANCELLED
    (STARTING, StartConfirmed):                 h.start_confirmed,          # CHARGING
    (STARTING, StartFailed):                    h.start_failed,             # FAILED
    (STARTING, StopRequested):                  h.cancel_before_charge,     # CANCELLED + stop
    (STARTING, ServiceEnded):                   h.service_ended_before_start,  # CANCELLED
    (STARTING, BillReceived):                   h.bill_before_start,        # SETTLED
    (CHARGING, StartCommandAccepted):           h.ignore,                   # ack raced the start
    (CHARGING, StartConfirmed):                 h.start_confirmed,          # CHARGING (duplicate)
    (CHARGING, StopRequested):                  h.request_stop,             # STOPPING + stop
    (CHARGING, StopConfirmed):                  h.stop_confirmed,           # FINISHED (pile stop)
    (CHARGING, ServiceEnded):                   h.service_ended,            # CLOSED
    (CHARGING, BillReceived):                   h.bill_in_charge,           # FINISHED
    (STOPPING, StopRequested):                  h.ignore,                   # already stopping
    (STOPPING, StopAcknowledged):               h.stop_acknowledged,        # STOPPING
    (STOPPING, StopConfirmed):                  h.stop_confirmed,           # FINISHED
    (STOPPING, ServiceEnded):                   h.service_ended,            # CLOSED
    (STOPPING, BillReceived):                   h.bill_in_charge,           # FINISHED
    (FINISHED, StopAcknowledged):               h.ignore,                   # ack raced the end
    (FINISHED, StopConfirmed):                  h.ignore,                   # duplicate
    (FINISHED, ServiceEnded):                   h.service_ended,            # CLOSED (SETTLED)
    (FINISHED, BillReceived):                   h.bill_while_plugged,       # FINISHED
    (CLOSED, BillReceived):                     h.bill_closed,              # SETTLED
    (CLOSED, ServiceEnded):                     h.service_ended_idle,       # CLOSED (duplicate)
    (SETTLED, BillReceived):                    h.ignore,                   # re-upload
    (SETTLED, ServiceEnded):                    h.service_ended_idle,       # SETTLED
    (CANCELLED, StartCommandAccepted):          h.ignore,                   # a late start is
    (CANCELLED, StartFailed):                   h.ignore,                   #   caught when energy
    (CANCELLED, ServiceEnded):                  h.service_ended_late,       # CANCELLED (+flag)
    (CANCELLED, BillReceived):                  h.bill_late,                # SETTLED (+flag)
    (FAILED, ServiceEnded):                     h.service_ended_late,       # FAILED (+flag)
    (FAILED, BillReceived):                     h.bill_late,                # SETTLED (+flag)
    (NO_SESSION, ServiceEnded):                 h.service_ended_idle,       # -
    (NO_SESSION, BillReceived):                 h.bill_unmatched,           # - (UnmatchedBill)
    # Energy or stop replies on a gun with no live session: watch for charging without one.
    **_cells(_IDLE, StartConfirmed,             h.start_after_end),         # - (stop + alarm)
    **_cells(_IDLE, StopAcknowledged,           h.ignore),                  # -
    **_cells(_IDLE, StopConfirmed,              h.stop_confirmed_no_session),  # -
}

GUN_EVENTS: dict[type, GunHandler] = {
    StatusReported: gun.status_reported,  # may move the session (start, fault, unplug...)
    MeterSample:    gun.meter_sample,
    PileOffline:    gun.pile_offline,     # pauses pile-bound timers
    PileLoggedIn:   _logged_in,           # overdue timeouts fire, then online again
    PileOnline:     gun.pile_online,      # reconciles, queries owed bills
    Disabled:       gun.disable,
    Enabled:        gun.enable,
    Tick:           ticks.tick,           # fires every due named timeout
}
# fmt: on


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
        handler = TRANSITIONS.get((phase, type(event)))
        if handler is None:
            raise ImpossibleTransition(phase, event)
        handler(ctx, session, event)
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
