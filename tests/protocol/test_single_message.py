"""decode_frame: the one rule for a message that must hold exactly one frame (§1)."""

from __future__ import annotations

import pytest

from protocol.pilegate import DecodeError, Frame, Heartbeat, decode_frame, encode
from protocol.pilegate.errors import BadCrc, BadField, BadLength, Garbage, TruncatedBody

ONE = encode(Heartbeat(()), 7)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (b"", Garbage),
        (b"\x00" + ONE, Garbage),  # bytes before the frame
        (ONE + b"\x00", Garbage),  # bytes after it
        (ONE + ONE, BadField),  # two frames
        (ONE + ONE[:4], BadField),  # a frame and the start of another
        (ONE[:2], TruncatedBody),
        (ONE[:-1], TruncatedBody),
        (b"\x68\x00\x02" + ONE[3:], BadLength),
    ],
)
def test_anything_but_exactly_one_frame_is_rejected_without_a_seq(
    message: bytes, kind: type[DecodeError]
) -> None:
    error = decode_frame(message)
    assert isinstance(error, kind) and error.seq is None  # so nothing NACKs it, like garbage


def test_exactly_one_frame_with_a_bad_crc_keeps_its_seq_for_the_nack() -> None:
    bad = ONE[:-1] + bytes([ONE[-1] ^ 0xFF])
    error = decode_frame(bad)
    assert isinstance(error, BadCrc) and error.seq == 7 and error.nack_reason is not None


def test_one_frame_decodes_and_the_size_limit_is_the_callers() -> None:
    assert isinstance(decode_frame(ONE), Frame)
    assert isinstance(decode_frame(bytearray(ONE)), Frame)
    assert isinstance(decode_frame(ONE, max_frame_size=len(ONE) - 1), BadLength)
