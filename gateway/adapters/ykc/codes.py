"""YKC's codes <-> pilegate's neutral vocabulary: gun status, channels, refusals, results.

The only module that knows both the YKC numbers (docs/ykc.md §4) and `sessions`' names.
"""

from __future__ import annotations

from sessions import GunStatus, Refusal

# 0x13 real-time data: status 0 offline, 1 fault, 2 idle, 3 charging.
OFFLINE, FAULT, IDLE, CHARGING = 0, 1, 2, 3


def gun_status(status: int, plugged: int) -> GunStatus | None:
    """A real-time frame's gun status; None for a value YKC does not define. An idle gun is
    PREPARING while plugged (a charge may start or has just ended), AVAILABLE once unplugged:
    unplugging is the end of a YKC service, as a logout is for protocol v1."""
    if status == CHARGING:
        return GunStatus.CHARGING
    if status == IDLE:
        return GunStatus.PREPARING if plugged == 1 else GunStatus.AVAILABLE
    if status == FAULT:
        return GunStatus.FAULTED
    if status == OFFLINE:
        return GunStatus.UNAVAILABLE
    return None


#: 0x31 start mode -> pilegate channel name (mode 2, "account", is a start by account number).
START_MODE_CHANNEL: dict[int, str] = {1: "card", 2: "own_app", 3: "vin"}

#: The bill's trade flag -> channel name.
TRADE_FLAG_CHANNEL: dict[int, str] = {1: "own_app", 2: "card", 4: "offline_card", 5: "vin"}


def trade_channel(flag: int) -> str:
    return TRADE_FLAG_CHANNEL.get(flag, f"trade_flag_{flag}")


#: Why a start is refused, as 0x32's fail reason. YKC has no code for a busy or faulted gun of
#: its own: "the pile has an unsettled order" (0x0A) is what a pile shows for a taken gun, and
#: "pile disabled" (0x05) for one that cannot serve.
AUTH_FAIL_REASON: dict[Refusal, int] = {
    Refusal.UNKNOWN_ACCOUNT: 0x01,
    Refusal.ACCOUNT_DISABLED: 0x02,  # frozen
    Refusal.ACCOUNT_BUSY: 0x04,  # the card has an unsettled order
    Refusal.PILE_DISABLED: 0x05,
    Refusal.GUN_DISABLED: 0x05,
    Refusal.GUN_FAULTED: 0x05,
    Refusal.UNKNOWN_GUN: 0x05,
    Refusal.PILE_OFFLINE: 0x0A,
    Refusal.GUN_BUSY: 0x0A,
    Refusal.COMMAND_IN_PROGRESS: 0x0A,
}
VIN_UNKNOWN = 0x09  # an unknown account when the start was by VIN


def auth_fail_reason(refusal: Refusal, start_mode: int) -> int:
    if refusal is Refusal.UNKNOWN_ACCOUNT and start_mode == 3:
        return VIN_UNKNOWN
    return AUTH_FAIL_REASON[refusal]


#: 0x33 fail reasons, by name for the operator (`Reply.status`).
START_FAIL: dict[int, str] = {
    0: "failed",
    1: "pile_id_mismatch",
    2: "gun_busy",
    3: "device_fault",
    4: "offline",
    5: "not_plugged",
}
#: 0x35 fail reasons.
STOP_FAIL: dict[int, str] = {0: "failed", 1: "pile_id_mismatch", 2: "not_charging", 3: "other"}


def fail_name(table: dict[int, str], reason: int) -> str:
    return table.get(reason, f"reason_{reason}")


# Bill stop reasons (the SPEC's appendix table): ranges, not single codes.
NORMAL_END = range(0x40, 0x4A)
START_FAILED = range(0x4A, 0x6A)
ABNORMAL_END = range(0x6A, 0x90)


def stop_kind(code: int) -> str:
    """ "normal", "start_failed", "abnormal" or "unknown" for a bill's stop reason."""
    if code in NORMAL_END:
        return "normal"
    if code in START_FAILED:
        return "start_failed"
    if code in ABNORMAL_END:
        return "abnormal"
    return "unknown"
