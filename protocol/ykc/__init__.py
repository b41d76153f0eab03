"""The YKC (云快充) pile protocol, V1.5/V1.6 with the V1.7 bill, sans-I/O.

``encode(message, seq)`` builds a frame, ``YkcFrameDecoder().feed(chunk)`` turns a byte
stream into ``YkcFrame``s and typed errors, and ``YkcConnection`` keeps one connection's state
(version, CRC order, sequence numbers, commands awaiting replies) on an injected clock.
Messages are the dataclasses of ``protocol.ykc.messages``; docs/ykc.md describes the dialect.
"""

from protocol.ykc.codec import CrcOrder, YkcFrame, crc16_modbus, decode_frame, encode
from protocol.ykc.connection import (
    CommandTimedOut,
    DecodeFailed,
    FrameBeforeLogin,
    FrameReceived,
    PendingCommand,
    ReplyReceived,
    UnexpectedFrame,
    YkcConnection,
    YkcUsageError,
)
from protocol.ykc.cp56 import CHINA, Cp56Time
from protocol.ykc.decoder import YkcFrameDecoder
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
from protocol.ykc.messages import *  # noqa: F403
from protocol.ykc.messages import MESSAGE_CLASSES, FrameType, Message, Version

__all__ = [
    "CHINA",
    "MESSAGE_CLASSES",
    "BadCrc",
    "BadField",
    "BadLength",
    "CommandTimedOut",
    "Cp56Time",
    "CrcOrder",
    "DecodeFailed",
    "Encrypted",
    "FrameBeforeLogin",
    "FrameReceived",
    "FrameType",
    "Garbage",
    "Message",
    "PendingCommand",
    "ReplyReceived",
    "UnexpectedFrame",
    "UnknownType",
    "Version",
    "WrongBodySize",
    "YkcConnection",
    "YkcDecodeError",
    "YkcEncodeError",
    "YkcFrame",
    "YkcFrameDecoder",
    "YkcUsageError",
    "crc16_modbus",
    "decode_frame",
    "encode",
]
