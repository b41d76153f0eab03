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
