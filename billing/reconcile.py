"""Reconcile a pile's bill with the gateway's observation and our tariff arithmetic.

`settle` is the single pure entry point for the storage layer. Amount check: the pile's
energy/service amounts are compared with the tariff applied to the pile's own per-period
energies (the pile meters period boundaries exactly; our split is an estimate), or to our
split when the pile's periods do not add up. Allowed difference: amount_tolerance_fen per
priced line. Amount differences are FindingKind.AMOUNT_MISMATCH, not an operator code.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing import tolerances as T
from billing.amounts import ComputedBill, compute_bill
from billing.anomalies import AnomalyCode, Finding, FindingKind, codes_of
from billing.idle_fee import IdleFee, IdleFeeRule, compute_idle_fee
from billing.money import BP, amount_fen
from billing.records import GatewayObservation, PileBill
from billing.tariff import Tariff
from billing.validation import DEFAULT_VALIDATION, ValidationConfig, validate_bill


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    """Defaults from billing/tolerances.py (the table in docs/protocol.md §4.10)."""

    energy_tolerance_dwh: int = T.ENERGY_DIFFERS_DWH  # 8: absolute ...
    energy_tolerance_bp: int = T.ENERGY_DIFFERS_BP  # ... or this share of the gateway's energy
    duration_tolerance_ms: int = T.CHARGE_DURATION_MS  # 9
    idle_tolerance_ms: int = T.IDLE_MS  # 6 (past the gateway's end) and 10
    energy_lost_bp: int = T.ENERGY_LOST_BP  # 11: bill shows < this share of the gateway's ...
    energy_lost_min_dwh: int = T.ENERGY_LOST_MIN_DWH  # ... when it saw at least this much
    amount_tolerance_fen: int = T.AMOUNT_FEN  # per priced line
    max_priced_span_ms: int = 7 * 86_400_000  # longer (garbage) charges priced as one line
    validation: ValidationConfig = DEFAULT_VALIDATION


DEFAULT_RECONCILE = ReconcileConfig()


def reconcile(
    bill: PileBill, obs: GatewayObservation, config: ReconcileConfig = DEFAULT_RECONCILE
) -> list[Finding]:
    """Codes 6 (past the gateway's end), 7, 8, 9, 10, 11 from the gateway's observation."""
    c, out = config, []
    A = AnomalyCode
    gateway_end = obs.gateway_service_end_ms
    if gateway_end is not None and bill.service_end_ms > gateway_end + c.idle_tolerance_ms:
        past = (bill.service_end_ms - gateway_end) // 1000
        out.append(
            Finding.anomaly(A.IDLE_DURATION, f"service end {past} s after the gateway's known end")
        )
    if obs.overlapping_transaction_ids:
        others = ", ".join(obs.overlapping_transaction_ids)
        out.append(Finding.anomaly(A.OVERLAP, f"account also charging in {others}"))
    lost = _energy_lost(bill, obs, c)
    if lost:
        out.append(Finding.anomaly(A.ENERGY_LOST, lost))
    elif obs.energy_dwh is not None and T.exceeds(
        bill.energy_dwh, obs.energy_dwh, c.energy_tolerance_dwh, c.energy_tolerance_bp
    ):
        out.append(
            Finding.anomaly(
                A.ENERGY_DIFFERS, f"bill {bill.energy_dwh} dWh, gateway {obs.energy_dwh} dWh"
            )
        )
    if obs.charge_start_ms is not None and obs.charge_end_ms is not None:
        ours = obs.charge_end_ms - obs.charge_start_ms
        theirs = bill.charge_end_ms - bill.charge_start_ms
        if abs(ours - theirs) > c.duration_tolerance_ms:
            out.append(
                Finding.anomaly(
                    A.CHARGE_DURATION_DIFFERS,
                    f"charge {theirs // 1000} s, gateway {ours // 1000} s",
                )
            )
    if obs.idle_ms is not None:
        theirs = max(0, bill.service_end_ms - bill.charge_end_ms)
        if abs(obs.idle_ms - theirs) > c.idle_tolerance_ms:
            out.append(
                Finding.anomaly(
                    A.IDLE_DURATION_DIFFERS,
                    f"idle {theirs // 1000} s, gateway {obs.idle_ms // 1000} s",
                )
            )
    return out


def _energy_lost(bill: PileBill, obs: GatewayObservation, c: ReconcileConfig) -> str | None:
    """Code 11 supersedes 8: energy flowed but the bill (nearly) does not show it."""
    seen = obs.energy_dwh
    if (
        seen is not None
        and seen >= c.energy_lost_min_dwh
        and (bill.energy_dwh * BP < seen * (BP - c.energy_lost_bp))
    ):
        return f"gateway saw {seen} dWh flow, bill reports {bill.energy_dwh} dWh"
    delta = bill.meter_stop_dwh - bill.meter_start_dwh
    if delta > c.energy_lost_min_dwh and bill.energy_dwh <= 0:
        return f"meter advanced {delta} dWh, bill reports no energy"
    return None


def compare_amounts(
    bill: PileBill,
    tariff: Tariff,
    computed: ComputedBill,
    idle_fee: IdleFee,
    config: ReconcileConfig = DEFAULT_RECONCILE,
) -> list[Finding]:
    """AMOUNT_MISMATCH findings: pile's energy, service and idle amounts vs ours (none when
    the pile reported no amounts)."""
    if not bill.amounts_reported:
        return []
    per_kind = bill.energy_by_kind()
    if all(v >= 0 for v in per_kind.values()) and sum(per_kind.values()) == bill.energy_dwh:
        priced = [(k, e) for k, e in per_kind.items() if e]
        basis = "the pile's per-period energies"
    else:
        priced = [(x.kind, x.energy_dwh) for x in computed.lines if x.energy_dwh]
        basis = "our time-of-use split"
    exp_energy = sum(amount_fen(e, tariff.price(k).energy_e4) for k, e in priced)
    exp_service = sum(amount_fen(e, tariff.price(k).service_e4) for k, e in priced)
    tol = config.amount_tolerance_fen * max(1, len(priced))
    out = []
    src = f"tariff {tariff.tariff_id} on {basis}"
    for name, pile, ours, allowed, how in (
        ("energy amount", bill.energy_amount_fen, exp_energy, tol, src),
        ("service amount", bill.service_amount_fen, exp_service, tol, src),
        ("idle fee", bill.idle_fee_fen, idle_fee.fee_fen, config.amount_tolerance_fen, "ours"),
    ):
        if abs(pile - ours) > allowed:
            out.append(
                Finding(FindingKind.AMOUNT_MISMATCH, f"{name}: pile {pile} fen, {how}: {ours} fen")
            )
    return out


@dataclass(frozen=True, slots=True)
class Settlement:
    transaction_id: str
    computed: ComputedBill  # our time-of-use lines and amounts
    idle_fee: IdleFee  # ours
    pile_energy_amount_fen: int
    pile_service_amount_fen: int
    pile_idle_fee_fen: int
    pile_total_fen: int
    findings: tuple[Finding, ...]
    observed_energy_dwh: int | None = None  # the gateway's own observation, if it has one

    @property
    def our_energy_dwh(self) -> int:
        """The gateway's energy: its observation, else the pile's (our amounts price that)."""
        if self.observed_energy_dwh is not None:
            return self.observed_energy_dwh
        return self.computed.energy_dwh

    @property
    def our_total_fen(self) -> int:
        return self.computed.total_fen + self.idle_fee.fee_fen

    @property
    def difference_fen(self) -> int:
        """Pile total minus ours: > 0 means the pile charged more."""
        return self.pile_total_fen - self.our_total_fen

    @property
    def codes(self) -> frozenset[AnomalyCode]:
        return codes_of(self.findings)


def settle(
    bill: PileBill,
    observation: GatewayObservation,
    tariff: Tariff,
    idle_rule: IdleFeeRule,
    config: ReconcileConfig = DEFAULT_RECONCILE,
    *,
    received_ms: int | None = None,
    max_power_kw: int | None = None,
) -> Settlement:
    """Everything the storage layer needs for one bill. Never raises on bad bill data."""
    # Our amounts are computed on sanitised inputs; the findings record what was wrong.
    # A span beyond max_priced_span_ms (e.g. start = 0) would mean thousands of day lines.
    end = max(bill.charge_start_ms, bill.charge_end_ms)
    start = bill.charge_start_ms if end - bill.charge_start_ms <= config.max_priced_span_ms else end
    computed = compute_bill(tariff, start, end, max(0, bill.energy_dwh), observation.meter_samples)
    idle = compute_idle_fee(
        idle_rule,
        charge_end_ms=bill.charge_end_ms,
        pile_service_end_ms=bill.service_end_ms,
        gateway_service_end_ms=observation.gateway_service_end_ms,
        start_failed=observation.start_failed,
        cancelled=observation.cancelled,
    )
    findings = [
        *validate_bill(bill, config.validation, received_ms=received_ms, max_power_kw=max_power_kw),
        *reconcile(bill, observation, config),
        *compare_amounts(bill, tariff, computed, idle, config),
    ]
    return Settlement(
        bill.transaction_id,
        computed,
        idle,
        bill.energy_amount_fen,
        bill.service_amount_fen,
        bill.idle_fee_fen,
        bill.total_amount_fen,
        tuple(findings),
        observation.energy_dwh,
    )
