"""Integer money arithmetic shared by the billing modules.

Units: energy in 0.1 Wh (``_dwh``), prices in 0.0001 CNY/kWh (``_e4``), money in fen.
amount_fen = energy_dwh * price_e4 / 1_000_000, rounded ROUND_HALF_UP (halves away from
zero, like ``decimal.ROUND_HALF_UP``) once per bill line; bill totals are sums of lines.
"""

from __future__ import annotations

from fractions import Fraction

DWH_PER_KWH = 10_000
BP = 10_000  # basis points in one whole: ratios in configs are int basis points
AMOUNT_DIVISOR = 1_000_000  # dwh * e4 -> fen: (1/10_000 kWh) * (1/10_000 CNY) / (1/100 CNY)


def div_round_half_up(num: int, den: int) -> int:
    """num / den rounded to the nearest integer, halves away from zero."""
    if den <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def round_half_up(x: Fraction) -> int:
    return div_round_half_up(x.numerator, x.denominator)


def amount_fen(energy_dwh: int, price_e4: int) -> int:
    """Money for one line: energy times price, rounded half-up to the fen."""
    return div_round_half_up(energy_dwh * price_e4, AMOUNT_DIVISOR)
