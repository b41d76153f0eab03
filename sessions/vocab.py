"""Neutral vocabulary shared by events, states and actions.

The gateway maps each wire protocol (its own, OCPP 1.6J, YKC) onto these values, so nothing
here names a protocol code except the device-fault code the field cases depend on.
"""

from __future__ import annotations

from enum import StrEnum


class GunStatus(StrEnum):
    """What a pile reports for one gun."""

    AVAILABLE = "available"  # idle, unplugged
    PREPARING = "preparing"  # plugged, not charging
    CHARGING = "charging"
    SUSPENDED = "suspended"  # charge paused by EV or EVSE; still a charge
    FINISHING = "finishing"  # charge ended, still plugged
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"


class Phase(StrEnum):
    """Phase of one service (session) on a gun."""

    AUTHORISED = "authorised"  # account checked, no start yet
    STARTING = "starting"  # start command sent
    CHARGING = "charging"
    STOPPING = "stopping"  # stop command sent, not yet confirmed
    FINISHED = "finished"  # charge ended, still plugged
    CLOSED = "closed"  # service ended (unplug/logout/timeout), waiting for the bill
    SETTLED = "settled"  # bill received, or given up as lost
    CANCELLED = "cancelled"  # ended before any charge
    FAILED = "failed"  # the pile could not start


class Availability(StrEnum):
    """What operators and apps see for a gun."""

    AVAILABLE = "available"
    BUSY = "busy"  # a live session, or charging without one
    FAULTED = "faulted"
    DISABLED = "disabled"
    OFFLINE = "offline"


class CommandState(StrEnum):
    """Fate of the remote start command of a session."""

    NONE = "none"  # never sent (e.g. a card start at the pile)
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


class ReportSource(StrEnum):
    HEARTBEAT = "heartbeat"
    STATUS_CHANGE = "status_change"
    RECONNECT = "reconnect"


class StopReason(StrEnum):
    """Who asked for a stop (StopRequested)."""

    USER = "user"
    REMOTE = "remote"
    OPERATOR = "operator"


class Reason(StrEnum):
    """Reasons carried by SessionTransition and SendStopCharge."""

    AUTHORISED = "authorised"
    START_REQUESTED = "start_requested"
    START_CONFIRMED = "start_confirmed"
    START_CONFIRMED_BY_STATUS = "start_confirmed_by_status"
    START_REJECTED = "start_rejected"
    START_COMMAND_TIMEOUT = "start_command_timeout"
    START_TIMEOUT = "start_timeout"
    DEVICE_FAULT = "device_fault"
    PILE_STOPPED = "pile_stopped"
    PILE_FINISHED = "pile_finished"
    UNPLUGGED = "unplugged"
    UNPLUGGED_BEFORE_START = "unplugged_before_start"
    SERVICE_ENDED = "service_ended"
    STOP_NOT_HONOURED = "stop_not_honoured"
    STOP_TIMEOUT = "stop_timeout"
    UNPLUG_TIMEOUT = "unplug_timeout"
    MAX_DURATION = "max_duration"
    OFFLINE_TIMEOUT = "offline_timeout"
    ENDED_WHILE_OFFLINE = "ended_while_offline"
    CHARGING_WITHOUT_SESSION = "charging_without_session"
    BILL_RECEIVED = "bill_received"
    BILL_BEFORE_START = "bill_before_start"
    LATE_BILL = "late_bill"
    BILL_LOST = "bill_lost"


#: Every reason a SendStopCharge can carry: who asked for the stop, or which gateway rule
#: (a timeout, charging without a session) stops the charge. Each protocol mapping must
#: translate every one of them (gateway/mapping.py for protocol v1).
STOP_COMMAND_REASONS: frozenset[str] = frozenset(
    {
        StopReason.USER,
        StopReason.REMOTE,
        StopReason.OPERATOR,
        Reason.START_TIMEOUT,
        Reason.MAX_DURATION,
        Reason.STOP_TIMEOUT,
        Reason.STOP_NOT_HONOURED,
        Reason.CHARGING_WITHOUT_SESSION,
    }
)


class AlarmKind(StrEnum):
    STOP_NOT_HONOURED = "stop_not_honoured"
    CHARGING_WITHOUT_SESSION = "charging_without_session"
    START_LATE_AFTER_TIMEOUT = "start_late_after_timeout"
    FAULT = "fault"
    BILL_WAIT_TIMEOUT = "bill_wait_timeout"
    BILL_LOST = "bill_lost"
    OFFLINE_TIMEOUT = "offline_timeout"


class Flag(StrEnum):
    """Marks on a session record that billing and reports read."""

    OVERLAP = "overlap"  # the account was charging here while the gateway thought it free
    LATE_START = "late_start"  # the pile started after the gateway had given up
    STOP_NOT_HONOURED = "stop_not_honoured"  # energy may have flowed after a stop
    # A bill arrived after a cancelled/failed start: idle time is capped at gateway_service_end_ms.
    LATE_BILL = "late_bill"
    LATE_LOGOUT = "late_logout"  # logout arrived after the gateway had ended the service
    ENDED_OFFLINE = "ended_offline"  # closed by the offline timeout, outcome unknown
    BILL_LOST = "bill_lost"
    LOST_WHILE_OFFLINE = "lost_while_offline"
