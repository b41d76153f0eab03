"""Typed YKC decode problems. Nothing in this package raises on input: each problem becomes one
of these values, in stream order beside the good frames, for the gateway to log and count.
YKC has no negative-acknowledge frame, so unlike protocol v1 none of them has an answer of its
own; ``seq`` and ``frame_type`` are filled in when the frame was readable that far. They share
their base, ``protocol.stream.StreamError`` (detail, raw, seq), with v1's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from protocol.error_root import PilegateError
from protocol.stream import StreamError


@dataclass(slots=True, frozen=True)
class YkcDecodeError(StreamError):
    frame_type: int | None = None


@dataclass(slots=True, frozen=True)
class Garbage(YkcDecodeError):
    """Bytes before a start byte, skipped while resynchronising."""

    kind: ClassVar[str] = "garbage"
    skipped: int = 0


@dataclass(slots=True, frozen=True)
class BadLength(YkcDecodeError):
    """A start byte followed by a length or encryption flag no frame can have."""

    kind: ClassVar[str] = "bad_length"


@dataclass(slots=True, frozen=True)
class BadCrc(YkcDecodeError):
    """CRC-16/MODBUS matches in neither byte order."""

    kind: ClassVar[str] = "bad_crc"


@dataclass(slots=True, frozen=True)
class Encrypted(YkcDecodeError):
    """Encryption flag 0x01 (3DES body): pilegate has no key scheme for it, body not parsed."""

    kind: ClassVar[str] = "encrypted"


@dataclass(slots=True, frozen=True)
class UnknownType(YkcDecodeError):
    kind: ClassVar[str] = "unknown_type"


@dataclass(slots=True, frozen=True)
class WrongBodySize(YkcDecodeError):
    """A body shorter or longer than its frame type's layout."""

    kind: ClassVar[str] = "wrong_body_size"
    truncated: bool = False


@dataclass(slots=True, frozen=True)
class BadField(YkcDecodeError):
    kind: ClassVar[str] = "bad_field"


class YkcEncodeError(PilegateError, ValueError):
    """A message that cannot be put on the wire (a value out of range, wrong digit count)."""
