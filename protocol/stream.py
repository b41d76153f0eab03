"""The frame stream the binary dialects share: find a frame, check it, resynchronise.

pilegate's v1 and YKC frame a message alike: a start byte 0x68, a length, a header and body,
and a CRC-16/MODBUS in the last two bytes. They receive alike too (v1: docs/protocol.md §2.6):

1. Bytes before a start byte are garbage: skipped, and reported once per run.
2. As soon as the length is readable it is checked, and a dialect's flag byte once the header
   is complete: an impossible value means that 0x68 was no frame start, so only that byte is
   dropped, without waiting for the bytes the false length announced.
3. The frame is awaited whole and its CRC checked before anything else is parsed. On a
   mismatch only the start byte is dropped: a real frame may begin inside the false one.
4. The dialect parses the checked frame into a frame or a typed problem; the scan goes on.

``FrameStream`` runs that loop for both. A dialect describes its envelope in a ``FrameLayout``,
passes the function that parses a checked frame, and builds the three stream problems
(garbage, impossible header, CRC mismatch) in its own error types, all subclasses of
``StreamError``. ``feed`` never raises and afterwards holds less than one maximum frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar

import anycrc

START_BYTE = 0x68
GARBAGE_SAMPLE = 64  # bytes of a run of garbage kept in its error

#: CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF, no final XOR), as both dialects use it.
crc16_modbus: Callable[[bytes | bytearray | memoryview], int] = anycrc.Model("CRC16-MODBUS").calc


class CrcOrder(StrEnum):
    """The byte order of a frame's CRC."""

    LOW_FIRST = "low_first"  # Modbus-RTU order: v1 always, YKC per its text
    HIGH_FIRST = "high_first"  # what YKC firmware copying its C routine sends


@dataclass(slots=True, frozen=True)
class StreamError:
    """A problem found in a frame stream, a value returned in stream order, never raised.

    ``seq`` is filled in when the frame was readable that far; each dialect's subclass adds its
    type byte (v1 ``msg_type``, YKC ``frame_type``) and names its kinds.
    """

    kind: ClassVar[str] = "decode_error"
    detail: str
    raw: bytes  # the offending bytes (for a long run of garbage, only its first 64)
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class FrameLayout:
    """Where a dialect's envelope keeps what the stream loop checks."""

    length_size: int  # bytes of the length field right after the start byte: 1, or 2 big-endian
    overhead: int  # bytes outside what the length counts: frame size = length + overhead
    min_length: int
    max_length: int
    header_size: int  # bytes from the start byte needed to judge a frame start
    crc_from: int  # the CRC covers frame[crc_from:-2]
    flag_at: int = 0  # offset of a header byte that must not exceed flag_max; 0: none
    flag_max: int = 0xFF
    crc_either_order: bool = False  # accept a CRC sent high byte first as well

    def __post_init__(self) -> None:
        # The loop reads the length as two bytes and shifts; both must be header bytes.
        if self.length_size not in (1, 2) or self.header_size < 3:
            raise ValueError("a length of 1 or 2 bytes and a header of at least 3 bytes")


FrameT = TypeVar("FrameT")
ErrorT = TypeVar("ErrorT", bound=StreamError)

_LOW, _HIGH = CrcOrder.LOW_FIRST, CrcOrder.HIGH_FIRST


class FrameStream(Generic[FrameT, ErrorT]):
    """Streaming decoder: feed it whatever the transport read, get frames and problems back."""

    __slots__ = ("_decode", "_rest", "_spec", "layout")

    def __init__(
        self, layout: FrameLayout, decode: Callable[[bytes, CrcOrder], FrameT | ErrorT]
    ) -> None:
        """``decode`` parses a frame whose length and CRC were checked, told the CRC's order."""
        self._rest = b""  # the start of a frame still incomplete after the last feed
        self.layout = layout
        self._decode = decode
        # One tuple, unpacked once per feed: a pile's read often holds a single frame.
        self._spec = (
            8 if layout.length_size == 1 else 0,  # see feed: the shift that reads the length
            layout.overhead,
            layout.min_length,
            layout.max_length,
            layout.header_size,
            layout.crc_from,
            layout.flag_at,
            layout.flag_max,
            layout.crc_either_order,
        )

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._rest)

    def clear(self) -> bytes:
        """Drop and return what is buffered (e.g. a frame cut off by a closed connection)."""
        rest, self._rest = self._rest, b""
        return rest

    # The three problems, in the dialect's own types (off the hot path).

    def _garbage(self, sample: bytes, skipped: int) -> ErrorT:
        raise NotImplementedError

    def _bad_header(self, head: bytes) -> ErrorT:
        """``head``: the frame start, up to ``header_size`` bytes (as many as were there)."""
        raise NotImplementedError

    def _bad_crc(self, raw: bytes) -> ErrorT:
        raise NotImplementedError

    def feed(self, data: bytes | bytearray | memoryview) -> list[FrameT | ErrorT]:
        # Immutable bytes: a frame is then one slice of them. A read that starts with a frame
        # (the usual case) is not copied at all; a rest (less than a frame) is copied once.
        stream = self._rest + data if self._rest else bytes(data)
        out: list[FrameT | ErrorT] = []
        narrow, overhead, lo, hi, header, crc_from, flag_at, flag_max, either = self._spec
        decode = self._decode
        pos, size = 0, len(stream)
        while pos < size:
            if stream[pos] != START_BYTE:
                start = stream.find(START_BYTE, pos)
                stop = size if start < 0 else start
                sample = stream[pos : min(stop, pos + GARBAGE_SAMPLE)]
                out.append(self._garbage(sample, stop - pos))
                pos = stop
                continue
            if size - pos < header:
                if self._length_impossible(stream, pos):
                    out.append(self._bad_header(stream[pos:]))
                    pos += 1
                    continue
                break
            # Both length fields read as one: two bytes, or the first of them (>> 8).
            length = ((stream[pos + 1] << 8) | stream[pos + 2]) >> narrow
            if length < lo or length > hi or (flag_at and stream[pos + flag_at] > flag_max):
                out.append(self._bad_header(stream[pos : pos + header]))
                pos += 1  # not a frame start after all: scan on from the next byte
                continue
            end = pos + length + overhead
            if end > size:
                break
            raw = stream[pos:end]
            value = crc16_modbus(stream[pos + crc_from : end - 2])
            if value == raw[-2] | (raw[-1] << 8):
                out.append(decode(raw, _LOW))
            elif either and value == raw[-1] | (raw[-2] << 8):
                out.append(decode(raw, _HIGH))
            else:
                out.append(self._bad_crc(raw))
                pos += 1
                continue
            pos = end
        self._rest = stream[pos:] if pos else stream
        return out

    def _length_impossible(self, stream: bytes, pos: int) -> bool:
        """Whether a frame start with fewer than header_size bytes so far already has a length
        no frame can have (YKC: the length byte is judged before the flag byte arrives)."""
        layout = self.layout
        end = pos + 1 + layout.length_size
        if end > len(stream):
            return False
        length = int.from_bytes(stream[pos + 1 : end], "big")
        return not layout.min_length <= length <= layout.max_length


__all__ = [
    "GARBAGE_SAMPLE",
    "START_BYTE",
    "CrcOrder",
    "FrameLayout",
    "FrameStream",
    "StreamError",
    "crc16_modbus",
]
