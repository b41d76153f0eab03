"""Outputs of step(): commands for the pile, alarms and records for the gateway to act on."""

from __future__ import annotations

from dataclasses import dataclass

from .states import Session
from .vocab import AlarmKind, Availability, Flag, GunStatus, Phase


@dataclass(frozen=True, slots=True)
class SendStartCharge:
    session_id: str
    transaction_id: str
    account: str
    channel: str


@dataclass(frozen=True, slots=True)
class SendStopCharge:
    transaction_id: str | None  # None: charge of unknown transaction, stop the gun
    reason: str  # one of vocab.STOP_COMMAND_REASONS


@dataclass(frozen=True, slots=True)
class SendQueryBills:
    transaction_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    kind: AlarmKind
    detail: str
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionTransition:
    """Persist and publish: every phase change of every session. record is the new state."""

    session_id: str
    from_phase: Phase | None
    to_phase: Phase
    reason: str
    at_ms: int
    record: Session


@dataclass(frozen=True, slots=True)
class SessionFlagged:
    """New flags on a session without a phase change (e.g. overlap on a cancelled one)."""

    session_id: str
    flags: frozenset[Flag]
    at_ms: int
    record: Session


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """A session changed in what a restart must keep (timers, alarms, retries) and no
    transition or flag in the same step carried its final record: persist it."""

    session_id: str
    at_ms: int
    record: Session


@dataclass(frozen=True, slots=True)
class AccountClaimed:
    """The account must be held (one active service per account, across all guns)."""

    account: str
    session_id: str


@dataclass(frozen=True, slots=True)
class AccountReleased:
    account: str
    session_id: str


@dataclass(frozen=True, slots=True)
class StatusConfirmed:
    """A confirmed gun status change: the only status change users are told about (case 3)."""

    status: GunStatus
    previous: GunStatus
    at_ms: int
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityChanged:
    availability: Availability
    previous: Availability
    at_ms: int


@dataclass(frozen=True, slots=True)
class UnmatchedBill:
    """A bill matching no session this gun remembers: the gateway stores it, reconciles via DB."""

    transaction_id: str
    at_ms: int


Action = (
    SendStartCharge
    | SendStopCharge
    | SendQueryBills
    | RaiseAlarm
    | SessionTransition
    | SessionFlagged
    | SessionUpdated
    | AccountClaimed
    | AccountReleased
    | StatusConfirmed
    | AvailabilityChanged
    | UnmatchedBill
)
