from __future__ import annotations

import dataclasses

import pytest

from billing.tariff import (
    PeriodPrice,
    ScopeKind,
    Segment,
    Tariff,
    TariffError,
    TariffScope,
    period_intervals,
    select_tariff,
)
from tests.billing.fixtures import DAY, PRICES, TARIFF, K, at, station_tariff


def test_select_latest_effective_and_pile_beats_station() -> None:
    old = station_tariff("old", at(1, 0, month=1))
    new = station_tariff("new", at(1, 10))  # effective from a given date and hour
    pile = Tariff("pile", ScopeKind.PILE, "P7", at(1, 0, month=7), PRICES, DAY)
    other = station_tariff("other", 0, station="S2")
    ts = [pile, new, old, other]
    s1 = TariffScope("S1", "P7")
    assert select_tariff(ts, s1, at(1, 9, 59)) is old
    assert select_tariff(ts, s1, at(1, 10)) is new
    assert select_tariff(ts, s1, at(2, 0, month=7)) is pile
    assert select_tariff(ts, TariffScope("S1", "P8"), at(2, 0, month=7)) is new
    assert select_tariff(ts, TariffScope("S2"), at(2, 0, month=7)) is other
    assert select_tariff(ts, s1, at(1, 0, month=1) - 1) is None
    assert select_tariff(ts, TariffScope("S3"), at(1, 12)) is None


def test_kind_at_uses_local_time() -> None:
    assert TARIFF.kind_at(at(1, 7, 59)) is K.VALLEY
    assert TARIFF.kind_at(at(1, 8)) is K.FLAT
    assert TARIFF.kind_at(at(1, 19, 30)) is K.SHARP
    assert TARIFF.kind_at(at(1, 23, 30)) is K.VALLEY


@pytest.mark.parametrize(
    "segments",
    [
        (),
        (Segment(60, K.FLAT),),
        (Segment(0, K.FLAT), Segment(600, K.PEAK), Segment(300, K.VALLEY)),
        (Segment(0, K.FLAT), Segment(600, K.PEAK), Segment(600, K.VALLEY)),
        (Segment(0, K.FLAT), Segment(1440, K.PEAK)),
        (Segment(0, "flat"),),
    ],
)
def test_bad_day_table_rejected(segments: tuple[Segment, ...]) -> None:
    with pytest.raises(TariffError):
        Tariff("t", ScopeKind.STATION, "S1", 0, PRICES, segments)


def test_bad_prices_rejected() -> None:
    with pytest.raises(TariffError):
        Tariff("t", ScopeKind.STATION, "S1", 0, {**PRICES, K.PEAK: PeriodPrice(-1, 0)}, DAY)
    missing = {k: v for k, v in PRICES.items() if k is not K.SHARP}
    with pytest.raises(TariffError):
        Tariff("t", ScopeKind.STATION, "S1", 0, missing, DAY)
    with pytest.raises(TariffError):
        dataclasses.replace(TARIFF, utc_offset_minutes=900)


def test_intervals_merge_across_midnight() -> None:
    assert period_intervals(TARIFF, at(1, 22, 30), at(2, 1, 30)) == [
        (K.FLAT, at(1, 22, 30), at(1, 23)),
        (K.VALLEY, at(1, 23), at(2, 1, 30)),
    ]
    assert period_intervals(TARIFF, at(1, 9), at(1, 9)) == [(K.FLAT, at(1, 9), at(1, 9))]


def test_equal_start_dates_go_to_the_tariff_set_last_not_the_larger_id() -> None:
    older = dataclasses.replace(station_tariff("zz-first", at(1, 0)), set_ms=1_000)
    newer = dataclasses.replace(station_tariff("aa-second", at(1, 0)), set_ms=2_000)
    s1 = TariffScope("S1")
    assert select_tariff([older, newer], s1, at(1, 12)) is newer
    assert select_tariff([newer, older], s1, at(1, 12)) is newer
    # Same set time: the later one in the (assignment-ordered) input wins.
    same = dataclasses.replace(older, set_ms=2_000)
    assert select_tariff([newer, same], s1, at(1, 12)) is same
