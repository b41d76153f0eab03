"""Protocol v1 codes <-> the neutral vocabulary (sessions, gateway.dialect).

The only place that knows both; the other dialects' adapters have siblings of this module.
"""

from __future__ import annotations

from gateway.dialect import BillStatus, LoginRefusal
from protocol.pilegate import BillAckStatus, Channel, GunStatus, Result, StopReason
from sessions import GunStatus as Neutral
from sessions import Reason, Refusal
from sessions import StopReason as NeutralStop

GUN_STATUS: dict[int, Neutral] = {
    GunStatus.AVAILABLE: Neutral.AVAILABLE,
    GunStatus.PREPARING: Neutral.PREPARING,
    GunStatus.CHARGING: Neutral.CHARGING,
    GunStatus.SUSPENDED_EV: Neutral.SUSPENDED,
    GunStatus.SUSPENDED_EVSE: Neutral.SUSPENDED,
    GunStatus.FINISHING: Neutral.FINISHING,
    GunStatus.RESERVED: Neutral.RESERVED,
    GunStatus.UNAVAILABLE: Neutral.UNAVAILABLE,
    GunStatus.FAULTED: Neutral.FAULTED,
}


def channel_name(code: int) -> str:
    try:
        return Channel(code).name.lower()
    except ValueError:
        return f"channel_{code}"


def channel_code(name: str) -> int:
    try:
        return Channel[name.upper()]
    except KeyError:
        names = [c.name.lower() for c in Channel]
        raise ValueError(f"unknown channel {name!r}; one of {names}") from None


def stop_reason_name(code: int) -> str:
    try:
        return StopReason(code).name.lower()
    except ValueError:
        return f"stop_reason_{code}"


def result_name(code: int) -> str:
    try:
        return Result(code).name.lower()
    except ValueError:
        return f"result_{code}"


#: Why the gateway asks a pile to stop, as the protocol's stop reason (§4.3): every value of
#: sessions.STOP_COMMAND_REASONS. A time limit of the gateway is TIMEOUT (§9.3); a stop the
#: gateway re-sends, or sends against charging it did not authorise (§9.4), is REMOTE.
STOP_REASON_CODE: dict[str, int] = {
    NeutralStop.USER: StopReason.USER,
    NeutralStop.REMOTE: StopReason.REMOTE,
    NeutralStop.OPERATOR: StopReason.REMOTE,
    Reason.START_TIMEOUT: StopReason.TIMEOUT,
    Reason.MAX_DURATION: StopReason.TIMEOUT,
    Reason.STOP_TIMEOUT: StopReason.REMOTE,
    Reason.STOP_NOT_HONOURED: StopReason.REMOTE,
    Reason.CHARGING_WITHOUT_SESSION: StopReason.REMOTE,
}

#: Why a new service cannot start (sessions.Refusal), as AUTH_RESULT's result (§4.6). Total:
#: every refusal has its code, so none is turned into another on the way to the pile. The
#: protocol has no code of its own for an offline gun or an operator start under way: both
#: mean "not now, the gun is taken" to the pile, GUN_BUSY.
AUTH_RESULT_CODE: dict[Refusal, Result] = {
    Refusal.PILE_DISABLED: Result.PILE_DISABLED,
    Refusal.GUN_DISABLED: Result.PILE_DISABLED,  # §4.6: "pile (or gun) disabled"
    Refusal.PILE_OFFLINE: Result.GUN_BUSY,
    Refusal.GUN_FAULTED: Result.GUN_FAULTED,
    Refusal.GUN_BUSY: Result.GUN_BUSY,
    Refusal.COMMAND_IN_PROGRESS: Result.GUN_BUSY,
    Refusal.UNKNOWN_GUN: Result.OTHER,
    Refusal.UNKNOWN_ACCOUNT: Result.UNKNOWN_ACCOUNT,
    Refusal.ACCOUNT_DISABLED: Result.AUTH_FAILED,  # known, and refused
    Refusal.ACCOUNT_BUSY: Result.ACCOUNT_BUSY,
}

#: Why a login was refused, as LOGIN_ACK's result (§6.1).
LOGIN_RESULT_CODE: dict[LoginRefusal, Result] = {
    LoginRefusal.UNKNOWN_PILE: Result.UNKNOWN_PILE,
    LoginRefusal.AUTH_FAILED: Result.AUTH_FAILED,
    LoginRefusal.CLOCK_SKEW: Result.CLOCK_SKEW,
}

#: A bill's verdict as BILL_ACK's status (§4.10).
BILL_ACK_STATUS: dict[BillStatus, BillAckStatus] = {
    BillStatus.ACCEPTED: BillAckStatus.ACCEPTED,
    BillStatus.FLAGGED: BillAckStatus.FLAGGED,
    BillStatus.DUPLICATE: BillAckStatus.DUPLICATE,
    BillStatus.REJECTED: BillAckStatus.REJECTED,
}
