"""Sans-I/O streaming YKC decoder: feed it what the transport read, get frames and errors.

The loop is the one both binary dialects share (``protocol.stream.FrameStream``): frames split
across reads and many frames in one read; garbage skipped by scanning for 0x68; a start byte
whose length or encryption flag no frame can have dropped at once (before waiting for the
bytes it announces); the CRC checked, in both byte orders, before the body is parsed; on a CRC
mismatch only the start byte dropped, since a real frame may start inside the false one.
``feed`` never raises and holds at most one frame (259 bytes).
"""

from __future__ import annotations

from collections.abc import Callable

from protocol.stream import CrcOrder, FrameStream
from protocol.ykc.codec import (
    DEFAULT_VERSION,
    LAYOUT,
    PLAIN,
    YkcFrame,
    decode_checked,
    layouts_for,
)
from protocol.ykc.errors import BadCrc, BadLength, Garbage, YkcDecodeError
from protocol.ykc.plan import BodyCodec

CheckedDecoder = Callable[[bytes, CrcOrder], YkcFrame | YkcDecodeError]


def _checked_decoder(codecs: dict[int, BodyCodec]) -> CheckedDecoder:
    """The parse of a checked frame against one version's frame table."""

    def decode(raw: bytes, order: CrcOrder) -> YkcFrame | YkcDecodeError:
        codec = codecs.get(raw[5])
        if codec is not None and raw[4] == PLAIN:
            # The common case inline (a third faster on a heartbeat than decode_checked).
            try:
                return YkcFrame(raw[2] | (raw[3] << 8), codec.decode_frame(raw), order, raw)
            except (ValueError, TypeError):
                pass  # decode_checked names the problem
        return decode_checked(raw, order, codecs)

    return decode


class YkcFrameDecoder(FrameStream[YkcFrame, YkcDecodeError]):
    __slots__ = ("_version",)

    def __init__(self, version: int | None = DEFAULT_VERSION) -> None:
        super().__init__(LAYOUT, _checked_decoder(layouts_for(version)))
        self._version = version

    @property
    def version(self) -> int | None:
        return self._version

    @version.setter
    def version(self, version: int | None) -> None:
        """Set from the login's version byte; picks the frame table for what follows."""
        self._version = version
        self._decode = _checked_decoder(layouts_for(version))

    def _garbage(self, sample: bytes, skipped: int) -> YkcDecodeError:
        return Garbage(f"{skipped} bytes before a start byte", sample, skipped=skipped)

    def _bad_header(self, head: bytes) -> YkcDecodeError:
        if len(head) < LAYOUT.header_size:  # only the length byte could be judged
            return BadLength(f"length {head[1]}", head[:2])
        return BadLength(f"length {head[1]}, encryption flag 0x{head[4]:02x}", head)

    def _bad_crc(self, raw: bytes) -> YkcDecodeError:
        seq = raw[2] | (raw[3] << 8)
        return BadCrc("CRC mismatch in both byte orders", raw, seq, raw[5])
