"""The YKC decoder, frame decoder, connection and sniffer never raise on input, resynchronise
after garbage, and reject wrong lengths and bad CRCs with typed errors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.sniff import sniff
from protocol.stream import crc16_modbus
from protocol.ykc import (
    BadCrc,
    BadLength,
    CrcOrder,
    Encrypted,
    Garbage,
    UnknownType,
    WrongBodySize,
    YkcDecodeError,
    YkcFrame,
    YkcFrameDecoder,
    decode_frame,
    encode,
)
from protocol.ykc.connection import YkcConnection
from protocol.ykc.messages import Heartbeat
from tests.protocol.ykc.strategies import any_message, seqs

HEARTBEAT = encode(Heartbeat("20231212000010", "01", 0), 1)
MAX_FRAME = 255 + 4

noisy = st.lists(st.binary(max_size=300), max_size=20)
start_heavy = st.lists(
    st.lists(st.sampled_from([0x68, 0x00, 0x01, 0x0D, 0xFF]), max_size=80).map(bytes),
    max_size=20,
)


def frame(body: bytes, frame_type: int, seq: int = 1, flag: int = 0) -> bytes:
    covered = bytes((seq & 0xFF, seq >> 8, flag, frame_type)) + body
    return bytes((0x68, len(covered))) + covered + crc16_modbus(covered).to_bytes(2, "little")


@settings(max_examples=300, deadline=None)
@given(chunks=st.one_of(noisy, start_heavy))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    decoder, connection = YkcFrameDecoder(), YkcConnection()
    seen = b""
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, YkcFrame | YkcDecodeError)
        assert decoder.buffered < MAX_FRAME
        connection.receive_data(chunk)
        connection.events_received()
        seen += chunk
        sniff(seen)
        decode_frame(chunk)


@settings(max_examples=300, deadline=None)
@given(
    before=st.binary(max_size=40),
    messages=st.lists(st.tuples(any_message, seqs), min_size=1, max_size=4),
    flips=st.lists(st.integers(0, 10_000), max_size=3),
)
def test_mutated_streams_never_raise_and_good_frames_survive_garbage(
    before: bytes, messages, flips
) -> None:  # type: ignore[no-untyped-def]
    good = [encode(m, s) for m, s in messages]
    stream = bytearray(before.replace(b"\x68", b"\x00") + b"".join(good))
    for flip in flips:
        stream[flip % len(stream)] ^= 0x5A
    decoder = YkcFrameDecoder()
    out = decoder.feed(bytes(stream))
    assert decoder.buffered < MAX_FRAME
    if not flips:
        assert [f.message for f in out if isinstance(f, YkcFrame)] == [m for m, _ in messages]


def test_resyncs_after_garbage_and_reports_it() -> None:
    out = YkcFrameDecoder().feed(b"AT+OK\r\n" + HEARTBEAT)
    assert isinstance(out[0], Garbage) and out[0].skipped == 7
    assert isinstance(out[1], YkcFrame)


def test_a_corrupted_frame_is_a_crc_error_and_the_next_frame_still_decodes() -> None:
    bad = bytearray(HEARTBEAT)
    bad[8] ^= 0x01
    out = YkcFrameDecoder().feed(bytes(bad) + HEARTBEAT)
    assert isinstance(out[0], BadCrc) and out[0].seq == 1 and out[0].frame_type == 0x03
    assert isinstance(out[-1], YkcFrame)


def test_both_crc_orders_are_accepted_and_reported() -> None:
    message = Heartbeat("20231212000010", "01", 0)
    for order in CrcOrder:
        item = YkcFrameDecoder().feed(encode(message, 0x1234, order))[0]
        assert isinstance(item, YkcFrame) and item.crc_order is order


def test_a_length_too_small_is_rejected_without_waiting() -> None:
    decoder = YkcFrameDecoder()
    out = decoder.feed(b"\x68\x02")
    assert isinstance(out[0], BadLength) and decoder.buffered == 0


def test_a_bad_encryption_flag_is_a_false_start() -> None:
    out = YkcFrameDecoder().feed(b"\x68\x0d\x00\x00\x07" + HEARTBEAT)
    assert isinstance(out[0], BadLength)
    assert isinstance(out[-1], YkcFrame)


def test_length_byte_one_too_long_waits_then_fails_crc_and_recovers() -> None:
    longer = HEARTBEAT[:1] + bytes((HEARTBEAT[1] + 1,)) + HEARTBEAT[2:]
    decoder = YkcFrameDecoder()
    assert decoder.feed(longer) == []  # one byte missing: wait for it
    out = decoder.feed(HEARTBEAT)
    assert isinstance(out[0], BadCrc)
    assert isinstance(out[-1], YkcFrame)


def test_body_shorter_or_longer_than_its_layout() -> None:
    body = bytes.fromhex("20231212000010") + b"\x01\x00"
    short = YkcFrameDecoder().feed(frame(body[:-1], 0x03))[0]
    long = YkcFrameDecoder().feed(frame(body + b"\x00", 0x03))[0]
    assert isinstance(short, WrongBodySize) and short.truncated
    assert isinstance(long, WrongBodySize) and not long.truncated


def test_unknown_type_and_encrypted_body_keep_seq_and_type() -> None:
    unknown = YkcFrameDecoder().feed(frame(b"\x00" * 8, 0x15, seq=0x0203))[0]
    assert isinstance(unknown, UnknownType)
    assert (unknown.seq, unknown.frame_type) == (0x0203, 0x15)
    body = bytes.fromhex("20231212000010") + b"\x01\x00"
    encrypted = YkcFrameDecoder().feed(frame(body, 0x03, flag=1))[0]
    assert isinstance(encrypted, Encrypted) and encrypted.frame_type == 0x03


def test_decode_frame_needs_exactly_one_frame() -> None:
    assert isinstance(decode_frame(b""), Garbage)
    assert isinstance(decode_frame(HEARTBEAT[:-1]), BadLength)
    assert isinstance(decode_frame(HEARTBEAT + b"\x00"), BadLength)
    assert isinstance(decode_frame(HEARTBEAT), YkcFrame)
