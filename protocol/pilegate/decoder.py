"""Sans-I/O streaming decoder: feed it whatever the transport read, get frames and errors back.

It handles frames split across reads and many frames in one read, resynchronises on garbage by
scanning for the start byte, rejects an impossible length before buffering the frame, checks
the CRC before the body is parsed, and never raises. After every ``feed`` it holds less than
one maximum frame.
"""

from __future__ import annotations

from protocol.pilegate.codec import (
    MAX_FRAME_SIZE,
    MIN_LENGTH,
    START_BYTE,
    Frame,
    _crc,
    decode_checked,
)
from protocol.pilegate.errors import BadCrc, BadLength, DecodeError, Garbage

_GARBAGE_SAMPLE = 64


class FrameDecoder:
    __slots__ = ("_buf", "_max_length")

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        if not 9 <= max_frame_size <= MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be 9..{MAX_FRAME_SIZE}")
        self._buf = bytearray()
        self._max_length = max_frame_size - 5

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | DecodeError]:
        buf = self._buf
        buf += data
        out: list[Frame | DecodeError] = []
        pos, size, max_length = 0, len(buf), self._max_length
        while pos < size:
            if buf[pos] != START_BYTE:
                start = buf.find(START_BYTE, pos)
                stop = size if start < 0 else start
                out.append(
                    Garbage(
                        f"{stop - pos} bytes before a start byte",
                        bytes(buf[pos : min(stop, pos + _GARBAGE_SAMPLE)]),
                        skipped=stop - pos,
                    )
                )
                pos = stop
                continue
            if size - pos < 3:
                break
            length = (buf[pos + 1] << 8) | buf[pos + 2]
            if length < MIN_LENGTH or length > max_length:
                out.append(BadLength(f"length {length}", bytes(buf[pos : pos + 3])))
                pos += 1  # not a frame start after all: scan on from the next byte
                continue
            end = pos + length + 5
            if end > size:
                break
            raw = bytes(buf[pos:end])
            if _crc(raw[1:-2]) != raw[-2] | (raw[-1] << 8):
                seq = (raw[3] << 8) | raw[4]
                out.append(BadCrc("CRC mismatch", raw, seq, raw[6]))
                pos += 1
                continue
            out.append(decode_checked(raw))
            pos = end
        if pos:
            del buf[:pos]
        return out

    def clear(self) -> bytes:
        """Drop and return what is buffered (e.g. a frame cut off by a closed connection)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


__all__ = ["DecodeError", "Frame", "FrameDecoder"]
