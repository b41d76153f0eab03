"""Compile a YKC body declaration once into a ``struct`` plan.

Every YKC body this package declares is flat: fixed-width little-endian integers and
fixed-width byte fields. So one ``struct.Struct`` reads a whole body in one call and only the
non-integer fields (BCD, text, times, 5-byte meters) go through a Python function. The plan is
checked against construct's own parse in tests/protocol/ykc/test_plan.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from construct import FormatField, Struct

from protocol.ykc.fields import _Field


class BodyError(ValueError):
    """A body whose size is not its layout's; ``truncated`` when it is too short."""

    def __init__(self, detail: str, *, truncated: bool = False) -> None:
        super().__init__(detail)
        self.truncated = truncated


@dataclass(slots=True, frozen=True)
class BodyCodec:
    size: int
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def compile_body(decl: Struct, cls: type) -> BodyCodec:
    fmt = "<"
    names: list[str] = []
    decoders: list[tuple[int, Callable[[bytes], Any]]] = []
    encoders: list[tuple[int, Callable[[Any], bytes]]] = []
    for position, renamed in enumerate(decl.subcons):
        sub = renamed.subcon
        names.append(renamed.name)
        if isinstance(sub, FormatField) and sub.fmtstr[0] == "<":
            fmt += sub.fmtstr[1:]
        elif isinstance(sub, _Field):
            fmt += f"{sub.width}s"
            decoders.append((position, sub.decode))
            encoders.append((position, sub.encode))
        else:
            raise TypeError(f"{cls.__name__}.{renamed.name}: no flat plan for {sub!r}")
    expected = [field.name for field in fields(cls)]
    if names != expected:
        raise TypeError(f"{cls.__name__}: fields {expected} do not match the declaration {names}")

    layout = struct.Struct(fmt)
    size, unpack, pack, name = layout.size, layout.unpack, layout.pack, cls.__name__
    field_names = tuple(names)
    decoder_table = tuple(decoders)
    encoder_table = tuple(encoders)

    def decode(body: bytes) -> Any:
        if len(body) != size:
            raise BodyError(
                f"{name} body is {len(body)} bytes, expected {size}", truncated=len(body) < size
            )
        values = list(unpack(body))
        for position, convert in decoder_table:
            values[position] = convert(values[position])
        return cls(*values)

    def encode(obj: Any) -> bytes:
        values = [getattr(obj, attr) for attr in field_names]
        for position, convert in encoder_table:
            values[position] = convert(values[position])
        return pack(*values)

    return BodyCodec(size, decode, encode)
