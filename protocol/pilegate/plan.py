"""Compile a construct body declaration once into a flat ``struct`` plan.

Why: construct's own compiled parser takes ~7 us for a two-gun heartbeat body on this
machine, most of the per-frame budget. The declarations only use fixed-width integers, fixed
byte strings (text, BCD pile id, transaction id) and u8-counted arrays of such records, so a
run of fields maps onto one ``struct.Struct`` and a counted array onto ``iter_unpack``. The
result is checked against construct's reference parse in tests/protocol/test_plan.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from construct import Bytes, Construct, FormatField, Renamed, Struct

from protocol.error_root import PilegateError
from protocol.pilegate.fields import (
    Counted,
    PileId,
    Text,
    TransactionId,
    decode_pile_id,
    decode_text,
    decode_txid,
    encode_pile_id,
    encode_text,
    encode_txid,
    fixed_bytes,
)

Decode = Callable[[bytes], Any]
Encode = Callable[[Any], bytes]


class BodyError(PilegateError, ValueError):
    """A body that does not match its declaration; ``truncated`` when it is too short."""

    def __init__(self, detail: str, *, truncated: bool = False) -> None:
        super().__init__(detail)
        self.truncated = truncated


@dataclass(slots=True, frozen=True)
class _Run:
    """Consecutive fixed-width fields read with one struct call."""

    layout: struct.Struct
    names: tuple[str, ...]
    decoders: tuple[tuple[int, Decode], ...]  # (position, bytes -> value) for non-int fields
    encoders: tuple[tuple[int, Encode], ...]


@dataclass(slots=True, frozen=True)
class _Array:
    name: str
    fixed: int | None
    element: _Run
    element_cls: type


def _leaf(sub: Construct) -> tuple[str, Decode | None, Encode | None]:
    """struct format, decoder and encoder of one fixed-width field."""
    if isinstance(sub, FormatField):
        return sub.fmtstr[1:], None, None
    if isinstance(sub, Text):
        width = sub.width
        return f"{width}s", decode_text, lambda value: encode_text(value, width)
    if isinstance(sub, PileId):
        return "10s", decode_pile_id, encode_pile_id
    if isinstance(sub, TransactionId):
        return "16s", decode_txid, encode_txid
    if isinstance(sub, Bytes) and isinstance(sub.length, int):
        return f"{sub.length}s", bytes, fixed_bytes(sub.length)
    raise TypeError(f"no fixed-width plan for {sub!r}")


def _run(fields: list[Renamed]) -> _Run:
    fmt, names, decoders, encoders = ">", [], [], []
    for position, renamed in enumerate(fields):
        code, decode, encode = _leaf(renamed.subcon)
        fmt += code
        names.append(renamed.name)
        if decode is not None and encode is not None:
            decoders.append((position, decode))
            encoders.append((position, encode))
    return _Run(struct.Struct(fmt), tuple(names), tuple(decoders), tuple(encoders))


def _segments(decl: Struct, element_classes: dict[str, type]) -> list[_Run | _Array]:
    segments: list[_Run | _Array] = []
    pending: list[Renamed] = []
    for renamed in decl.subcons:
        if isinstance(renamed.subcon, Counted):
            if pending:
                segments.append(_run(pending))
                pending = []
            counted = renamed.subcon
            element = _run(list(counted.element.subcons))
            segments.append(
                _Array(renamed.name, counted.fixed, element, element_classes[renamed.name])
            )
        else:
            pending.append(renamed)
    if pending or not segments:
        segments.append(_run(pending))
    return segments


def _decode_run(run: _Run, values: tuple[Any, ...]) -> list[Any]:
    out = list(values)
    for position, decode in run.decoders:
        out[position] = decode(out[position])
    return out


def _encode_run(run: _Run, obj: Any) -> bytes:
    values = [getattr(obj, name) for name in run.names]
    for position, encode in run.encoders:
        values[position] = encode(values[position])
    return run.layout.pack(*values)


@dataclass(slots=True, frozen=True)
class BodyCodec:
    """Decode a body into its message class and encode it back."""

    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def compile_body(decl: Struct, cls: type, element_classes: dict[str, type]) -> BodyCodec:
    segments = _segments(decl, element_classes)
    names = [n for seg in segments for n in (seg.names if isinstance(seg, _Run) else (seg.name,))]
    expected = [f for f in getattr(cls, "__dataclass_fields__", {}) if f != "TYPE"]
    if names != expected:
        raise TypeError(f"{cls.__name__}: fields {expected} do not match the declaration {names}")

    if len(segments) == 1 and isinstance(segments[0], _Run):
        return _flat_codec(segments[0], cls)
    general = _general_codec(segments, cls)
    only = segments[0]
    if (
        len(segments) == 1
        and isinstance(only, _Array)
        and only.fixed is None
        and not only.element.decoders
    ):
        return BodyCodec(_counted_ints_decoder(only, cls), general.encode)
    return general


def _counted_ints_decoder(array: _Array, cls: type) -> Callable[[bytes], Any]:
    """The heartbeat's shape: one counted array of integer records, decoded in one pass."""
    layout, size, element_cls = array.element.layout, array.element.layout.size, array.element_cls

    def decode(body: bytes) -> Any:
        if not body:
            raise BodyError(f"{cls.__name__} body is empty", truncated=True)
        expected = 1 + body[0] * size
        if len(body) != expected:
            raise BodyError(
                f"{cls.__name__} body is {len(body)} bytes, expected {expected}",
                truncated=len(body) < expected,
            )
        return cls(tuple([element_cls(*item) for item in layout.iter_unpack(body[1:])]))

    return decode


