"""Frame envelope: encode a message with a sequence number, decode one complete frame.

offset  size  field
0       1     start byte 0x68
1       2     length L = 4 + body size (seq .. end of body), big-endian
3       2     sequence number, big-endian (a reply echoes its request's)
5       1     protocol version (1)
6       1     message type
7       L-4   body
3+L     2     CRC-16/MODBUS of bytes 1 .. 2+L (length through body), low byte first
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol.pilegate.codes import MsgType
from protocol.pilegate.errors import (
    BadCrc,
    BadField,
    BadLength,
    DecodeError,
    EncodeError,
    Garbage,
    TruncatedBody,
    UnknownType,
    UnsupportedVersion,
)
from protocol.pilegate.messages import (
    MESSAGE_CLASSES,
    GunReport,
    Message,
    TariffPrice,
    TariffSegment,
)
from protocol.pilegate.plan import BodyCodec, BodyError, compile_body
from protocol.pilegate.schemas import BODIES
from protocol.stream import START_BYTE, CrcOrder, FrameLayout, crc16_modbus

PROTOCOL_VERSION = 1
MAX_FRAME_SIZE = 1024  # whole frame, start byte to CRC
ENVELOPE_SIZE = 9  # start + length + seq + version + type + CRC
MIN_LENGTH = 4
MAX_LENGTH = MAX_FRAME_SIZE - 5

#: The envelope as the stream decoder sees it (protocol/stream.py); the decoder narrows
#: max_length to the configured maximum frame size.
LAYOUT = FrameLayout(
    length_size=2,
    overhead=5,
    min_length=MIN_LENGTH,
    max_length=MAX_LENGTH,
    header_size=3,
    crc_from=1,
)

_HEADER = struct.Struct(">BHHBB")


_ELEMENTS: dict[str, type] = {"guns": GunReport, "prices": TariffPrice, "segments": TariffSegment}

#: One body codec per message type, compiled once at import.
BODY_CODECS: dict[int, BodyCodec] = {
    msg_type: compile_body(BODIES[MsgType(msg_type)], cls, _ELEMENTS)
    for msg_type, cls in MESSAGE_CLASSES.items()
}


@dataclass(slots=True)
class Frame:
    """A decoded frame: its sequence number, message and exact bytes (for the journal)."""

    seq: int
    message: Message
    raw: bytes

    @property
    def msg_type(self) -> int:
        return self.message.TYPE


def encode(message: Message, seq: int) -> bytes:
    """The complete frame for ``message``; raises EncodeError for a value that does not fit."""
    if not 0 <= seq <= 0xFFFF:
        raise EncodeError(f"sequence number must be 0..65535, got {seq}")
    try:
        body = BODY_CODECS[message.TYPE].encode(message)
    except (struct.error, ValueError, TypeError, AttributeError, UnicodeEncodeError) as exc:
        raise EncodeError(f"{type(message).__name__}: {exc}") from exc
    length = MIN_LENGTH + len(body)
    if length > MAX_LENGTH:
        raise EncodeError(f"{type(message).__name__} frame exceeds {MAX_FRAME_SIZE} bytes")
    head = _HEADER.pack(START_BYTE, length, seq, PROTOCOL_VERSION, message.TYPE)
    covered = head[1:] + body
    return b"\x68" + covered + crc16_modbus(covered).to_bytes(2, "little")


def decode_checked(raw: bytes, order: CrcOrder = CrcOrder.LOW_FIRST) -> Frame | DecodeError:
    """Decode a frame whose length and CRC were already checked (the decoder's last step).
    ``order`` is the stream's report of the CRC's byte order: always LOW_FIRST in v1."""
    seq = (raw[3] << 8) | raw[4]
    version, msg_type = raw[5], raw[6]
    if version != PROTOCOL_VERSION:
        return UnsupportedVersion(f"protocol version {version}", raw, seq, msg_type)
    codec = BODY_CODECS.get(msg_type)
    if codec is None:
        return UnknownType(f"message type 0x{msg_type:02x}", raw, seq, msg_type)
    try:
        return Frame(seq, codec.decode(raw[7:-2]), raw)
    except BodyError as exc:
        error = TruncatedBody if exc.truncated else BadField
        return error(str(exc), raw, seq, msg_type)
    except (ValueError, UnicodeDecodeError) as exc:
        return BadField(str(exc), raw, seq, msg_type)


def decode_frame(
    raw: bytes | bytearray | memoryview, max_frame_size: int = MAX_FRAME_SIZE
) -> Frame | DecodeError:
    """Decode a message that must hold exactly one frame (a WebSocket binary message, §1).

    Never raises. A message that is not exactly one frame (empty, incomplete, bytes before or
    after the frame, two frames) is rejected as a whole: one error with no seq, which gets no
    NACK, like garbage on TCP. A message that is exactly one frame's worth of bytes but whose
    CRC, version, type or body is bad keeps its seq, so it gets the NACK of §2.6.
    """
    data = bytes(raw)
    size = len(data)
    sample = data[:64]
    if not data or data[0] != START_BYTE:
        return Garbage(f"{size} bytes before a start byte", sample, skipped=size)
    if size < 3:
        return TruncatedBody(f"incomplete frame: {size} bytes", sample)
    length = (data[1] << 8) | data[2]
    if not MIN_LENGTH <= length <= max_frame_size - 5:
        return BadLength(f"length {length}", data[:3])
    end = length + 5
    if size < end:
        return TruncatedBody(f"incomplete frame: {size} of {end} bytes", sample)
    if size > end:
        if data[end] == START_BYTE:
            return BadField(f"a frame and more in one message of {size} bytes", sample)
        return Garbage(f"{size - end} bytes after the frame", sample, skipped=size - end)
    if crc16_modbus(data[1:-2]) != data[-2] | (data[-1] << 8):
        return BadCrc("CRC mismatch", data, (data[3] << 8) | data[4], data[6])
    return decode_checked(data)


__all__ = [
    "BODY_CODECS",
    "ENVELOPE_SIZE",
    "LAYOUT",
    "MAX_FRAME_SIZE",
    "PROTOCOL_VERSION",
    "START_BYTE",
    "BadCrc",
    "Frame",
    "crc16_modbus",
    "decode_checked",
    "decode_frame",
    "encode",
]
