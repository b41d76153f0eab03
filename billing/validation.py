"""Self-consistency checks on a pile's bill. Never raises on bad data: returns findings."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from billing import tolerances as T
from billing.anomalies import AnomalyCode, Finding, FindingKind
from billing.money import BP
from billing.records import PileBill

HOUR_MS = T.HOUR_MS
MS_PER_KW_DWH = 360  # 1 kW for 360 ms = 0.1 Wh


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """Defaults from billing/tolerances.py (the table in docs/protocol.md §4.10)."""

    clock_skew_ms: int = T.CLOCK_SKEW_MS  # 3
    energy_tolerance_dwh: int = T.METER_ENERGY_DWH  # 4: energy vs meter delta, absolute ...
    energy_tolerance_bp: int = T.METER_ENERGY_BP  # ... or this share of the delta
    max_power_kw: int = 360  # 4: when the pile's model has no limit of its own (config)
    power_tolerance_bp: int = T.POWER_MARGIN_BP  # 4: over the limit before implausible
    power_slack_dwh: int = T.POWER_SLACK_DWH  # 4: energy ignored on very short charges
    max_charge_ms: int = T.MAX_CHARGE_MS  # 5
    zero_duration_energy_dwh: int = T.ZERO_DURATION_ENERGY_DWH  # 5
    max_idle_ms: int = T.MAX_IDLE_MS  # 6
    amount_tolerance_fen: int = T.AMOUNT_FEN  # pile total vs its own parts


DEFAULT_VALIDATION = ValidationConfig()


def validate_bill(
    bill: PileBill,
    config: ValidationConfig = DEFAULT_VALIDATION,
    *,
    received_ms: int | None = None,
    max_power_kw: int | None = None,
) -> list[Finding]:
    """Findings about times (3), energy (4), durations (5, 6) and amounts.

    received_ms: when the gateway received the bill (times after it + skew are future)."""
    return [
        *_times(bill, config, received_ms),
        *_energy(bill, config, max_power_kw or config.max_power_kw),
        *_durations(bill, config),
        *_amounts(bill, config),
    ]


def _times(b: PileBill, c: ValidationConfig, received_ms: int | None) -> list[Finding]:
    out = []
    named = [
        ("authorised", b.authorised_ms),
        ("charge start", b.charge_start_ms),
        ("charge end", b.charge_end_ms),
        ("service end", b.service_end_ms),
    ]
    for name, t in named:
        if t <= 0:
            out.append(Finding.anomaly(AnomalyCode.TIME, f"{name} missing or before 1970 ({t})"))
    for (n0, t0), (n1, t1) in pairwise(named):
        if t0 > t1 + c.clock_skew_ms:
            out.append(
                Finding.anomaly(AnomalyCode.TIME, f"{n0} is {(t0 - t1) // 1000} s after {n1}")
            )
    if received_ms is not None:
        latest_name, latest = max(named, key=lambda nt: nt[1])
        if latest > received_ms + c.clock_skew_ms:
            out.append(
                Finding.anomaly(
                    AnomalyCode.TIME,
                    f"{latest_name} is {(latest - received_ms) // 1000} s in the future",
                )
            )
    return out


def _energy(b: PileBill, c: ValidationConfig, max_kw: int) -> list[Finding]:
    out = []
    E = AnomalyCode.ENERGY
    if b.energy_dwh < 0:
        out.append(Finding.anomaly(E, f"negative energy {b.energy_dwh} dWh"))
    delta = b.meter_stop_dwh - b.meter_start_dwh
    if delta < 0:
        out.append(Finding.anomaly(E, f"meter went backwards by {-delta} dWh"))
    elif T.exceeds(b.energy_dwh, delta, c.energy_tolerance_dwh, c.energy_tolerance_bp):
        out.append(
            Finding.anomaly(E, f"energy {b.energy_dwh} dWh does not match meter delta {delta} dWh")
        )
    # A pile that reports no amounts (OCPP) has no split of its own to check.
    per_kind = b.energy_by_kind() if b.amounts_reported else {}
    if any(v < 0 for v in per_kind.values()):
        out.append(Finding.anomaly(E, "negative per-period energy"))
    if per_kind and sum(per_kind.values()) != b.energy_dwh:
        out.append(
            Finding.anomaly(
                E, f"per-period energies sum to {sum(per_kind.values())}, total {b.energy_dwh}"
            )
        )
    duration = b.charge_end_ms - b.charge_start_ms
    # energy * 360 > kW * ms * (1 + tol), in integers; the absolute slack covers
    # second-resolution timestamps on very short charges. Zero duration is code 5's.
    limit = max_kw * duration * (BP + c.power_tolerance_bp)
    if duration > 0 and (b.energy_dwh - c.power_slack_dwh) * MS_PER_KW_DWH * BP > limit:
        kw = b.energy_dwh * MS_PER_KW_DWH // duration
        out.append(Finding.anomaly(E, f"energy implies {kw} kW average, pile limit {max_kw} kW"))
    return out


def _durations(b: PileBill, c: ValidationConfig) -> list[Finding]:
    out = []
    charge = b.charge_end_ms - b.charge_start_ms
    if charge > c.max_charge_ms:
        out.append(
            Finding.anomaly(AnomalyCode.CHARGE_DURATION, f"charge lasted {charge // HOUR_MS} h")
        )
    if charge <= 0 and b.energy_dwh > c.zero_duration_energy_dwh:
        out.append(
            Finding.anomaly(
                AnomalyCode.CHARGE_DURATION, f"{b.energy_dwh} dWh with no charge duration"
            )
        )
    idle = b.service_end_ms - b.charge_end_ms
    if idle > c.max_idle_ms:
        out.append(Finding.anomaly(AnomalyCode.IDLE_DURATION, f"idle for {idle // HOUR_MS} h"))
    return out


def _amounts(b: PileBill, c: ValidationConfig) -> list[Finding]:
    out = []
    parts = {
        "energy amount": b.energy_amount_fen,
        "service amount": b.service_amount_fen,
        "idle fee": b.idle_fee_fen,
        "total amount": b.total_amount_fen,
    }
    for name, v in parts.items():
        if v < 0:
            out.append(Finding(FindingKind.AMOUNT_NEGATIVE, f"{name} is negative ({v} fen)"))
    own = b.energy_amount_fen + b.service_amount_fen + b.idle_fee_fen
    if abs(b.total_amount_fen - own) > c.amount_tolerance_fen:
        out.append(
            Finding(
                FindingKind.AMOUNT_INCONSISTENT,
                f"total {b.total_amount_fen} fen != energy+service+idle {own} fen",
            )
        )
    return out