def _flat_codec(run: _Run, cls: type) -> BodyCodec:
    layout, size = run.layout, run.layout.size

    def check(body: bytes) -> None:
        if len(body) != size:
            raise BodyError(
                f"{cls.__name__} body is {len(body)} bytes, expected {size}",
                truncated=len(body) < size,
            )

    if not run.decoders:

        def decode(body: bytes) -> Any:
            check(body)
            return cls(*layout.unpack(body))

    else:

        def decode(body: bytes) -> Any:
            check(body)
            return cls(*_decode_run(run, layout.unpack(body)))

    return BodyCodec(decode, lambda obj: _encode_run(run, obj))


def _general_codec(segments: list[_Run | _Array], cls: type) -> BodyCodec:
    def decode(body: bytes) -> Any:
        values: list[Any] = []
        offset = 0
        for seg in segments:
            if isinstance(seg, _Run):
                end = offset + seg.layout.size
                if end > len(body):
                    raise BodyError(f"{cls.__name__} body ends inside its fields", truncated=True)
                values.extend(_decode_run(seg, seg.layout.unpack_from(body, offset)))
                offset = end
                continue
            if seg.fixed is None:
                if offset >= len(body):
                    raise BodyError(f"{cls.__name__} body ends before {seg.name}", truncated=True)
                count, offset = body[offset], offset + 1
            else:
                count = seg.fixed
            end = offset + count * seg.element.layout.size
            if end > len(body):
                raise BodyError(f"{cls.__name__}.{seg.name} holds {count} items", truncated=True)
            element, element_cls = seg.element, seg.element_cls
            values.append(
                tuple(
                    element_cls(*_decode_run(element, item))
                    for item in element.layout.iter_unpack(body[offset:end])
                )
            )
            offset = end
        if offset != len(body):
            raise BodyError(f"{cls.__name__} body has {len(body) - offset} trailing bytes")
        return cls(*values)

    def encode(obj: Any) -> bytes:
        parts: list[bytes] = []
        for seg in segments:
            if isinstance(seg, _Run):
                parts.append(_encode_run(seg, obj))
                continue
            items = getattr(obj, seg.name)
            if seg.fixed is None:
                if len(items) > 255:
                    raise ValueError(f"{seg.name}: at most 255 items")
                parts.append(bytes((len(items),)))
            elif len(items) != seg.fixed:
                raise ValueError(f"{seg.name}: exactly {seg.fixed} items required")
            parts.extend(_encode_run(seg.element, item) for item in items)
        return b"".join(parts)

    return BodyCodec(decode, encode)
