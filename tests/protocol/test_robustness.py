"""The decoder never raises, stays bounded, types every problem, and resynchronises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pilegate import (
    MAX_FRAME_SIZE,
    DecodeError,
    FrameDecoder,
    Garbage,
    decode_frame,
    encode,
)
from protocol.pilegate.codec import Frame
from protocol.pilegate.examples import EXAMPLES
from tests.protocol.strategies import messages, raw_frame, seqs

EXAMPLE_FRAMES = [encode(message, seq) for seq, message in EXAMPLES.values()]


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[Frame | DecodeError]:
    out: list[Frame | DecodeError] = []
    for chunk in chunks:
        items = decoder.feed(chunk)  # must not raise
        assert decoder.buffered < MAX_FRAME_SIZE
        for item in items:
            assert isinstance(item, Frame | DecodeError), item
            if isinstance(item, DecodeError):
                assert type(item) is not DecodeError, "errors are DecodeError subclasses"
                assert isinstance(item.detail, str) and isinstance(item.raw, bytes)
                assert len(item.raw) <= MAX_FRAME_SIZE
        out += items
    return out


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=600), max_size=8))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    feed_all(FrameDecoder(), chunks)


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.lists(st.sampled_from([0x68, 0x00, 0x01, 0x03, 0x04, 0xFF]), max_size=300).map(bytes),
        max_size=6,
    )
)
def test_start_byte_heavy_noise_never_raises(chunks: list[bytes]) -> None:
    # Many 0x68s and small lengths: exercises false starts, bad lengths and CRC failures.
    feed_all(FrameDecoder(), chunks)


@st.composite
def mutated_stream(draw: st.DrawFn) -> bytes:
    frames = draw(st.lists(st.sampled_from(EXAMPLE_FRAMES), min_size=1, max_size=6))
    data = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        else:
            del data[at : at + draw(st.integers(1, 20))]
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(stream=mutated_stream(), cut=st.integers(1, 64))
def test_mutated_frames_never_raise(stream: bytes, cut: int) -> None:
    chunks = [stream[i : i + cut] for i in range(0, len(stream), cut)]
    feed_all(FrameDecoder(), chunks)
    decode_frame(stream)  # never raises either


@settings(max_examples=300, deadline=None)
@given(msg_type=st.integers(0, 255), body=st.binary(max_size=200), version=st.integers(0, 255))
def test_valid_crc_with_any_type_and_body_never_raises(msg_type, body, version) -> None:
    # The CRC passes, so the body parser itself sees arbitrary bytes.
    items = feed_all(FrameDecoder(), [raw_frame(msg_type, body, 7, version)])
    assert len(items) == 1
    if isinstance(items[0], DecodeError):
        assert items[0].seq == 7 and items[0].msg_type == msg_type
        assert items[0].nack_reason is not None  # readable: answerable with a NACK


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(
            st.binary(max_size=60).filter(lambda b: 0x68 not in b),
            st.tuples(seqs, messages),
        ),
        min_size=1,
        max_size=10,
    ),
    cut=st.integers(1, 97),
)
def test_garbage_between_frames_is_reported_and_every_frame_decoded(pieces, cut) -> None:
    stream = b"".join(garbage + encode(m, seq) for garbage, (seq, m) in pieces)
    items = feed_all(FrameDecoder(), [stream[i : i + cut] for i in range(0, len(stream), cut)])
    frames = [item for item in items if isinstance(item, Frame)]
    errors = [item for item in items if not isinstance(item, Frame)]
    assert [(f.seq, f.message) for f in frames] == [item for _, item in pieces]
    assert all(isinstance(e, Garbage) for e in errors), errors
    assert sum(e.skipped for e in errors) == sum(len(g) for g, _ in pieces)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.tuples(st.binary(max_size=40), st.tuples(seqs, messages)), max_size=8),
    cut=st.integers(1, 200),
)
def test_resync_after_any_garbage_including_false_starts(pieces, cut) -> None:
    """Garbage may hold 0x68 and look like a frame start; once enough bytes follow (a false
    start waits for at most one maximum frame), every real frame is still decoded, in order."""
    stream = b"".join(garbage + encode(m, seq) for garbage, (seq, m) in pieces)
    stream += bytes(MAX_FRAME_SIZE)  # flush a false start that is still waiting for bytes
    items = feed_all(FrameDecoder(), [stream[i : i + cut] for i in range(0, len(stream), cut)])
    frames = [(f.seq, f.message) for f in items if isinstance(f, Frame)]
    expected = [item for _, item in pieces]
    # A real frame is never lost. (Garbage could in theory form an extra valid frame, which
    # hypothesis' small random garbage does not; we still only require the subsequence.)
    it = iter(frames)
    assert all(any(got == want for got in it) for want in expected), (frames, expected)


def test_huge_garbage_is_one_bounded_error_per_run() -> None:
    decoder = FrameDecoder()
    items = decoder.feed(b"\x00" * 100_000)
    assert len(items) == 1 and isinstance(items[0], Garbage)
    assert items[0].skipped == 100_000 and len(items[0].raw) == 64
    assert decoder.buffered == 0
