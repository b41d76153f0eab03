"""Split a charge's energy into time-of-use period lines and price them.

Energy split: a cumulative energy curve E(t) runs from 0 at charge start to the total at
charge end. Between meter samples it follows the meter (linear interpolation between the
two samples straddling a boundary); outside the sampled span the remaining energy is spread
time-proportionally. Each boundary's E is rounded half-up and lines are the differences of
the rounded cumulative values, so lines are never negative and always sum exactly to the
total (the rounding residue lands deterministically on whichever line it falls in).
Money: each line is priced and rounded half-up to the fen; totals are sums of the lines.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from billing.money import amount_fen, round_half_up
from billing.tariff import PeriodKind, Tariff, period_intervals

MeterSample = tuple[int, int]  # (at_ms, meter_dwh)


@dataclass(frozen=True, slots=True)
class BillLine:
    kind: PeriodKind
    start_ms: int
    end_ms: int
    energy_dwh: int
    energy_amount_fen: int
    service_amount_fen: int

    @property
    def total_fen(self) -> int:
        return self.energy_amount_fen + self.service_amount_fen


@dataclass(frozen=True, slots=True)
class ComputedBill:
    tariff_id: str
    lines: tuple[BillLine, ...]
    energy_dwh: int
    energy_amount_fen: int
    service_amount_fen: int
    total_fen: int

    def energy_by_kind(self) -> dict[PeriodKind, int]:
        out = dict.fromkeys(PeriodKind, 0)
        for line in self.lines:
            out[line.kind] += line.energy_dwh
        return out


def price_lines(tariff: Tariff, parts: Iterable[tuple[PeriodKind, int, int, int]]) -> ComputedBill:
    """Price (kind, start_ms, end_ms, energy_dwh) parts into a bill; totals sum the lines."""
    lines = []
    for kind, start, end, energy in parts:
        p = tariff.price(kind)
        lines.append(
            BillLine(
                kind,
                start,
                end,
                energy,
                amount_fen(energy, p.energy_e4),
                amount_fen(energy, p.service_e4),
            )
        )
    ea = sum(x.energy_amount_fen for x in lines)
    sa = sum(x.service_amount_fen for x in lines)
    return ComputedBill(
        tariff.tariff_id, tuple(lines), sum(x.energy_dwh for x in lines), ea, sa, ea + sa
    )


def _curve(
    start: int, end: int, total: int, samples: Iterable[MeterSample]
) -> list[tuple[int, Fraction]]:
    """Knots of a non-decreasing piecewise-linear E(t) from (start, 0) to (end, total)."""
    flat = [(start, Fraction(0)), (end, Fraction(total))]
    # Same-time duplicates: sorted order keeps the highest reading for that instant.
    pts = sorted(dict(sorted((t, m) for t, m in samples if start <= t <= end)).items())
    if len(pts) < 2 or end == start:
        return flat
    if any(prev > nxt for (_, prev), (_, nxt) in pairwise(pts)):
        return flat  # meter went backwards: unusable shape, validation flags the meter
    (t1, m1), (tn, mn) = pts[0], pts[-1]
    span, uncovered = mn - m1, (t1 - start) + (end - tn)
    if span <= 0:
        return flat
    if span <= total and uncovered > 0:
        # Meter shape inside the sampled span; the rest spread over the unsampled time.
        rate, scale = Fraction(total - span, uncovered), Fraction(1)
    else:
        # Meter and bill disagree (or no unsampled time): keep the shape, scale to total.
        rate, scale = Fraction(0), Fraction(total, span)
    lead = rate * (t1 - start)
    return [flat[0], *((t, lead + scale * (m - m1)) for t, m in pts), flat[1]]


def _at(knots: Sequence[tuple[int, Fraction]], times: Sequence[int], t: int) -> Fraction:
    i = bisect_right(times, t)
    if i == 0:
        return knots[0][1]
    if i >= len(knots):
        return knots[-1][1]
    (t0, e0), (t1, e1) = knots[i - 1], knots[i]  # t0 <= t < t1
    return e0 + (e1 - e0) * Fraction(t - t0, t1 - t0)


def split_energy(
    intervals: Sequence[tuple[PeriodKind, int, int]],
    energy_dwh: int,
    samples: Iterable[MeterSample] = (),
) -> list[int]:
    """Energy per interval (see module doc); sums exactly to energy_dwh."""
    if energy_dwh < 0:
        raise ValueError("energy must be >= 0")
    knots = _curve(intervals[0][1], intervals[-1][2], energy_dwh, samples)
    times = [t for t, _ in knots]
    cum = [0, *(round_half_up(_at(knots, times, iv[2])) for iv in intervals[:-1]), energy_dwh]
    return [b - a for a, b in pairwise(cum)]


def compute_bill(
    tariff: Tariff,
    charge_start_ms: int,
    charge_end_ms: int,
    energy_dwh: int,
    samples: Iterable[MeterSample] = (),
) -> ComputedBill:
    """Our bill for a charge: energy split by period, priced from the tariff.

    Raises ValueError for end < start or negative energy (callers sanitise bad bills)."""
    intervals = period_intervals(tariff, charge_start_ms, charge_end_ms)
    energies = split_energy(intervals, energy_dwh, samples)
    return price_lines(
        tariff, ((k, a, b, e) for (k, a, b), e in zip(intervals, energies, strict=True))
    )
