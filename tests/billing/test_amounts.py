from __future__ import annotations

from billing.amounts import BillLine, compute_bill
from billing.correction import correct_energy, refund_fen
from billing.money import amount_fen, div_round_half_up
from tests.billing.fixtures import TARIFF, K, at


def test_rounding_rule_half_up() -> None:
    assert amount_fen(75_000, 2_700) == 203  # 202.5 fen -> 203
    assert amount_fen(1, 10_600) == 0
    assert div_round_half_up(-5, 10) == -1  # halves away from zero
    assert div_round_half_up(14, 10) == 1


def test_charge_inside_one_period() -> None:
    bill = compute_bill(TARIFF, at(1, 10, 30), at(1, 11, 30), 200_000)  # 20 kWh peak
    assert bill.lines == (BillLine(K.PEAK, at(1, 10, 30), at(1, 11, 30), 200_000, 2120, 1600),)
    assert (bill.energy_dwh, bill.energy_amount_fen, bill.service_amount_fen) == (
        200_000,
        2120,
        1600,
    )
    assert bill.total_fen == 3720


def test_one_boundary_time_proportional() -> None:
    bill = compute_bill(TARIFF, at(1, 9, 30), at(1, 10, 30), 100_000)
    assert [
        (x.kind, x.energy_dwh, x.energy_amount_fen, x.service_amount_fen) for x in bill.lines
    ] == [(K.FLAT, 50_000, 350, 400), (K.PEAK, 50_000, 530, 400)]
    assert bill.total_fen == 1680


def test_one_boundary_interpolates_straddling_samples() -> None:
    samples = [
        (at(1, 9, 30), 1_000_000),
        (at(1, 9, 50), 1_040_000),
        (at(1, 10, 10), 1_080_000),
        (at(1, 10, 30), 1_100_000),
    ]
    bill = compute_bill(TARIFF, at(1, 9, 30), at(1, 10, 30), 100_000, samples)
    # E(10:00) = midway between 40_000 and 80_000
    assert [(x.energy_dwh, x.energy_amount_fen) for x in bill.lines] == [
        (60_000, 420),
        (40_000, 424),
    ]
    assert bill.energy_amount_fen == 844


def test_several_boundaries_without_samples() -> None:
    bill = compute_bill(TARIFF, at(1, 7), at(1, 13), 600_000)
    assert [
        (x.kind, x.energy_dwh, x.energy_amount_fen, x.service_amount_fen) for x in bill.lines
    ] == [
        (K.VALLEY, 100_000, 270, 800),
        (K.FLAT, 200_000, 1400, 1600),
        (K.PEAK, 200_000, 2120, 1600),
        (K.FLAT, 100_000, 700, 800),
    ]
    assert (bill.energy_amount_fen, bill.service_amount_fen, bill.total_fen) == (4490, 4800, 9290)


def test_several_boundaries_partial_samples() -> None:
    # Meter covers 09-11 (300_000 dWh); the other 300_000 spread over 07-09 and 11-13.
    samples = [(at(1, 9), 0), (at(1, 11), 300_000), (at(1, 14), 999_999)]  # last: outside
    bill = compute_bill(TARIFF, at(1, 7), at(1, 13), 600_000, samples)
    assert [(x.energy_dwh, x.energy_amount_fen) for x in bill.lines] == [
        (75_000, 203),
        (225_000, 1575),
        (225_000, 2385),
        (75_000, 525),
    ]
    assert bill.energy_amount_fen == 4688


def test_meter_disagreeing_with_total_scales_shape() -> None:
    samples = [(at(1, 9, 30), 0), (at(1, 10), 30_000), (at(1, 10, 30), 200_000)]
    bill = compute_bill(TARIFF, at(1, 9, 30), at(1, 10, 30), 100_000, samples)
    assert [x.energy_dwh for x in bill.lines] == [15_000, 85_000]


def test_midnight_crossing() -> None:
    bill = compute_bill(TARIFF, at(1, 22, 30), at(2, 1, 30), 300_000)
    assert [
        (x.kind, x.start_ms, x.end_ms, x.energy_dwh, x.energy_amount_fen) for x in bill.lines
    ] == [
        (K.FLAT, at(1, 22, 30), at(1, 23), 50_000, 350),
        (K.VALLEY, at(1, 23), at(2, 1, 30), 250_000, 675),
    ]


def test_several_days() -> None:
    bill = compute_bill(TARIFF, at(1, 8), at(3, 8), 480_000)  # 48 h at 1 kWh/h
    assert bill.energy_by_kind() == {
        K.VALLEY: 180_000,
        K.FLAT: 180_000,
        K.PEAK: 80_000,
        K.SHARP: 40_000,
    }
    assert bill.energy_dwh == 480_000
    assert bill.lines[0].start_ms == at(1, 8) and bill.lines[-1].end_ms == at(3, 8)


def test_rounding_sums_exactly() -> None:
    assert [x.energy_dwh for x in compute_bill(TARIFF, at(1, 9), at(1, 12), 100).lines] == [33, 67]
    assert [x.energy_dwh for x in compute_bill(TARIFF, at(1, 9, 30), at(1, 10, 30), 1).lines] == [
        1,
        0,
    ]
    bill = compute_bill(TARIFF, at(1, 7), at(1, 23, 30), 99_999)
    assert sum(x.energy_dwh for x in bill.lines) == 99_999
    assert bill.total_fen == sum(x.total_fen for x in bill.lines)


def test_zero_duration_charge() -> None:
    bill = compute_bill(TARIFF, at(1, 11), at(1, 11), 500)
    assert [(x.kind, x.energy_dwh) for x in bill.lines] == [(K.PEAK, 500)]


def test_correction_to_zero_and_half() -> None:
    original = compute_bill(TARIFF, at(1, 7), at(1, 13), 600_000)
    zero = correct_energy(original, 0, TARIFF)
    assert zero.total_fen == 0 and len(zero.lines) == 4
    assert refund_fen(original, zero) == 9290
    half = correct_energy(original, 300_000, TARIFF)
    assert [x.energy_dwh for x in half.lines] == [50_000, 100_000, 100_000, 50_000]
    assert (half.energy_amount_fen, half.service_amount_fen, half.total_fen) == (2245, 2400, 4645)
    assert refund_fen(original, half) == 4645


def test_correction_of_zero_energy_bill_uses_durations() -> None:
    original = compute_bill(TARIFF, at(1, 9, 30), at(1, 10, 30), 0)
    fixed = correct_energy(original, 100_000, TARIFF)
    assert [x.energy_dwh for x in fixed.lines] == [50_000, 50_000]
    assert refund_fen(original, fixed) == -1680  # customer owes the difference
