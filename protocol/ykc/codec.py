"""YKC frame envelope: build a frame, decode one complete frame.

offset  size  field
0       1     start byte 0x68
1       1     length L = 4 + body size (seq .. end of body)
2       2     sequence number, little-endian (a reply carries its request's bytes)
4       1     encryption flag: 0x00 plain, 0x01 3DES body
5       1     frame type
6       L-4   body, little-endian fields
2+L     2     CRC-16/MODBUS of bytes 2 .. 1+L (seq through body)

Piles disagree on the CRC's byte order, so a frame is accepted when it matches in either
order and the order it used is reported in ``YkcFrame.crc_order``; pilegate always sends the
low byte first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from protocol.stream import START_BYTE, CrcOrder, FrameLayout, crc16_modbus
from protocol.ykc.errors import (
    BadCrc,
    BadField,
    BadLength,
    Encrypted,
    Garbage,
    UnknownType,
    WrongBodySize,
    YkcDecodeError,
    YkcEncodeError,
)
from protocol.ykc.messages import MESSAGE_CLASSES, Message, Version
from protocol.ykc.plan import BodyCodec, BodyError, compile_body
from protocol.ykc.schemas import BODIES

MIN_LENGTH = 4  # seq + flag + type, empty body
MAX_LENGTH = 0xFF  # one length byte; V1.7's bill (0xCD) already exceeds SPEC's "≤ 200"
PLAIN, ENCRYPTED = 0x00, 0x01

#: The envelope as the stream decoder sees it (protocol/stream.py): a start byte whose length
#: or encryption flag no frame can have is dropped before the frame is awaited.
LAYOUT = FrameLayout(
    length_size=1,
    overhead=4,
    min_length=MIN_LENGTH,
    max_length=MAX_LENGTH,
    header_size=5,
    crc_from=2,
    flag_at=4,
    flag_max=ENCRYPTED,
    crc_either_order=True,
)


#: One body codec per frame type, compiled once at import.
BODY_CODECS: dict[int, BodyCodec] = {
    frame_type: compile_body(BODIES[frame_type], cls) for frame_type, cls in MESSAGE_CLASSES.items()
}

#: Frame types understood per protocol version. The layouts are the same in all three: V1.5
#: and V1.6 bills are 0x3B, V1.7's is 0x3D, and both are accepted from any pile because a
#: pile's firmware may not match the version it announces. V1.6's parallel-charge frames
#: (0xA1-0xA4) are not decoded yet; they would enter V1_6 and V1_7 here.
LAYOUTS: dict[Version, dict[int, BodyCodec]] = {version: BODY_CODECS for version in Version}
DEFAULT_VERSION = Version.V1_6


def layouts_for(version: int | None) -> dict[int, BodyCodec]:
    """The frame table of a version byte from a login; unknown versions get V1.6's."""
    if version is None:
        return LAYOUTS[DEFAULT_VERSION]
    try:
        return LAYOUTS[Version(version)]
    except ValueError:
        return LAYOUTS[DEFAULT_VERSION]


@dataclass(slots=True)
class YkcFrame:
    """A decoded frame: sequence number, message, CRC byte order and its exact bytes."""

    seq: int  # the two sequence bytes read little-endian; encoding it back gives the same bytes
    message: Message
    crc_order: CrcOrder
    raw: bytes

    @property
    def frame_type(self) -> int:
        return self.message.TYPE


def encode(message: Message, seq: int, crc_order: CrcOrder | None = None) -> bytes:
    """The complete plain frame; YkcEncodeError if a value does not fit. The CRC goes low
    byte first unless ``crc_order`` says otherwise (to imitate a pile, in tests and simulators).
    """
    if not 0 <= seq <= 0xFFFF:
        raise YkcEncodeError(f"sequence number must be 0..65535, got {seq}")
    try:
        body = BODY_CODECS[message.TYPE].encode(message)
    except (struct.error, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise YkcEncodeError(f"{type(message).__name__}: {exc}") from exc
    length = MIN_LENGTH + len(body)
    if length > MAX_LENGTH:
        raise YkcEncodeError(f"{type(message).__name__} body too long for one length byte")
    covered = bytes((seq & 0xFF, seq >> 8, PLAIN, message.TYPE)) + body
    byteorder: Literal["big", "little"] = "big" if crc_order is CrcOrder.HIGH_FIRST else "little"
    return bytes((START_BYTE, length)) + covered + crc16_modbus(covered).to_bytes(2, byteorder)


def crc_order(raw: bytes) -> CrcOrder | None:
    """Which byte order the CRC of a complete frame uses, or None if it matches neither."""
    crc = crc16_modbus(raw[2:-2])
    lo, hi = raw[-2], raw[-1]
    if crc == lo | (hi << 8):
        return CrcOrder.LOW_FIRST
    if crc == hi | (lo << 8):
        return CrcOrder.HIGH_FIRST
    return None


def decode_checked(
    raw: bytes, order: CrcOrder, codecs: dict[int, BodyCodec] = BODY_CODECS
) -> YkcFrame | YkcDecodeError:
    """Decode a frame whose length and CRC were already checked (the decoder's last step)."""
    seq = raw[2] | (raw[3] << 8)
    frame_type = raw[5]
    if raw[4] != PLAIN:
        return Encrypted(f"encryption flag 0x{raw[4]:02x}", raw, seq, frame_type)
    codec = codecs.get(frame_type)
    if codec is None:
        return UnknownType(f"frame type 0x{frame_type:02x}", raw, seq, frame_type)
    try:
        return YkcFrame(seq, codec.decode_frame(raw), order, raw)
    except BodyError as exc:
        return WrongBodySize(str(exc), raw, seq, frame_type, exc.truncated)
    except (ValueError, TypeError) as exc:
        return BadField(str(exc), raw, seq, frame_type)


def decode_frame(
    raw: bytes | bytearray | memoryview, version: int | None = DEFAULT_VERSION
) -> YkcFrame | YkcDecodeError:
    """Decode bytes that must hold exactly one frame. Never raises."""
    data = bytes(raw)
    sample = data[:64]
    if not data or data[0] != START_BYTE:
        return Garbage(f"{len(data)} bytes before a start byte", sample, skipped=len(data))
    if len(data) < 2 or data[1] < MIN_LENGTH:
        return BadLength(f"{len(data)} bytes, no valid length", sample)
    if len(data) != data[1] + 4:
        return BadLength(f"length byte {data[1]} for a frame of {len(data)} bytes", sample)
    if data[4] > ENCRYPTED:
        return BadLength(f"encryption flag 0x{data[4]:02x}", sample)
    order = crc_order(data)
    if order is None:
        return BadCrc("CRC mismatch in both byte orders", data, data[2] | (data[3] << 8), data[5])
    return decode_checked(data, order, layouts_for(version))


__all__ = [
    "BODY_CODECS",
    "DEFAULT_VERSION",
    "LAYOUT",
    "START_BYTE",
    "CrcOrder",
    "YkcFrame",
    "crc16_modbus",
    "crc_order",
    "decode_checked",
    "decode_frame",
    "encode",
    "layouts_for",
]
