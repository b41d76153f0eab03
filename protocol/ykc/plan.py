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

from protocol.error_root import PilegateError
from protocol.ykc.fields import _Field


class BodyError(PilegateError, ValueError):
    """A body whose size is not its layout's; ``truncated`` when it is too short."""

    def __init__(self, detail: str, *, truncated: bool = False) -> None:
        super().__init__(detail)
        self.truncated = truncated


@dataclass(slots=True, frozen=True)
class BodyCodec:
    size: int
    decode: Callable[[bytes], Any]  # the body alone
    decode_frame: Callable[[bytes], Any]  # the body inside a whole frame (6 bytes before, 2 after)
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
    converters = dict(decoders)
    return BodyCodec(
        layout.size,
        _decoder(cls, layout, len(names), converters, 0, 0),
        _decoder(cls, layout, len(names), converters, 6, 2),
        _encoder(layout, tuple(names), tuple(encoders)),
    )


def _decoder(
    cls: type,
    layout: struct.Struct,
    count: int,
    converters: dict[int, Callable[[bytes], Any]],
    before: int,
    after: int,
) -> Callable[[bytes], Any]:
    """A decode function written out for this layout: one unpack, then each converter
    applied in the constructor call. Generated once at import because a loop over the
    fields, and slicing the body out of its frame, cost a third of a heartbeat's budget."""
    size, name, extra = layout.size, cls.__name__, before + after
    args = ", ".join(f"c{i}(v[{i}])" if i in converters else f"v[{i}]" for i in range(count))
    source = (
        "def decode(data):\n"
        f"    if len(data) != {size + extra}:\n"
        f"        raise BodyError(f'{name} body is {{len(data) - {extra}}} bytes,"
        f" expected {size}', truncated=len(data) < {size + extra})\n"
        f"    v = unpack_from(data, {before})\n"
        f"    return cls({args})\n"
    )
    namespace: dict[str, Any] = {
        "BodyError": BodyError,
        "unpack_from": layout.unpack_from,
        "cls": cls,
    }
    namespace |= {f"c{i}": convert for i, convert in converters.items()}
    exec(source, namespace)  # source built above from field positions only
    decode: Callable[[bytes], Any] = namespace["decode"]
    return decode


def _encoder(
    layout: struct.Struct,
    field_names: tuple[str, ...],
    encoders: tuple[tuple[int, Callable[[Any], bytes]], ...],
) -> Callable[[Any], bytes]:
    pack = layout.pack

    def encode(obj: Any) -> bytes:
        values = [getattr(obj, attr) for attr in field_names]
        for position, convert in encoders:
            values[position] = convert(values[position])
        return pack(*values)

    return encode
