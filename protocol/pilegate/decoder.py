"""Sans-I/O streaming decoder: feed it whatever the transport read, get frames and errors back.

The loop is the one both binary dialects share (``protocol.stream.FrameStream``): frames split
across reads and many frames in one read, resynchronisation on garbage by scanning for the
start byte, an impossible length rejected before the frame is buffered, the CRC checked
before the body is parsed (docs/protocol.md §2.6). It never raises. After every ``feed`` it
holds less than one maximum frame.
"""

from __future__ import annotations

from dataclasses import replace

from protocol.pilegate.codec import LAYOUT, MAX_FRAME_SIZE, Frame, decode_checked
from protocol.pilegate.errors import BadCrc, BadLength, DecodeError, Garbage
from protocol.stream import FrameStream


class FrameDecoder(FrameStream[Frame, DecodeError]):
    __slots__ = ()

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        if not 9 <= max_frame_size <= MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be 9..{MAX_FRAME_SIZE}")
        super().__init__(replace(LAYOUT, max_length=max_frame_size - 5), decode_checked)

    def _garbage(self, sample: bytes, skipped: int) -> DecodeError:
        return Garbage(f"{skipped} bytes before a start byte", sample, skipped=skipped)

    def _bad_header(self, head: bytes) -> DecodeError:
        return BadLength(f"length {(head[1] << 8) | head[2]}", head)

    def _bad_crc(self, raw: bytes) -> DecodeError:
        return BadCrc("CRC mismatch", raw, (raw[3] << 8) | raw[4], raw[6])


__all__ = ["DecodeError", "Frame", "FrameDecoder"]
