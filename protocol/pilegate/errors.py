"""Typed decode problems. The decoder never raises on input: each problem becomes one of these
values, in stream order beside the good frames, so the gateway can log it, count it and answer
with a NACK where the frame was readable enough to name its sequence number. They share their
base, ``protocol.stream.StreamError`` (detail, raw, seq), with YKC's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from protocol.error_root import PilegateError
from protocol.pilegate.codes import NackReason
from protocol.stream import StreamError


@dataclass(slots=True, frozen=True)
class DecodeError(StreamError):
    nack_reason: ClassVar[NackReason | None] = None  # None: not answerable (no frame to name)
    msg_type: int | None = None  # byte 6 as received (unverified when the CRC failed)


@dataclass(slots=True, frozen=True)
class Garbage(DecodeError):
    """Bytes before a start byte; skipped while resynchronising."""

    kind: ClassVar[str] = "garbage"
    skipped: int = 0


@dataclass(slots=True, frozen=True)
class BadLength(DecodeError):
    """A start byte with a length below the minimum or above the maximum frame size."""

    kind: ClassVar[str] = "bad_length"


@dataclass(slots=True, frozen=True)
class BadCrc(DecodeError):
    kind: ClassVar[str] = "bad_crc"
    nack_reason: ClassVar[NackReason | None] = NackReason.BAD_CRC


@dataclass(slots=True, frozen=True)
class UnsupportedVersion(DecodeError):
    kind: ClassVar[str] = "unsupported_version"
    nack_reason: ClassVar[NackReason | None] = NackReason.UNSUPPORTED_VERSION


@dataclass(slots=True, frozen=True)
class UnknownType(DecodeError):
    kind: ClassVar[str] = "unknown_type"
    nack_reason: ClassVar[NackReason | None] = NackReason.UNKNOWN_TYPE


@dataclass(slots=True, frozen=True)
class TruncatedBody(DecodeError):
    kind: ClassVar[str] = "truncated_body"
    nack_reason: ClassVar[NackReason | None] = NackReason.TRUNCATED


@dataclass(slots=True, frozen=True)
class BadField(DecodeError):
    kind: ClassVar[str] = "bad_field"
    nack_reason: ClassVar[NackReason | None] = NackReason.BAD_FIELD


class EncodeError(PilegateError, ValueError):
    """A message that cannot be put on the wire (a value out of range, text too long)."""
