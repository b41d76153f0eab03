from __future__ import annotations

from protocol.pilegate.codes import BillAckStatus, GunStatus, StopReason, TariffKind
from protocol.pilegate.messages import (
    IDLE_FEE_UNCAPPED,
    Bill,
    BillAck,
    Logout,
    SetIdleFee,
    SetTariff,
    StartResult,
    StatusChange,
    StopResult,
    TariffPrice,
    TariffSegment,
    Vin,
)
from simulators.charge import ChargeProcess
from simulators.tariff import (
    DEFAULT_TARIFF,
    IdleRule,
    PileTariff,
    amount_fen,
    price_energies,
)
from tests.simulators.helpers import T930, Driver, big_car, make_pile

MIN = 60_000
FLAT, PEAK = TariffKind.FLAT, TariffKind.PEAK


def test_tariff_kinds_and_boundaries_in_local_time() -> None:
    assert DEFAULT_TARIFF.kind_at(T930) == FLAT  # 09:30 UTC+8
    assert DEFAULT_TARIFF.kind_at(T930 + 30 * MIN) == PEAK  # 10:00
    assert DEFAULT_TARIFF.next_boundary_ms(T930) == T930 + 30 * MIN
    # 23:00 -> valley until 08:00 next day; midnight is a boundary too.
    late = T930 + (13 * 60 + 45) * MIN  # 23:15
    assert DEFAULT_TARIFF.kind_at(late) == TariffKind.VALLEY
    assert DEFAULT_TARIFF.next_boundary_ms(late) == T930 + (14 * 60 + 30) * MIN


def test_rounding_half_up_per_line() -> None:
    assert amount_fen(12_345, 7_000) == 86  # 86.415
    assert amount_fen(12_345, 8_000) == 99  # 98.76
    assert amount_fen(125, 4_000) == 1  # exactly 0.5 fen rounds up
    assert amount_fen(124, 4_000) == 0


def test_charge_across_a_period_boundary_hand_computed() -> None:
    # 60 kW from 09:30 to 10:30 local: 30 kWh flat (0.70 + 0.80) then 30 kWh peak (1.06 + 0.80).
    ch = ChargeProcess(big_car(), 60_000, True, T930, 0)
    ch.advance(T930 + 60 * MIN, DEFAULT_TARIFF)
    assert ch.per_kind == {1: 0, 2: 300_000, 3: 300_000, 4: 0}
    assert sum(ch.per_kind.values()) == ch.energy_dwh == 600_000
    idle = IdleRule().fee(T930 + 60 * MIN, T930 + 100 * MIN)  # 40 min idle, 15 grace, 10 fen/min
    assert idle == 250
    a = price_energies(DEFAULT_TARIFF, ch.per_kind, idle)
    assert a.energy_amount_fen == 2_100 + 3_180
    assert a.service_amount_fen == 2_400 + 2_400
    assert a.total_fen == 5_280 + 4_800 + 250 == 10_330


def test_idle_rule_floor_minutes_and_cap() -> None:
    rule = IdleRule(grace_minutes=15, rate_fen_per_minute=10, cap_fen=500)
    assert rule.fee(0, 15 * MIN + 59_999) == 0
    assert rule.fee(0, 16 * MIN) == 10
    assert rule.fee(0, 10 * 60 * MIN) == 500
    assert rule.fee(5 * MIN, 0) == 0


def _full_service(driver: Driver, stop_after_min: int = 60) -> Bill:
    pile = driver.pile
    pile.plug_in(1, driver.now, car=big_car(user_stop_after_ms=stop_after_min * MIN))
    driver.run_until(driver.now + 3 * 3_600_000, step_ms=5_000)
    (bill,) = driver.of(Bill)
    return bill


