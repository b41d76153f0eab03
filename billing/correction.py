"""Bill corrections (field case 12): recompute amounts for corrected energy."""

from __future__ import annotations

from fractions import Fraction
from itertools import accumulate, pairwise

from billing.amounts import ComputedBill, price_lines
from billing.money import round_half_up
from billing.tariff import Tariff


def correct_energy(original: ComputedBill, new_energy_dwh: int, tariff: Tariff) -> ComputedBill:
    """Re-split new_energy_dwh over the original lines in their energy proportions (by
    duration if the original had no energy; all on the last line if it had neither) and
    re-price from the tariff. Same cumulative half-up rounding as compute_bill."""
    if new_energy_dwh < 0:
        raise ValueError("corrected energy must be >= 0")
    lines = original.lines
    weights = [x.energy_dwh for x in lines]
    if sum(weights) <= 0:
        weights = [x.end_ms - x.start_ms for x in lines]
    if sum(weights) <= 0:
        weights = [0] * (len(lines) - 1) + [1]
    whole = sum(weights)
    cum = [0, *(round_half_up(Fraction(new_energy_dwh * c, whole)) for c in accumulate(weights))]
    return price_lines(
        tariff,
        (
            (x.kind, x.start_ms, x.end_ms, b - a)
            for x, (a, b) in zip(lines, pairwise(cum), strict=True)
        ),
    )


def refund_fen(original: ComputedBill, corrected: ComputedBill) -> int:
    """Money to give back (negative: to charge extra) = original total - corrected total."""
    return original.total_fen - corrected.total_fen


# A correction beyond these is far more likely a typo (kWh for Wh, a digit too many) than a
# meter fault: it is refused unless the operator insists (--force).
SANE_FACTOR = 2
SANE_MARGIN_DWH = 100_000  # 10 kWh


def implausible_correction(
    original_energy_dwh: int, new_energy_dwh: int, charge_ms: int, max_power_kw: int
) -> str | None:
    """Why new_energy_dwh is not a believable correction of a bill of original_energy_dwh
    charged over charge_ms on a pile of at most max_power_kw, or None. Lowering is always
    believable (a refund); raising is bounded by twice the bill plus 10 kWh and by what
    the pile could deliver in the charge time."""
    reasons = []
    if new_energy_dwh > SANE_FACTOR * original_energy_dwh + SANE_MARGIN_DWH:
        reasons.append(
            f"more than twice the bill's {original_energy_dwh / 10_000:g} kWh plus "
            f"{SANE_MARGIN_DWH / 10_000:g} kWh"
        )
    if charge_ms > 0:
        deliverable = max_power_kw * charge_ms // 360  # kW * ms -> 0.1 Wh
        if new_energy_dwh > deliverable:
            reasons.append(
                f"more than a {max_power_kw} kW pile delivers in the bill's "
                f"{charge_ms / 60_000:.0f}-minute charge ({deliverable / 10_000:g} kWh)"
            )
    if not reasons:
        return None
    return f"{new_energy_dwh / 10_000:g} kWh is " + " and ".join(reasons)
