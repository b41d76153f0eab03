"""Per-gun session state machine of pilegate: sans-I/O, pure, clock-free.

The gateway keeps one ``GunState`` per gun and feeds it neutral events::

    state = GunState(config=SessionConfig())           # immutable
    state, actions = step(state, event, now_ms)        # now_ms: UTC epoch ms, from the gateway
    at = next_deadline(state)                          # feed Tick() at `at` (None: nothing due)

``step`` never does I/O, never reads a clock and never mutates its input. It either returns the
new state and a tuple of actions to perform in order, or raises a ``SessionError``
(``ImpossibleTransition``, ``AuthorisationRejected``, ``TransactionMismatch``, ``UndeclaredMove``);
the gateway logs the error and keeps the state it passed in, which is still valid.

Events (``sessions.events``): Authorised, StartRequested, StartCommandAccepted,
StartCommandRejected, StartCommandTimedOut, StartConfirmed, StartFailed, StopRequested,
StopAcknowledged, StopConfirmed, StatusReported, MeterSample, ServiceEnded, BillReceived,
PileOffline, PileLoggedIn, PileOnline, Disabled, Enabled, Tick.

Actions (``sessions.actions``): SendStartCharge, SendStopCharge, SendQueryBills, RaiseAlarm,
SessionTransition (persist and publish every one; it carries the full Session record),
SessionFlagged, SessionUpdated (persist: a durable change no other action carried),
AccountClaimed, AccountReleased, StatusConfirmed (the only status change users
are told about), AvailabilityChanged, UnmatchedBill.

Session phases: AUTHORISED -> STARTING -> CHARGING -> STOPPING -> FINISHED -> CLOSED -> SETTLED,
plus CANCELLED and FAILED. Every phase change is a cell of ``sessions.machine.TRANSITIONS``,
keyed by (phase, trigger: event type, reported GunStatus, PileOnline or named Timeout), naming
its handler and target phases. The named timeouts are ``sessions.timers.Timeout``, all
configured in ``SessionConfig``. ``refusal()`` is the one rule for whether a new service may
start (a typed ``Refusal``). ``AccountBook`` is a pure view of account holds built from the
actions.
"""

from .accounts import AccountBook
from .actions import (
    AccountClaimed,
    AccountReleased,
    Action,
    AvailabilityChanged,
    RaiseAlarm,
    SendQueryBills,
    SendStartCharge,
    SendStopCharge,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StatusConfirmed,
    UnmatchedBill,
)
from .config import DEFAULT_CONFIG, DEVICE_FAULT_CODE, SessionConfig
from .errors import (
    AuthorisationRejected,
    ImpossibleTransition,
    SessionError,
    TransactionMismatch,
    UndeclaredMove,
)
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
from .machine import TRANSITIONS, step
from .refusal import Refusal, refusal
from .states import LIVE, TERMINAL, GunState, RogueCharge, Session
from .timers import Deadline, Timeout, next_deadline, pending
from .vocab import (
    STOP_COMMAND_REASONS,
    AlarmKind,
    Availability,
    CommandState,
    Flag,
    GunStatus,
    Phase,
    Reason,
    ReportSource,
    StopReason,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEVICE_FAULT_CODE",
    "LIVE",
    "STOP_COMMAND_REASONS",
    "TERMINAL",
    "TRANSITIONS",
    "AccountBook",
    "AccountClaimed",
    "AccountReleased",
    "Action",
    "AlarmKind",
    "AuthorisationRejected",
    "Authorised",
    "Availability",
    "AvailabilityChanged",
    "BillReceived",
    "CommandState",
    "Deadline",
    "Disabled",
    "Enabled",
    "Event",
    "Flag",
    "GunState",
    "GunStatus",
    "ImpossibleTransition",
    "MeterSample",
    "Phase",
    "PileLoggedIn",
    "PileOffline",
    "PileOnline",
    "RaiseAlarm",
    "Reason",
    "Refusal",
    "ReportSource",
    "RogueCharge",
    "SendQueryBills",
    "SendStartCharge",
    "SendStopCharge",
    "ServiceEnded",
    "Session",
    "SessionConfig",
    "SessionError",
    "SessionFlagged",
    "SessionTransition",
    "SessionUpdated",
    "StartCommandAccepted",
    "StartCommandRejected",
    "StartCommandTimedOut",
    "StartConfirmed",
    "StartFailed",
    "StartRequested",
    "StatusConfirmed",
    "StatusReported",
    "StopAcknowledged",
    "StopConfirmed",
    "StopReason",
    "StopRequested",
    "Tick",
    "Timeout",
    "TransactionMismatch",
    "UndeclaredMove",
    "UnmatchedBill",
    "next_deadline",
    "pending",
    "refusal",
    "step",
]
