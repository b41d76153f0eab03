from __future__ import annotations

import random

import pytest

from simulators.charge import Car, ChargeProcess, power_curve_w, voltage_current
from simulators.tariff import DEFAULT_TARIFF
from tests.simulators.helpers import T930, big_car


def test_power_curve_constant_then_taper() -> None:
    assert power_curve_w(20, 60_000) == power_curve_w(79.9, 60_000) == 60_000
    tapered = [power_curve_w(s, 60_000) for s in (80, 85, 90, 95, 99.5)]
    assert tapered == sorted(tapered, reverse=True)
    assert tapered[-1] < 10_000
    assert power_curve_w(100, 60_000) == 0
    assert power_curve_w(50, 7_000, dc=False) == 7_000


@pytest.mark.parametrize("seed", range(8))
def test_meter_monotonic_soc_bounded_and_stops_at_target(seed: int) -> None:
    rng = random.Random(seed)
    car = Car.random(rng)
    car.soc_target = 100
    ch = ChargeProcess(car, 60_000, True, T930, 5_000_000)
    last_meter, last_soc, t = ch.meter_dwh, ch.soc, T930
    for _ in range(5_000):
        t += rng.randint(1, 120_000)
        ch.advance(t, DEFAULT_TARIFF)
        assert ch.meter_dwh >= last_meter
        assert last_soc <= ch.soc <= 100.0
        assert ch.energy_dwh == sum(ch.per_kind.values())
        last_meter, last_soc = ch.meter_dwh, ch.soc
        if ch.done_ms is not None:
            break
    assert ch.done_ms is not None and ch.done_reason == "full"
    assert ch.soc == pytest.approx(100.0, abs=0.01)


def test_taper_slows_the_end_of_a_dc_charge() -> None:
    car = Car(600_000, 20.0, 100, "LTEST000000000001", 150_000)
    ch = ChargeProcess(car, 60_000, True, T930, 0)
    times = {}
    t = T930
    while ch.done_ms is None and t < T930 + 5 * 3_600_000:
        t += 10_000
        ch.advance(t, DEFAULT_TARIFF)
        for mark in (50, 80, 100):
            if ch.soc >= mark - 1e-9 and mark not in times:
                times[mark] = t
    # 20->50 % at full power vs 80->100 %: a fifth less energy takes longer once tapering.
    assert times[100] - times[80] > times[50] - T930


def test_voltage_current_consistent_with_power() -> None:
    for p in (1_000, 7_000, 60_000, 120_000):
        v, a = voltage_current(p, 55.0)
        assert 0 <= p - v * a / 100 <= v / 100  # within one 0.1 A step (0.1 V x 0.1 A = 0.01 W)
    v, a = voltage_current(7_000, 50.0, dc=False)
    assert v == 2_200 and a == 318
    assert voltage_current(0, 50) == (0, 0)


def test_ac_pile_charges_at_7kw() -> None:
    ch = ChargeProcess(big_car(max_power_w=7_000), 7_000, False, T930, 0)
    ch.advance(T930 + 3_600_000, DEFAULT_TARIFF)
    assert ch.energy_dwh == 70_000  # 7 kWh in an hour


def test_meter_exact_whatever_the_tick_size() -> None:
    one = ChargeProcess(big_car(), 60_000, True, T930, 0)
    one.advance(T930 + 3_600_000, DEFAULT_TARIFF)
    many = ChargeProcess(big_car(), 60_000, True, T930, 0)
    t = T930
    while t < T930 + 3_600_000:
        t = min(T930 + 3_600_000, t + 777)
        many.advance(t, DEFAULT_TARIFF)
    assert one.energy_dwh == many.energy_dwh == 600_000  # 60 kW x 1 h = 60 kWh


def test_energy_and_time_limits() -> None:
    ch = ChargeProcess(big_car(), 60_000, True, T930, 0, limit_energy_dwh=12_345)
    ch.advance(T930 + 3_600_000, DEFAULT_TARIFF)
    assert ch.energy_dwh == 12_345 and ch.done_reason == "limit"
    ch = ChargeProcess(big_car(), 60_000, True, T930, 0, limit_ms=600_000)
    ch.advance(T930 + 3_600_000, DEFAULT_TARIFF)
    assert ch.done_ms == T930 + 600_000 and ch.energy_dwh == 100_000