def test_pile_bill_is_consistent_and_priced_from_its_own_periods() -> None:
    driver = Driver(make_pile())
    bill = _full_service(driver)
    (start,) = driver.of(StartResult)
    (stop,) = driver.of(StopResult)
    (logout,) = driver.of(Logout)
    (vin,) = driver.of(Vin)
    assert bill.transaction_id == start.transaction_id == logout.transaction_id
    assert bill.charge_start_ms == start.time_ms and bill.charge_end_ms == stop.time_ms
    assert bill.charge_end_ms - bill.charge_start_ms == 60 * MIN
    assert stop.stop_reason == bill.stop_reason == StopReason.USER
    assert bill.service_end_ms == logout.time_ms > bill.charge_end_ms
    assert bill.authorised_ms <= bill.charge_start_ms
    assert bill.energy_dwh == bill.meter_stop_dwh - bill.meter_start_dwh == 600_000
    assert bill.sharp_dwh + bill.peak_dwh + bill.flat_dwh + bill.valley_dwh == bill.energy_dwh
    assert bill.flat_dwh > 0 and bill.peak_dwh > 0  # crossed 10:00
    # Flat energy is exactly what flowed before 10:00 at 60 kW (1 W x 360 s = 0.1 Wh).
    assert bill.flat_dwh == 60_000 * (T930 + 30 * MIN - bill.charge_start_ms) // 360_000
    per = {1: bill.sharp_dwh, 2: bill.peak_dwh, 3: bill.flat_dwh, 4: bill.valley_dwh}
    a = price_energies(DEFAULT_TARIFF, per, IdleRule().fee(bill.charge_end_ms, bill.service_end_ms))
    assert (bill.energy_amount_fen, bill.service_amount_fen, bill.idle_fee_fen) == (
        a.energy_amount_fen,
        a.service_amount_fen,
        a.idle_fee_fen,
    )
    assert bill.total_amount_fen == a.total_fen
    assert bill.vin == vin.vin
    statuses = [m.status for m in driver.of(StatusChange)]
    assert statuses == [
        GunStatus.PREPARING, GunStatus.CHARGING, GunStatus.FINISHING, GunStatus.AVAILABLE,
    ]  # fmt: skip
    # Order on the wire: LOGOUT, then the bill.
    kinds = [type(m) for _, m in driver.sent]
    assert kinds.index(Logout) < kinds.index(Bill)


def test_set_tariff_changes_the_prices_of_the_next_charge() -> None:
    driver = Driver(make_pile())
    flat_only = SetTariff(
        9,
        0,
        tuple(TariffPrice(10_000, 5_000) for _ in range(4)),
        (TariffSegment(0, TariffKind.FLAT),),
    )
    ack = driver.send(flat_only)
    assert ack is not None and ack.result == 0
    bill = _full_service(driver)
    assert bill.flat_dwh == bill.energy_dwh == 600_000
    assert bill.energy_amount_fen == 6_000 and bill.service_amount_fen == 3_000


def test_a_new_pile_charges_no_idle_fee_until_set_idle_fee() -> None:
    """§7.14: before the gateway's SET_IDLE_FEE no idle fee; after it, exactly its rule.
    Before: the simulated pile always billed its own 10 fen/min rule."""
    driver = Driver(make_pile(idle_rule=None))
    driver.pile.delays["unplug"] = 40 * MIN
    assert _full_service(driver).idle_fee_fen == 0
    driver = Driver(make_pile(idle_rule=None))
    driver.pile.delays["unplug"] = 40 * MIN
    ack = driver.send(SetIdleFee(5, 20, 300))
    assert ack is not None and (ack.gun, ack.result) == (0, 0)
    bill = _full_service(driver)
    assert bill.idle_fee_fen == 300  # (40 - 5) min x 20 fen = 700, capped at 300
    assert bill.total_amount_fen == bill.energy_amount_fen + bill.service_amount_fen + 300
    driver.send(SetIdleFee(5, 20, IDLE_FEE_UNCAPPED))
    assert driver.pile.idle_rule.fee(0, 40 * MIN) == 700


def test_tariff_from_message_wraps_the_first_segment() -> None:
    msg = SetTariff(
        1, 0, tuple(TariffPrice(1, 1) for _ in range(4)),
        (TariffSegment(8 * 60, TariffKind.PEAK), TariffSegment(22 * 60, TariffKind.VALLEY)),
    )  # fmt: skip
    t = PileTariff.from_message(msg)
    assert t.segments[0] == (0, TariffKind.VALLEY)
    assert t.to_message().segments[0].start_minute == 0


def test_bill_ack_removes_and_rejected_keeps() -> None:
    driver = Driver(make_pile())
    bill = _full_service(driver)
    assert bill.transaction_id in driver.pile.store
    driver.send(BillAck(bill.transaction_id, BillAckStatus.REJECTED))
    assert driver.pile.pending_bills() == [bill]
    driver.send(BillAck(bill.transaction_id, BillAckStatus.FLAGGED, 1 << 3))
    assert driver.pile.pending_bills() == []
