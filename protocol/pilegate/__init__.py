"""pilegate's binary pile protocol v1 (docs/protocol.md), sans-I/O.

``encode(message, seq) -> bytes`` builds a frame; ``FrameDecoder().feed(chunk)`` returns the
complete ``Frame``s and typed ``DecodeError``s found so far. Messages are dataclasses in
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
    "DecodeError",
    "EncodeError",
    "FaultCode",
    "Frame",
    "FrameDecoder",
    "Garbage",
    "GunStatus",
    "Message",
    "MsgType",
    "NackReason",
    "PileIdError",
    "PilegateError",
    "Result",
    "StopReason",
    "TariffKind",
    "TruncatedBody",
    "UnknownType",
    "UnsupportedVersion",
    "decode_frame",
    "encode",
    "normalize_pile_id",
    "tariff_number",
]
