"""pilegate tariff -> YKC billing model: exact prices, 48 half-hour slots, a stable model id."""

from __future__ import annotations

import pytest

from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from gateway.adapters.ykc.tariff import (
    ModelNotExpressible,
    billing_model,
    model_id,
    tariff_of_model,
)
from protocol.ykc import ModelReply, decode_frame, encode

K = PeriodKind


def tariff(segments: tuple[Segment, ...], offset: int = 480, **prices: PeriodPrice) -> Tariff:
    base = {
        K.SHARP: PeriodPrice(12_000, 4_000),
        K.PEAK: PeriodPrice(10_600, 4_000),  # 1.06 CNY/kWh, the field-case station's peak
        K.FLAT: PeriodPrice(7_000, 4_000),
        K.VALLEY: PeriodPrice(2_700, 4_000),
    }
    base.update({K(k): v for k, v in prices.items()})
    return Tariff("t1", ScopeKind.STATION, "s1", 0, base, segments, offset)


DAY = (
    Segment(0, K.VALLEY),  # 00:00 valley
    Segment(8 * 60, K.FLAT),  # 08:00 flat
    Segment(10 * 60 + 30, K.PEAK),  # 10:30 peak
    Segment(11 * 60, K.SHARP),  # 11:00 sharp
    Segment(12 * 60, K.FLAT),  # 12:00 flat
    Segment(23 * 60, K.VALLEY),  # 23:00 valley
)


def test_prices_are_scaled_exactly_and_slots_follow_the_day() -> None:
    model = billing_model(tariff(DAY))
    assert model.prices_e5 == (
        (120_000, 40_000),
        (106_000, 40_000),
        (70_000, 40_000),
        (27_000, 40_000),
    )
    expected = [3] * 16 + [2] * 5 + [1] + [0] * 2 + [2] * 22 + [3] * 2
    assert list(model.slots) == expected
    assert len(model.slots) == 48


def test_the_model_goes_on_the_wire_and_reads_back_the_same() -> None:
    model = billing_model(tariff(DAY))
    frame = encode(ModelReply(pile="32010600019236", **model.message_fields()), 7)  # type: ignore[arg-type]
    decoded = decode_frame(frame)
    assert not isinstance(decoded, Exception) and isinstance(decoded.message, ModelReply)
    m = decoded.message
    assert (m.peak_price_e5, m.peak_service_e5, m.loss_ratio) == (106_000, 40_000, 0)
    assert m.slots == model.slots and m.model_id == model.model_id


def test_a_period_off_the_half_hour_is_refused() -> None:
    with pytest.raises(ModelNotExpressible, match="10:15"):
        billing_model(tariff((Segment(0, K.FLAT), Segment(10 * 60 + 15, K.PEAK))))


def test_a_tariff_in_another_zone_is_shifted_to_the_piles_day() -> None:
    # Valley 00:00-01:00 UTC is 08:00-09:00 in China (slots 16 and 17), the rest is peak.
    utc = tariff((Segment(0, K.VALLEY), Segment(60, K.PEAK)), offset=0)
    slots = billing_model(utc).slots
    assert [i for i, s in enumerate(slots) if s == 3] == [16, 17]
    assert slots[0] == slots[15] == slots[18] == slots[47] == 1


def test_the_model_id_changes_with_the_definition_and_not_with_the_name() -> None:
    one = billing_model(tariff(DAY))
    same = billing_model(tariff(DAY))
    dearer = billing_model(tariff(DAY, peak=PeriodPrice(10_700, 4_000)))
    assert one.model_id == same.model_id
    assert one.model_id != dearer.model_id
    assert one.model_id != "0000" and one.model_id.isdigit() and len(one.model_id) == 4
    assert model_id(((0, 0),) * 4, (0,) * 48) != "0000"


def test_a_model_reads_back_as_the_same_tariff() -> None:
    original = tariff(DAY)
    model = billing_model(original)
    back = tariff_of_model(model.prices_e5, model.slots, tariff_id="t1")
    assert dict(back.prices) == dict(original.prices)
    assert back.segments == original.segments


def test_a_model_price_below_the_tariffs_unit_is_not_read_as_a_tariff() -> None:
    with pytest.raises(ModelNotExpressible):
        tariff_of_model(((100_001, 0),) * 4, (2,) * 48, tariff_id="x")
