"""Per-bill findings: the operator's anomaly codes plus our own amount checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class AnomalyCode(IntEnum):
    """Numbered exactly as the operator's monthly reports (docs/field-cases.md)."""

    BILL_LOST = 1
    BILL_LOST_OFFLINE = 2
    TIME = 3
    ENERGY = 4
    CHARGE_DURATION = 5
    IDLE_DURATION = 6
    OVERLAP = 7
    ENERGY_DIFFERS = 8
    CHARGE_DURATION_DIFFERS = 9
    IDLE_DURATION_DIFFERS = 10
    ENERGY_LOST = 11


class FindingKind(StrEnum):
    ANOMALY = "anomaly"  # carries an AnomalyCode
    AMOUNT_NEGATIVE = "amount_negative"  # a pile amount < 0 (field case 6)
    AMOUNT_INCONSISTENT = "amount_inconsistent"  # pile total != its own parts
    AMOUNT_MISMATCH = "amount_mismatch"  # pile amount != ours from the tariff


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    reason: str
    code: AnomalyCode | None = None

    @classmethod
    def anomaly(cls, code: AnomalyCode, reason: str) -> Finding:
        return cls(FindingKind.ANOMALY, reason, code)


def codes_of(findings: Iterable[Finding]) -> frozenset[AnomalyCode]:
    return frozenset(f.code for f in findings if f.code is not None)


def lost_bill_code(pile_was_offline: bool) -> AnomalyCode:
    """Code for a service whose bill never arrived (no bill to reconcile)."""
    return AnomalyCode.BILL_LOST_OFFLINE if pile_was_offline else AnomalyCode.BILL_LOST
