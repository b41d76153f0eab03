"""Sans-I/O streaming YKC decoder: feed it what the transport read, get frames and errors.

Frames split across reads and many frames in one read are handled; garbage is skipped by
scanning for 0x68; a start byte whose length or encryption flag no frame can have is dropped
at once (before waiting for the bytes it announces); the CRC is checked, in both byte orders,
before the body is parsed; on a CRC mismatch only the start byte is dropped, since a real frame
may start inside the false one. ``feed`` never raises and holds at most one frame (259 bytes).
"""

from __future__ import annotations

from protocol.ykc.codec import (
    DEFAULT_VERSION,
    ENCRYPTED,
    MIN_LENGTH,
    PLAIN,
    START_BYTE,
    CrcOrder,
    YkcFrame,
    _crc,
    decode_checked,
    layouts_for,
)
from protocol.ykc.errors import BadCrc, BadLength, Garbage, YkcDecodeError

_GARBAGE_SAMPLE = 64
_LOW, _HIGH = CrcOrder.LOW_FIRST, CrcOrder.HIGH_FIRST


class YkcFrameDecoder:
    __slots__ = ("_buf", "_codecs", "_version")

    def __init__(self, version: int | None = DEFAULT_VERSION) -> None:
        self._buf = bytearray()
        self._version = version
        self._codecs = layouts_for(version)

    @property
    def version(self) -> int | None:
        return self._version

    @version.setter
    def version(self, version: int | None) -> None:
        """Set from the login's version byte; picks the frame table for what follows."""
        self._version = version
        self._codecs = layouts_for(version)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[YkcFrame | YkcDecodeError]:
        buf = self._buf
        buf += data
        out: list[YkcFrame | YkcDecodeError] = []
        pos, size, codecs = 0, len(buf), self._codecs
        while pos < size:
            if buf[pos] != START_BYTE:
                start = buf.find(START_BYTE, pos)
                stop = size if start < 0 else start
                sample = bytes(buf[pos : min(stop, pos + _GARBAGE_SAMPLE)])
                out.append(
                    Garbage(f"{stop - pos} bytes before a start byte", sample, skipped=stop - pos)
                )
                pos = stop
                continue
            if size - pos < 5:
                if size - pos >= 2 and buf[pos + 1] < MIN_LENGTH:
                    out.append(BadLength(f"length {buf[pos + 1]}", bytes(buf[pos : pos + 2])))
                    pos += 1
                    continue
                break
            length = buf[pos + 1]
            if length < MIN_LENGTH or buf[pos + 4] > ENCRYPTED:
                detail = f"length {length}, encryption flag 0x{buf[pos + 4]:02x}"
                out.append(BadLength(detail, bytes(buf[pos : pos + 5])))
                pos += 1  # not a frame start after all: scan on from the next byte
                continue
            end = pos + length + 4
            if end > size:
                break
            raw = bytes(buf[pos:end])
            crc = _crc(raw[2:-2])
            lo, hi = raw[-2], raw[-1]
            if crc == lo | (hi << 8):
                order = _LOW
            elif crc == hi | (lo << 8):
                order = _HIGH
            else:
                seq = raw[2] | (raw[3] << 8)
                out.append(BadCrc("CRC mismatch in both byte orders", raw, seq, raw[5]))
                pos += 1
                continue
            pos = end
            codec = codecs.get(raw[5])
            if codec is not None and raw[4] == PLAIN:
                # The common case inline (a third faster on a heartbeat than the call below).
                try:
                    out.append(
                        YkcFrame(raw[2] | (raw[3] << 8), codec.decode_frame(raw), order, raw)
                    )
                    continue
                except (ValueError, TypeError):
                    pass  # decode_checked names the problem
            out.append(decode_checked(raw, order, codecs))
        if pos:
            del buf[:pos]
        return out

    def clear(self) -> bytes:
        """Drop and return what is buffered (a frame cut off by a closed connection)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest
