"""Shared test data: the field-case station tariff (peak 1.06, flat 0.70, valley 0.27)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff

CST = timezone(timedelta(hours=8))
K = PeriodKind


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 6) -> int:
    """UTC epoch ms of a China-local wall-clock time in 2020."""
    return int(datetime(2020, month, day, hour, minute, second, tzinfo=CST).timestamp() * 1000)


PRICES = {
    K.SHARP: PeriodPrice(12_000, 8_000),
    K.PEAK: PeriodPrice(10_600, 8_000),
    K.FLAT: PeriodPrice(7_000, 8_000),
    K.VALLEY: PeriodPrice(2_700, 8_000),
}
# 00 valley, 08 flat, 10 peak, 12 flat, 18 peak, 19 sharp, 21 peak, 22 flat, 23 valley
DAY = (
    Segment(0, K.VALLEY),
    Segment(8 * 60, K.FLAT),
    Segment(10 * 60, K.PEAK),
    Segment(12 * 60, K.FLAT),
    Segment(18 * 60, K.PEAK),
    Segment(19 * 60, K.SHARP),
    Segment(21 * 60, K.PEAK),
    Segment(22 * 60, K.FLAT),
    Segment(23 * 60, K.VALLEY),
)


def station_tariff(
    tariff_id: str = "st-2020", effective_from_ms: int = 0, station: str = "S1"
) -> Tariff:
    return Tariff(tariff_id, ScopeKind.STATION, station, effective_from_ms, PRICES, DAY)


TARIFF = station_tariff()
IDLE_RULE = IdleFeeRule(grace_minutes=15, rate_fen_per_minute=50, cap_fen=3_000)
