from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.amounts import compute_bill
from billing.correction import correct_energy
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from tests.billing.fixtures import at


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    starts = sorted(draw(st.sets(st.integers(1, 1439), max_size=8)) | {0})
    kinds = draw(st.lists(st.sampled_from(PeriodKind), min_size=len(starts), max_size=len(starts)))
    price = st.integers(0, 50_000)
    prices = {k: PeriodPrice(draw(price), draw(price)) for k in PeriodKind}
    offset = draw(st.integers(-720, 840))
    segs = tuple(Segment(s, k) for s, k in zip(starts, kinds, strict=True))
    return Tariff("h", ScopeKind.STATION, "S", 0, prices, segs, offset)


@st.composite
def charges(draw: st.DrawFn) -> tuple[int, int, int, list[tuple[int, int]]]:
    start = draw(st.integers(at(1, 0, month=1), at(1, 0, month=12)))
    end = start + draw(st.integers(0, 3 * 86_400_000))
    energy = draw(st.integers(0, 3_000_000))
    times = sorted(draw(st.lists(st.integers(start - 3_600_000, end + 3_600_000), max_size=12)))
    steps = draw(st.lists(st.integers(0, 200_000), min_size=len(times), max_size=len(times)))
    meter, samples = draw(st.integers(0, 10**9)), []
    for t, step in zip(times, steps, strict=True):
        meter += step
        samples.append((t, meter))
    return start, end, energy, samples


@settings(max_examples=300, deadline=None)
@given(tariffs(), charges(), st.integers(0, 3_000_000))
def test_split_sums_and_amounts_non_negative(
    tariff: Tariff, charge: tuple[int, int, int, list[tuple[int, int]]], corrected: int
) -> None:
    start, end, energy, samples = charge
    bill = compute_bill(tariff, start, end, energy, samples)
    assert sum(x.energy_dwh for x in bill.lines) == bill.energy_dwh == energy
    assert all(
        x.energy_dwh >= 0 and x.energy_amount_fen >= 0 and x.service_amount_fen >= 0
        for x in bill.lines
    )
    assert bill.total_fen == sum(x.total_fen for x in bill.lines) >= 0
    assert bill.lines[0].start_ms == start and bill.lines[-1].end_ms == end
    assert all(a.end_ms == b.start_ms for a, b in zip(bill.lines, bill.lines[1:], strict=False))
    fixed = correct_energy(bill, corrected, tariff)
    assert fixed.energy_dwh == corrected and all(x.energy_dwh >= 0 for x in fixed.lines)
