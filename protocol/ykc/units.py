"""Exact conversions between YKC's scaled integers and Decimal (never float: these are money)."""

from __future__ import annotations

from decimal import Decimal

PRICE_PLACES = 5  # CNY/kWh, x0.00001
AMOUNT_PLACES = 4  # CNY, x0.0001
ENERGY_PLACES = 4  # kWh, x0.0001 (= 0.1 Wh)
BALANCE_PLACES = 2  # CNY, x0.01


def to_decimal(raw: int, places: int) -> Decimal:
    """``raw`` x 10^-places, exactly: to_decimal(150000, 5) == Decimal("1.50000")."""
    return Decimal(raw).scaleb(-places)


def from_decimal(value: Decimal | int | str, places: int) -> int:
    """The integer that ``value`` is at this scale; ValueError if it would need rounding."""
    scaled = Decimal(value).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {places} decimal places")
    return int(scaled)
