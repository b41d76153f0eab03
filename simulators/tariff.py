"""The pile's own view of a time-of-use tariff and its integer money arithmetic.

A pile bills with the tariff it was last given by SET_TARIFF (or ``DEFAULT_TARIFF``, the
simulated pile's installed tariff) and the idle-fee rule of its last SET_IDLE_FEE. Segments
are minutes of the local day (UTC+8, no DST); prices are 0.0001 CNY/kWh (``_e4``) in the order
sharp, peak, flat, valley. Money is fen: ``amount_fen = energy_dwh * price_e4 / 1_000_000``,
rounded half up once per period line; totals are sums of the lines (the gateway's rule too).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from protocol.pilegate.codes import TariffKind
from protocol.pilegate.messages import (
    IDLE_FEE_UNCAPPED,
    SetIdleFee,
    SetTariff,
    TariffPrice,
    TariffSegment,
)

MS_PER_MINUTE = 60_000
MS_PER_DAY = 1_440 * MS_PER_MINUTE
UTC_OFFSET_MS = 8 * 60 * MS_PER_MINUTE  # China: UTC+8
AMOUNT_DIVISOR = 1_000_000  # dwh * e4 -> fen
KINDS = (TariffKind.SHARP, TariffKind.PEAK, TariffKind.FLAT, TariffKind.VALLEY)


def div_round_half_up(num: int, den: int) -> int:
    """num / den (den > 0) rounded to the nearest integer, halves away from zero."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def amount_fen(energy_dwh: int, price_e4: int) -> int:
    return div_round_half_up(energy_dwh * price_e4, AMOUNT_DIVISOR)


class TariffInvalid(ValueError):
    """A SET_TARIFF the pile cannot use."""


@dataclass(frozen=True, slots=True)
class PileTariff:
    tariff_id: int
    effective_from_ms: int
    prices: tuple[tuple[int, int], ...]  # (energy_e4, service_e4) for sharp, peak, flat, valley
    segments: tuple[tuple[int, int], ...]  # (start_minute, TariffKind), first at minute 0
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.prices) != 4 or any(e < 0 or s < 0 for e, s in self.prices):
            raise TariffInvalid("need 4 non-negative (energy, service) prices")
        if not self.segments or self.segments[0][0] != 0:
            raise TariffInvalid("segments must start at minute 0")
        prev = -1
        for start, kind in self.segments:
            if not prev < start < 1_440 or kind not in KINDS:
                raise TariffInvalid(f"bad segment ({start}, {kind})")
            prev = start
        object.__setattr__(self, "_starts", tuple(s for s, _ in self.segments))

    @classmethod
    def from_message(cls, msg: SetTariff) -> PileTariff:
        prices = tuple((p.energy_price_e4, p.service_fee_e4) for p in msg.prices)
        segs = sorted((s.start_minute, s.kind) for s in msg.segments)
        if not segs:
            segs = [(0, TariffKind.FLAT)]
        elif segs[0][0] != 0:  # the last segment of the day wraps round to midnight
            segs.insert(0, (0, segs[-1][1]))
        return cls(msg.tariff_id, msg.effective_from_ms, prices, tuple(segs))

    def to_message(self) -> SetTariff:
        return SetTariff(
            self.tariff_id,
            self.effective_from_ms,
            tuple(TariffPrice(e, s) for e, s in self.prices),
            tuple(TariffSegment(m, k) for m, k in self.segments),
        )

    def price(self, kind: int) -> tuple[int, int]:
        return self.prices[kind - 1]

    def kind_at(self, at_ms: int) -> int:
        minute = (at_ms + UTC_OFFSET_MS) % MS_PER_DAY // MS_PER_MINUTE
        starts = self._starts
        return self.segments[bisect_right(starts, minute) - 1][1]

    def next_boundary_ms(self, at_ms: int) -> int:
        """The first period boundary strictly after at_ms (midnight counts as one)."""
        local = at_ms + UTC_OFFSET_MS
        day0 = local - local % MS_PER_DAY
        minute = (local - day0) // MS_PER_MINUTE
        starts = self._starts
        i = bisect_right(starts, minute)
        nxt = starts[i] * MS_PER_MINUTE if i < len(starts) else MS_PER_DAY
        return day0 + nxt - UTC_OFFSET_MS


#: The tariff of protocol/pilegate/examples.py: peak 1.06, flat 0.70, valley 0.27, sharp 1.30
#: CNY/kWh plus 0.80 CNY/kWh service fee.
DEFAULT_TARIFF = PileTariff(
    0,
    0,
    ((13_000, 8_000), (10_600, 8_000), (7_000, 8_000), (2_700, 8_000)),
    (
        (0, TariffKind.VALLEY),
        (8 * 60, TariffKind.FLAT),
        (10 * 60, TariffKind.PEAK),
        (15 * 60, TariffKind.FLAT),
        (18 * 60, TariffKind.PEAK),
        (19 * 60, TariffKind.SHARP),
        (21 * 60, TariffKind.PEAK),
        (23 * 60, TariffKind.VALLEY),
    ),
)


@dataclass(frozen=True, slots=True)
class IdleRule:
    """The pile's idle (bay occupation) fee: whole minutes past the grace period, capped
    (docs/protocol.md §7.14); ``cap_fen`` None = no cap."""

    grace_minutes: int = 15
    rate_fen_per_minute: int = 10
    cap_fen: int | None = 20_000

    def fee(self, charge_end_ms: int, service_end_ms: int) -> int:
        idle = max(0, service_end_ms - charge_end_ms - self.grace_minutes * MS_PER_MINUTE)
        fee = idle // MS_PER_MINUTE * self.rate_fen_per_minute
        return fee if self.cap_fen is None else min(self.cap_fen, fee)

    @classmethod
    def from_message(cls, msg: SetIdleFee) -> IdleRule:
        cap = None if msg.cap_fen == IDLE_FEE_UNCAPPED else msg.cap_fen
        return cls(msg.grace_minutes, msg.rate_fen_per_minute, cap)


#: Before any SET_IDLE_FEE a pile charges no idle fee (docs/protocol.md §7.14).
NO_IDLE_FEE = IdleRule(0, 0, None)


@dataclass(frozen=True, slots=True)
class Amounts:
    energy_amount_fen: int
    service_amount_fen: int
    idle_fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.energy_amount_fen + self.service_amount_fen + self.idle_fee_fen


def price_energies(tariff: PileTariff, per_kind_dwh: dict[int, int], idle_fee_fen: int) -> Amounts:
    """Energy and service amounts: one half-up rounded line per period kind, then summed."""
    energy = service = 0
    for kind in KINDS:
        dwh = per_kind_dwh.get(kind, 0)
        e4, s4 = tariff.price(kind)
        energy += amount_fen(dwh, e4)
        service += amount_fen(dwh, s4)
    return Amounts(energy, service, idle_fee_fen)
