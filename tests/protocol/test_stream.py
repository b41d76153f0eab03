"""The frame stream both binary dialects share (protocol/stream.py): its CRC, its
problems' common base, and its loop on a layout neither dialect has (so nothing in it silently
depends on v1's or YKC's numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol import pilegate, ykc
from protocol.stream import (
    CrcOrder,
    FrameLayout,
    FrameStream,
    StreamError,
    crc16_modbus,
)


def test_crc_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37


def test_both_dialects_problems_share_one_base_with_one_shape() -> None:
    v1 = pilegate.FrameDecoder().feed(b"\x01\x02\x68\x00\x01")
    y = ykc.YkcFrameDecoder().feed(b"\x01\x02\x68\x02")
    v1_problems = [p for p in v1 if isinstance(p, StreamError)]
    ykc_problems = [p for p in y if isinstance(p, StreamError)]
    assert len(v1_problems) == len(v1) and len(ykc_problems) == len(y)
    assert [(p.kind, p.raw, p.seq) for p in v1_problems] == [
        ("garbage", b"\x01\x02", None),
        ("bad_length", b"\x68\x00\x01", None),
        ("garbage", b"\x00\x01", None),
    ]
    assert [(p.kind, p.raw, p.seq) for p in ykc_problems] == [
        ("garbage", b"\x01\x02", None),
        ("bad_length", b"\x68\x02", None),
        ("garbage", b"\x02", None),
    ]


# A made-up dialect: 0x68, a 2-byte length, a mode byte that must be 0..3, a seq byte and a
# body; the CRC (either order) covers the mode byte to the end of the body.
TOY = FrameLayout(
    length_size=2,
    overhead=5,  # start + length + CRC
    min_length=2,
    max_length=40,
    header_size=4,
    crc_from=3,
    flag_at=3,
    flag_max=3,
    crc_either_order=True,
)


@dataclass(frozen=True, slots=True)
class ToyFrame:
    seq: int
    body: bytes
    order: CrcOrder


@dataclass(frozen=True, slots=True)
class ToyProblem(StreamError):
    pass


class ToyStream(FrameStream[ToyFrame, ToyProblem]):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(TOY, lambda raw, order: ToyFrame(raw[4], raw[5:-2], order))

    def _garbage(self, sample: bytes, skipped: int) -> ToyProblem:
        return ToyProblem(f"garbage {skipped}", sample)

    def _bad_header(self, head: bytes) -> ToyProblem:
        return ToyProblem("header", head)

    def _bad_crc(self, raw: bytes) -> ToyProblem:
        return ToyProblem("crc", raw, raw[4])


def toy(seq: int, body: bytes, order: CrcOrder = CrcOrder.LOW_FIRST, mode: int = 1) -> bytes:
    covered = bytes((mode, seq)) + body
    crc = crc16_modbus(covered).to_bytes(2, "little" if order is CrcOrder.LOW_FIRST else "big")
    return b"\x68" + len(covered).to_bytes(2, "big") + covered + crc


def test_a_layout_of_its_own_decodes_in_both_crc_orders_across_reads() -> None:
    stream = ToyStream()
    data = toy(1, b"abc") + toy(2, b"", CrcOrder.HIGH_FIRST)
    items = [item for byte in data for item in stream.feed(bytes((byte,)))]
    assert items == [
        ToyFrame(1, b"abc", CrcOrder.LOW_FIRST),
        ToyFrame(2, b"", CrcOrder.HIGH_FIRST),
    ]
    assert stream.buffered == 0


def test_a_two_byte_length_is_judged_before_the_header_is_complete() -> None:
    stream = ToyStream()
    # 3 of 4 header bytes: the length (1) is already impossible, so the 0x68 is dropped now.
    assert stream.feed(b"\x68\x00\x01") == [
        ToyProblem("header", b"\x68\x00\x01"),
        ToyProblem("garbage 2", b"\x00\x01"),
    ]
    # A possible length waits for the flag byte; a bad flag then drops the start byte.
    assert stream.feed(b"\x68\x00\x05") == []
    assert stream.feed(b"\x09") == [
        ToyProblem("header", b"\x68\x00\x05\x09"),
        ToyProblem("garbage 3", b"\x00\x05\x09"),
    ]


def test_a_crc_mismatch_drops_only_the_start_byte() -> None:
    stream = ToyStream()
    good = toy(7, b"xy")
    bad = bytearray(toy(6, b"\x68" + good))  # a real frame hidden in a broken one
    bad[-1] ^= 0xFF
    items = stream.feed(bytes(bad))
    assert items[0] == ToyProblem("crc", bytes(bad), 6)
    assert ToyFrame(7, b"xy", CrcOrder.LOW_FIRST) in items
