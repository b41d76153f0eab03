"""Hypothesis round trips: every message survives encode -> decode, whole and streamed in
arbitrary chunks, with the CRC in either byte order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.ykc import (
    CHINA,
    Cp56Time,
    CrcOrder,
    YkcEncodeError,
    YkcFrame,
    YkcFrameDecoder,
    decode_frame,
    encode,
)
from protocol.ykc.messages import Heartbeat, Reboot, StartRequest, TimeSync
from protocol.ykc.units import PRICE_PLACES, from_decimal, to_decimal
from tests.protocol.ykc.strategies import any_message, seqs

orders = st.sampled_from(list(CrcOrder))


@settings(max_examples=400, deadline=None)
@given(message=any_message, seq=seqs, order=orders)
def test_encode_then_decode_gives_the_message_back(message, seq, order) -> None:  # type: ignore[no-untyped-def]
    raw = encode(message, seq, order)
    frame = decode_frame(raw)
    assert isinstance(frame, YkcFrame), frame
    assert (frame.message, frame.seq, frame.raw) == (message, seq, raw)
    # a CRC whose two bytes are equal reads the same in both orders: reported as low first
    assert frame.crc_order is order or raw[-1] == raw[-2]
    assert raw[1] == len(raw) - 4
    assert raw[2:4] == seq.to_bytes(2, "little")


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(st.tuples(any_message, seqs, orders), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 64), max_size=40),
)
def test_streamed_in_any_chunks(messages, cuts) -> None:  # type: ignore[no-untyped-def]
    stream = b"".join(encode(m, s, o) for m, s, o in messages)
    decoder, out, pos = YkcFrameDecoder(), [], 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[pos : pos + cut])
        pos += cut
    assert [(f.message, f.seq) for f in out] == [(m, s) for m, s, _ in messages]
    assert decoder.buffered == 0


@settings(max_examples=200, deadline=None)
@given(ms=st.integers(946_684_800_000, 4_102_444_800_000))
def test_epoch_ms_round_trips_through_cp56_in_the_pile_zone(ms: int) -> None:
    time = Cp56Time.from_epoch_ms(ms)
    assert time.epoch_ms() == ms
    assert time.epoch_ms(CHINA) == ms
    frame = decode_frame(encode(TimeSync("20231212000010", time), 0))
    assert isinstance(frame, YkcFrame) and frame.message.time == time  # type: ignore[attr-defined]


def test_impossible_dates_decode_but_have_no_epoch() -> None:
    assert Cp56Time(2023, 2, 30, 12, 0, 0).epoch_ms() is None
    assert Cp56Time(2023, 2, 3, 12, 0, 60_000).epoch_ms() is None


@settings(max_examples=200, deadline=None)
@given(raw=st.integers(0, 2**32 - 1))
def test_money_converts_exactly(raw: int) -> None:
    value = to_decimal(raw, PRICE_PLACES)
    assert from_decimal(value, PRICE_PLACES) == raw
    assert from_decimal(str(value), PRICE_PLACES) == raw


def test_money_refuses_to_round() -> None:
    assert from_decimal(Decimal("1.5"), PRICE_PLACES) == 150000
    with pytest.raises(ValueError):
        from_decimal(Decimal("0.000001"), PRICE_PLACES)


def test_vin_is_reversed_on_the_wire_of_a_start_request() -> None:
    vin = "LSVAU2180N2183294"
    message = StartRequest("20231212000010", "01", 3, 0, "0" * 16, "0" * 32, vin)
    raw = encode(message, 7)
    assert raw[6 + 34 : 6 + 51] == vin[::-1].encode()
    assert decode_frame(raw).message.vin == vin  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "message",
    [
        Heartbeat("2023121200001", "01", 0),  # 13 digits
        Heartbeat("2023121200001X", "01", 0),
        Heartbeat("20231212000010", "01", 256),
        Reboot("20231212000010", -1),
    ],
)
def test_values_that_do_not_fit_raise_encode_error(message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(YkcEncodeError):
        encode(message, 0)


def test_seq_out_of_range_raises_encode_error() -> None:
    with pytest.raises(YkcEncodeError):
        encode(Heartbeat("20231212000010", "01", 0), 0x10000)
