"""pilegate's binary pile protocol v1 (docs/protocol.md), sans-I/O.

``encode(message, seq) -> bytes`` builds a frame; ``FrameDecoder().feed(chunk)`` returns the
complete ``Frame``s and typed ``DecodeError``s found so far; ``PilegateConnection`` keeps one
connection's rules (login first, seq and COMMAND_ACK matching, NACKs, the bad-frame window,
timeouts) on an injected clock. Messages are dataclasses in
``protocol.pilegate.messages``; code tables in ``protocol.pilegate.codes``. Nothing here does
I/O or reads a clock.
"""

from protocol.error_root import PilegateError
from protocol.pilegate.codec import (
    MAX_FRAME_SIZE,
    PROTOCOL_VERSION,
    START_BYTE,
    Frame,
    decode_frame,
    encode,
)
from protocol.pilegate.codes import (
    AnomalyBit,
    BillAckStatus,
    Channel,
    FaultCode,
    GunStatus,
    MsgType,
    NackReason,
    Result,
    StopReason,
    TariffKind,
)
from protocol.pilegate.connection import (
    CloseCause,
    CommandTimedOut,
    ConnectionClosed,
    ConnectionClosing,
    DecodeFailed,
    FrameReceived,
    FrameRefused,
    Outgoing,
    PendingCommand,
    PilegateConnection,
    PilegateUsageError,
    ReplyReceived,
    UnmatchedReply,
)
from protocol.pilegate.decoder import FrameDecoder
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
from protocol.pilegate.fields import PileIdError, normalize_pile_id
from protocol.pilegate.messages import *  # noqa: F403
from protocol.pilegate.messages import MESSAGE_CLASSES, Message
from protocol.pilegate.tariff_number import tariff_number

__all__ = [
    "MAX_FRAME_SIZE",
    "MESSAGE_CLASSES",
    "PROTOCOL_VERSION",
    "START_BYTE",
    "AnomalyBit",
    "BadCrc",
    "BadField",
    "BadLength",
    "BillAckStatus",
    "Channel",
    "CloseCause",
    "CommandTimedOut",
    "ConnectionClosed",
    "ConnectionClosing",
    "DecodeError",
    "DecodeFailed",
    "EncodeError",
    "FaultCode",
    "Frame",
    "FrameDecoder",
    "FrameReceived",
    "FrameRefused",
    "Garbage",
    "GunStatus",
    "Message",
    "MsgType",
    "NackReason",
    "Outgoing",
    "PendingCommand",
    "PileIdError",
    "PilegateConnection",
    "PilegateError",
    "PilegateUsageError",
    "ReplyReceived",
    "Result",
    "StopReason",
    "TariffKind",
    "TruncatedBody",
    "UnknownType",
    "UnmatchedReply",
    "UnsupportedVersion",
    "decode_frame",
    "encode",
    "normalize_pile_id",
    "tariff_number",
]
