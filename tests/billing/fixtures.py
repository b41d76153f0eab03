"""Shared test data: the field-case station tariff (peak 1.06, flat 0.70, valley 0.27)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from billing.idle_fee import IdleFeeRule
from billing.records import PileBill
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

# 10 kWh from 09:30 to 10:30 (half flat, half peak), unplugged 10 min later;
# clean against TARIFF.
CLEAN = PileBill(
    transaction_id="T1",
    gun=1,
    channel="app",
    account="U1",
    authorised_ms=at(1, 9, 25),
    charge_start_ms=at(1, 9, 30),
    charge_end_ms=at(1, 10, 30),
    service_end_ms=at(1, 10, 40),
    meter_start_dwh=1_000_000,
    meter_stop_dwh=1_100_000,
    energy_dwh=100_000,
    sharp_dwh=0,
    peak_dwh=50_000,
    flat_dwh=50_000,
    valley_dwh=0,
    energy_amount_fen=880,
    service_amount_fen=800,
    idle_fee_fen=0,
    total_amount_fen=1_680,
    stop_reason=0,
    vin="LSVAA4182E2000001",
)
