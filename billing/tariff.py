"""Time-of-use tariffs: four period kinds, a day table of segments, selection by scope."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from protocol.error_root import PilegateError

MS_PER_MINUTE = 60_000
MINUTES_PER_DAY = 1_440
MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE


class PeriodKind(StrEnum):
    SHARP = "sharp"
    PEAK = "peak"
    FLAT = "flat"
    VALLEY = "valley"


class ScopeKind(StrEnum):
    STATION = "station"
    PILE = "pile"
    DEFAULT = "default"  # scope_id "": for piles with no tariff (or rule) of their own


class TariffError(PilegateError, ValueError):
    """A tariff definition is unusable (bad day table or prices)."""


@dataclass(frozen=True, slots=True)
class PeriodPrice:
    energy_e4: int  # 0.0001 CNY per kWh
    service_e4: int  # 0.0001 CNY per kWh


@dataclass(frozen=True, slots=True)
class Segment:
    start_minute: int  # local minute of day; the segment runs to the next one (or 24:00)
    kind: PeriodKind


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff is validated on construction, so an existing Tariff is always usable."""

    tariff_id: str
    scope_kind: ScopeKind
    scope_id: str
    effective_from_ms: int
    prices: Mapping[PeriodKind, PeriodPrice] = field(hash=False)
    segments: tuple[Segment, ...]
    utc_offset_minutes: int = 480  # China: UTC+8, no DST
    # When the operator set it for this scope: breaks ties between equal effective_from_ms.
    # Bookkeeping, not part of the definition, so it does not take part in equality.
    set_ms: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        # Freeze caller-supplied containers so the tariff cannot change after validation.
        object.__setattr__(self, "prices", MappingProxyType(dict(self.prices)))
        object.__setattr__(self, "segments", tuple(self.segments))
        validate_tariff(self)

    def price(self, kind: PeriodKind) -> PeriodPrice:
        return self.prices[kind]

    def kind_at(self, at_ms: int) -> PeriodKind:
        minute = (at_ms + self.utc_offset_minutes * MS_PER_MINUTE) % MS_PER_DAY // MS_PER_MINUTE
        starts = [s.start_minute for s in self.segments]
        return self.segments[bisect_right(starts, minute) - 1].kind


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_tariff(t: Tariff) -> None:
    """Raise TariffError unless the day table covers 00:00-24:00 and all prices are >= 0."""
    if not t.tariff_id:
        raise TariffError("tariff_id is empty")
    if not -720 <= t.utc_offset_minutes <= 840:
        raise TariffError(f"utc_offset_minutes out of range: {t.utc_offset_minutes}")
    if not t.segments:
        raise TariffError("tariff has no segments")
    if t.segments[0].start_minute != 0:
        raise TariffError("first segment must start at 00:00")
    prev = -1
    for seg in t.segments:
        if not isinstance(seg.kind, PeriodKind):
            raise TariffError(f"unknown period kind {seg.kind!r}")
        if not _is_int(seg.start_minute) or not prev < seg.start_minute < MINUTES_PER_DAY:
            raise TariffError(f"segment starts must be increasing in [0, 1440): {seg}")
        prev = seg.start_minute
    # All four kinds must be priced: a pile may report energy in any of them.
    for kind in PeriodKind:
        p = t.prices.get(kind)
        if p is None:
            raise TariffError(f"no price for period {kind}")
        if not (_is_int(p.energy_e4) and _is_int(p.service_e4)):
            raise TariffError(f"prices must be int 0.0001 CNY/kWh: {kind}")
        if p.energy_e4 < 0 or p.service_e4 < 0:
            raise TariffError(f"negative price for period {kind}")


def same_definition(a: Tariff, b: Tariff) -> bool:
    """Same prices, day table and UTC offset (scope, start and set time aside)."""
    return (dict(a.prices), a.segments, a.utc_offset_minutes) == (
        dict(b.prices),
        b.segments,
        b.utc_offset_minutes,
    )


@dataclass(frozen=True, slots=True)
class TariffScope:
    """Where a charge happened: a pile-scoped tariff beats its station's tariff."""

    station_id: str
    pile_id: str | None = None


#: Which tariff wins when several are in force: the pile's own, then its station's, then a
#: default one.
SCOPE_RANK = {ScopeKind.PILE: 2, ScopeKind.STATION: 1, ScopeKind.DEFAULT: 0}


def select_tariff(tariffs: Iterable[Tariff], scope: TariffScope, at_ms: int) -> Tariff | None:
    """The tariff in force at at_ms: the pile's own beats its station's, which beats a default
    one; within a scope the latest effective_from <= at_ms; of equal effective_from the one set
    last (set_ms, then the later in `tariffs`) wins. The tariff id never decides: it is a name."""
    best: Tariff | None = None
    best_key: tuple[int, int, int, int] | None = None
    for order, t in enumerate(tariffs):
        if t.effective_from_ms > at_ms:
            continue
        if t.scope_kind is ScopeKind.PILE:
            if scope.pile_id is None or t.scope_id != scope.pile_id:
                continue
        elif t.scope_kind is ScopeKind.STATION and t.scope_id != scope.station_id:
            continue
        key = (SCOPE_RANK[t.scope_kind], t.effective_from_ms, t.set_ms, order)
        if best_key is None or key > best_key:
            best, best_key = t, key
    return best


def period_intervals(t: Tariff, start_ms: int, end_ms: int) -> list[tuple[PeriodKind, int, int]]:
    """[start, end) cut at the tariff's period boundaries, adjacent same-kind pieces merged
    (so a valley night crossing midnight is one line). A zero-length charge gives one
    zero-length interval of the kind in force at its start."""
    if end_ms < start_ms:
        raise ValueError("end before start")
    if end_ms == start_ms:
        return [(t.kind_at(start_ms), start_ms, start_ms)]
    off = t.utc_offset_minutes * MS_PER_MINUTE
    day = (start_ms + off) // MS_PER_DAY * MS_PER_DAY - off  # UTC ms of the local midnight
    bounds = [s.start_minute * MS_PER_MINUTE for s in t.segments] + [MS_PER_DAY]
    out: list[tuple[PeriodKind, int, int]] = []
    while day < end_ms:
        for seg, lo, hi in zip(t.segments, bounds[:-1], bounds[1:], strict=True):
            a, b = max(start_ms, day + lo), min(end_ms, day + hi)
            if a >= b:
                continue
            if out and out[-1][0] is seg.kind and out[-1][2] == a:
                out[-1] = (seg.kind, out[-1][1], b)
            else:
                out.append((seg.kind, a, b))
        day += MS_PER_DAY
    return out
