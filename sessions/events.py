"""Neutral input events. The gateway translates protocol frames and its own decisions into these.

Time is not part of an event: step() takes now_ms. Times that the *pile* claims (its logout
time) are carried as data because they may disagree with the gateway's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import GunStatus, ReportSource, StopReason


@dataclass(frozen=True, slots=True)
class Authorised:
    """The gateway has checked the account (and the global one-active-service rule)."""

    session_id: str
    transaction_id: str
    account: str
    channel: str


@dataclass(frozen=True, slots=True)
class StartRequested:
    """The gateway is about to send a remote start for the authorised session."""


@dataclass(frozen=True, slots=True)
class StartCommandAccepted:
    """The pile acknowledged the remote start command (COMMAND_ACK ok)."""


@dataclass(frozen=True, slots=True)
class StartCommandRejected:
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StartCommandTimedOut:
    """No acknowledgement to the remote start within the transport's limit."""


@dataclass(frozen=True, slots=True)
class StartConfirmed:
    """The pile says energy flows for this transaction."""

    transaction_id: str
    meter_start: int | None = None  # Wh


@dataclass(frozen=True, slots=True)
class StartFailed:
    transaction_id: str
    reason: str = "device_fault"
    code: int | None = None


@dataclass(frozen=True, slots=True)
class StopRequested:
    reason: StopReason = StopReason.USER


@dataclass(frozen=True, slots=True)
class StopAcknowledged:
    """The pile acknowledged a stop command (it may still keep charging: case 2)."""


@dataclass(frozen=True, slots=True)
class StopConfirmed:
    """The pile says the charge ended (meter at the end)."""

    meter_stop: int | None = None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReported:
    """A heartbeat or status-change report for the gun."""

    status: GunStatus
    fault_code: int | None = None
    meter: int | None = None  # Wh
    power: int | None = None  # W
    soc: int | None = None  # %
    source: ReportSource = ReportSource.HEARTBEAT


@dataclass(frozen=True, slots=True)
class MeterSample:
    meter: int
    power: int | None = None
    soc: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceEnded:
    """The pile's logout / unplug. pile_time_ms is what the pile claims, kept as data only."""

    pile_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BillReceived:
    """The pile uploaded its bill for this transaction (the gateway stores it regardless)."""

    transaction_id: str


@dataclass(frozen=True, slots=True)
class PileOffline:
    pass


@dataclass(frozen=True, slots=True)
class PileLoggedIn:
    """The pile logged in again: it is reachable, so the gun is no longer offline.

    What happened while it was away is reconciled when it reports the gun (PileOnline); its
    first report may come a whole heartbeat interval after the login.
    """


@dataclass(frozen=True, slots=True)
class PileOnline:
    """The pile's first report of this gun after it logged in again."""

    status: GunStatus
    fault_code: int | None = None
    meter: int | None = None


@dataclass(frozen=True, slots=True)
class Disabled:
    """Operator disabled the gun/pile (case 8)."""


@dataclass(frozen=True, slots=True)
class Enabled:
    pass


@dataclass(frozen=True, slots=True)
class Tick:
    """Fed by the gateway at (or after) next_deadline(state)."""


Event = (
    Authorised
    | StartRequested
    | StartCommandAccepted
    | StartCommandRejected
    | StartCommandTimedOut
    | StartConfirmed
    | StartFailed
    | StopRequested
    | StopAcknowledged
    | StopConfirmed
    | StatusReported
    | MeterSample
    | ServiceEnded
    | BillReceived
    | PileOffline
    | PileLoggedIn
    | PileOnline
    | Disabled
    | Enabled
    | Tick
)
