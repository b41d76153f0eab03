"""Every valid message survives encode -> FrameDecoder -> message, with its seq, in one piece
and through a byte stream cut anywhere."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pilegate import MAX_FRAME_SIZE, FrameDecoder, MsgType, decode_frame, encode
from protocol.pilegate.codec import Frame
from protocol.pilegate.examples import EXAMPLES
from protocol.pilegate.messages import Heartbeat, Login
from tests.protocol.strategies import ALL_TYPES, messages, messages_of, seqs


@pytest.mark.parametrize("msg_type", ALL_TYPES, ids=lambda t: MsgType(t).name)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), seq=seqs)
def test_round_trip_every_type(msg_type: int, data: st.DataObject, seq: int) -> None:
    message = data.draw(messages_of(msg_type))
    raw = encode(message, seq)
    assert len(raw) <= MAX_FRAME_SIZE
    items = FrameDecoder().feed(raw)
    assert len(items) == 1
    frame = items[0]
    assert isinstance(frame, Frame), frame
    assert (frame.seq, frame.message, frame.raw) == (seq, message, raw)
    assert frame.msg_type == msg_type
    assert decode_frame(raw) == frame


@pytest.mark.parametrize("pile_id", ["4403060003000020", "1234567890123456", "0000000000000001"])
def test_16_digit_pile_id_left_padded_and_round_trips(pile_id: str) -> None:
    login = Login(pile_id, "V", "M", "F", 1, 1, 0)
    assert login.pile_id == "0000" + pile_id
    raw = encode(login, 9)
    assert raw[7:17] == bytes.fromhex("0000" + pile_id)
    frame = decode_frame(raw)
    assert isinstance(frame, Frame)
    assert frame.message.pile_id == "0000" + pile_id
    assert frame.message == login
    # the padded and the unpadded id are the same pile on the wire
    assert encode(Login("0000" + pile_id, "V", "M", "F", 1, 1, 0), 9) == raw


@pytest.mark.parametrize(
    "bad", ["", "123", "123456789012345678", "12345678901234567890a", "\uff11\uff12"]
)
def test_pile_id_of_other_lengths_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Login(bad, "V", "M", "F", 1, 1, 0)


def _stream(items: list[tuple[int, object]]) -> bytes:
    return b"".join(encode(message, seq) for seq, message in items)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(seqs, messages), min_size=1, max_size=25),
    rnd=st.randoms(use_true_random=False),
    max_chunk=st.integers(1, 300),
)
def test_stream_in_random_chunks_decodes_to_the_same_frames(items, rnd, max_chunk) -> None:
    stream = _stream(items)
    decoder, got, pos = FrameDecoder(), [], 0
    while pos < len(stream):
        step = rnd.randint(1, max_chunk)
        got += decoder.feed(stream[pos : pos + step])
        pos += step
        assert decoder.buffered < MAX_FRAME_SIZE
    assert all(isinstance(item, Frame) for item in got), got
    assert [(f.seq, f.message) for f in got] == items
    assert decoder.buffered == 0


def test_one_byte_drip_of_every_example() -> None:
    items = [EXAMPLES[t] for t in sorted(EXAMPLES)] * 3
    stream = _stream(items)
    decoder, got = FrameDecoder(), []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
        assert decoder.buffered < MAX_FRAME_SIZE
    assert [(f.seq, f.message) for f in got] == items


def test_whole_stream_in_one_feed_and_memoryview_input() -> None:
    items = [EXAMPLES[t] for t in sorted(EXAMPLES)]
    stream = _stream(items)
    for chunk in (stream, bytearray(stream), memoryview(stream)):
        got = FrameDecoder().feed(chunk)
        assert [(f.seq, f.message) for f in got] == items


def test_largest_heartbeat_that_fits() -> None:
    # 1024 = 9 envelope + 1 count + 21 * n  ->  n = 48 guns at most
    guns = EXAMPLES[MsgType.HEARTBEAT][1].guns[0]
    big = Heartbeat((guns,) * 48)
    raw = encode(big, 1)
    assert len(raw) == 9 + 1 + 21 * 48 <= MAX_FRAME_SIZE
    assert decode_frame(raw).message == big


def test_seeded_random_soak() -> None:
    """A long deterministic mixed stream in random chunks (fast; complements hypothesis)."""
    rnd = random.Random(2406)
    items = [EXAMPLES[rnd.choice(sorted(EXAMPLES))] for _ in range(2000)]
    stream = _stream(items)
    decoder, got, pos = FrameDecoder(), [], 0
    while pos < len(stream):
        step = rnd.randint(1, 2048)
        got += decoder.feed(stream[pos : pos + step])
        pos += step
    assert [(f.seq, f.message) for f in got] == items
