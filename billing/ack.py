"""Why a bill is FLAGGED, as the pile reads it: the BILL_ACK status and anomaly bitmask.

Every reason the gateway has for FLAGGED (an anomaly code, an amount finding, a mark on the
session) sets a bit of protocol.AnomalyBit, so the pile never gets FLAGGED with mask 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from billing.anomalies import Finding, FindingKind
from protocol.pilegate import AnomalyBit, BillAckStatus
from sessions import Flag


class BillFlag(StrEnum):
    """The gateway's marks on a bill about the service it belongs to (beside Flag)."""

    UNKNOWN_SESSION = "unknown_session"
    SESSION_CANCELLED = "session_cancelled"
    SESSION_FAILED = "session_failed"


_FINDING_BITS = {
    FindingKind.AMOUNT_MISMATCH: AnomalyBit.AMOUNT_MISMATCH,
    FindingKind.AMOUNT_NEGATIVE: AnomalyBit.AMOUNT_NEGATIVE,
    FindingKind.AMOUNT_INCONSISTENT: AnomalyBit.AMOUNT_INCONSISTENT,
}

#: Bill and session flags by their stored names.
FLAG_BITS: dict[str, AnomalyBit] = {
    BillFlag.UNKNOWN_SESSION: AnomalyBit.UNKNOWN_SESSION,
    BillFlag.SESSION_CANCELLED: AnomalyBit.SESSION_CANCELLED,
    BillFlag.SESSION_FAILED: AnomalyBit.START_FAILED,
    Flag.OVERLAP: AnomalyBit.OVERLAP,
    Flag.LATE_START: AnomalyBit.LATE_START,
    Flag.STOP_NOT_HONOURED: AnomalyBit.STOP_NOT_HONOURED,
    Flag.LATE_BILL: AnomalyBit.LATE_BILL,
    Flag.LATE_LOGOUT: AnomalyBit.LATE_LOGOUT,
    Flag.ENDED_OFFLINE: AnomalyBit.ENDED_OFFLINE,
    Flag.BILL_LOST: AnomalyBit.BILL_LOST,
    Flag.LOST_WHILE_OFFLINE: AnomalyBit.BILL_LOST_OFFLINE,
}


def finding_bit(finding: Finding) -> AnomalyBit:
    if finding.code is not None:
        return AnomalyBit(int(finding.code))  # bit n = operator code n
    return _FINDING_BITS.get(finding.kind, AnomalyBit.OTHER)


def reason_mask(findings: Iterable[Finding], flags: Iterable[str]) -> int:
    """The BILL_ACK bitmask of every reason: findings and flags (unknown ones: OTHER)."""
    mask = 0
    for f in findings:
        mask |= 1 << finding_bit(f)
    for flag in flags:
        mask |= 1 << FLAG_BITS.get(flag, AnomalyBit.OTHER)
    return mask


class AckStatus(StrEnum):
    """A stored bill's status, in any dialect's words once its adapter maps it."""

    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    DUPLICATE = "duplicate"


def ack_status(duplicate: bool, mask: int) -> AckStatus:
    """DUPLICATE for a bill stored before; else FLAGGED exactly when a reason bit is set, so
    a pile never reads FLAGGED with mask 0."""
    if duplicate:
        return AckStatus.DUPLICATE
    return AckStatus.FLAGGED if mask else AckStatus.ACCEPTED


_ACK_CODES = {
    AckStatus.ACCEPTED: BillAckStatus.ACCEPTED,
    AckStatus.FLAGGED: BillAckStatus.FLAGGED,
    AckStatus.DUPLICATE: BillAckStatus.DUPLICATE,
}


def bill_ack(duplicate: bool, findings: Iterable[Finding], flags: Iterable[str]) -> tuple[int, int]:
    """(BillAckStatus, anomalies) for a stored bill (`ack_status` in protocol v1's codes)."""
    mask = reason_mask(findings, flags)
    return _ACK_CODES[ack_status(duplicate, mask)], mask
