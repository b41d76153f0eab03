"""OCPP 1.6 words <-> the session machine's neutral vocabulary (the OCPP sibling of the v1
code tables)."""

from __future__ import annotations

from typing import Any

from sessions import GunStatus, Reason, Refusal
from sessions import StopReason as NeutralStop

#: ChargePointStatus -> the gun's status. Connector 0 (the charge point itself) is no gun.
GUN_STATUS: dict[str, GunStatus] = {
    "Available": GunStatus.AVAILABLE,
    "Preparing": GunStatus.PREPARING,
    "Charging": GunStatus.CHARGING,
    "SuspendedEV": GunStatus.SUSPENDED,
    "SuspendedEVSE": GunStatus.SUSPENDED,
    "Finishing": GunStatus.FINISHING,
    "Reserved": GunStatus.RESERVED,
    "Unavailable": GunStatus.UNAVAILABLE,
    "Faulted": GunStatus.FAULTED,
}

#: ChargePointErrorCode -> the neutral fault code (None: no error). Numbered in the order of
#: the 1.6 enumeration, so that the operator sees a stable number beside the name.
FAULT_CODE: dict[str, int | None] = {
    "NoError": None,
    "ConnectorLockFailure": 1,
    "EVCommunicationError": 2,
    "GroundFailure": 3,
    "HighTemperature": 4,
    "InternalError": 5,
    "LocalListConflict": 6,
    "OtherError": 7,
    "OverCurrentFailure": 8,
    "PowerMeterFailure": 9,
    "PowerSwitchFailure": 10,
    "ReaderFailure": 11,
    "ResetFailure": 12,
    "UnderVoltage": 13,
    "OverVoltage": 14,
    "WeakSignal": 15,
}

#: Why the gateway refuses an idTag -> AuthorizationStatus. An account already holding a
#: service is OCPP's ConcurrentTx; a disabled account is Blocked; everything about the charger
#: or the connector (busy, faulted, disabled) is Blocked too: the tag is fine, not now.
ID_TAG_STATUS: dict[Refusal, str] = {
    Refusal.UNKNOWN_ACCOUNT: "Invalid",
    Refusal.ACCOUNT_DISABLED: "Blocked",
    Refusal.ACCOUNT_BUSY: "ConcurrentTx",
    Refusal.PILE_DISABLED: "Blocked",
    Refusal.GUN_DISABLED: "Blocked",
    Refusal.PILE_OFFLINE: "Blocked",
    Refusal.GUN_FAULTED: "Blocked",
    Refusal.GUN_BUSY: "Blocked",
    Refusal.COMMAND_IN_PROGRESS: "Blocked",
    Refusal.UNKNOWN_GUN: "Invalid",
}

#: OCPP's StopTransaction reasons in the order the v1 bill's stop_reason field numbers them
#: (0: none given). The bill keeps the number; the transaction row keeps the name.
STOP_REASONS = (
    None, "EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
    "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized",
)  # fmt: skip


def stop_reason_number(reason: str | None) -> int:
    try:
        return STOP_REASONS.index(reason)
    except ValueError:
        return STOP_REASONS.index("Other")


#: Why the gateway stops a charge (sessions.STOP_COMMAND_REASONS): RemoteStopTransaction has
#: no reason field, so this is only logged.
STOP_COMMAND_REASON: dict[str, str] = {
    NeutralStop.USER: "user",
    NeutralStop.REMOTE: "remote",
    NeutralStop.OPERATOR: "operator",
    Reason.START_TIMEOUT: "start_timeout",
    Reason.MAX_DURATION: "max_duration",
    Reason.STOP_TIMEOUT: "stop_timeout",
    Reason.STOP_NOT_HONOURED: "stop_not_honoured",
    Reason.CHARGING_WITHOUT_SESSION: "charging_without_session",
}

WH_TO_DWH = 10  # OCPP meters count Wh; the gateway's unit is 0.1 Wh

#: Configuration keys whose value is a secret: never journaled, logged or stored in clear.
SECRET_KEYS = frozenset({"AuthorizationKey"})


def redacted(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A payload fit for the journal and the logs: no password."""
    if action == "ChangeConfiguration" and payload.get("key") in SECRET_KEYS:
        return {**payload, "value": "***"}
    return payload
