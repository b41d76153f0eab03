"""Field types of YKC bodies, as construct classes (so ``schemas.py`` parses and builds with
construct itself, the reference in the tests) that ``plan.py`` also compiles to ``struct``.

Decoding is lenient where a pile's data may be odd but still worth keeping (BCD with hex
nibbles, text that is not ASCII, impossible dates); encoding is strict, so what pilegate sends
always fits the field exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from construct import Adapter, Bytes

from protocol.ykc.cp56 import Cp56Time, decode_cp56, encode_cp56

_HEX = frozenset("0123456789ABCDEFabcdef")
TEMPERATURE_OFFSET = 50  # °C: raw 0 is -50 °C
SLOT_COUNT = 48  # half hours of a day in a billing model


_BCD_CACHE: dict[bytes, str] = {}
_BCD_CACHE_LIMIT = 4096


def decode_bcd(raw: bytes) -> str:
    # Upper-case hex: the same as the decimal digits for real BCD, and an ICCID's hex
    # nibbles (898604D1...) survive instead of failing the login.
    return raw.hex().upper()


def decode_bcd_cached(raw: bytes) -> str:
    """decode_bcd for short, recurring values (pile and gun numbers in every heartbeat)."""
    text = _BCD_CACHE.get(raw)
    if text is None:
        text = raw.hex().upper()
        if len(_BCD_CACHE) >= _BCD_CACHE_LIMIT:
            _BCD_CACHE.clear()  # bounded: a pile cannot grow it by inventing numbers
        _BCD_CACHE[raw] = text
    return text


def bcd_encoder(width: int) -> Callable[[str], bytes]:
    digits = 2 * width

    def encode(value: str) -> bytes:
        if not isinstance(value, str) or len(value) != digits or not _HEX.issuperset(value):
            raise ValueError(f"expected {digits} hex digits, got {value!r}")
        return bytes.fromhex(value)

    return encode


def decode_text(raw: bytes) -> str:
    # Latin-1 maps every byte to one character, so odd firmware strings decode and
    # re-encode unchanged; NUL padding on the right is dropped.
    return raw.rstrip(b"\0").decode("latin-1")


def text_encoder(width: int) -> Callable[[str], bytes]:
    def encode(value: str) -> bytes:
        raw = value.encode("latin-1")
        if len(raw) > width or raw.endswith(b"\0"):
            raise ValueError(f"text must be at most {width} characters, not ending in NUL")
        return raw.ljust(width, b"\0")

    return encode


def decode_reversed_text(raw: bytes) -> str:
    return decode_text(raw[::-1])


def reversed_text_encoder(width: int) -> Callable[[str], bytes]:
    forward = text_encoder(width)
    return lambda value: forward(value)[::-1]


def decode_uint_le(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def uint_le_encoder(width: int) -> Callable[[int], bytes]:
    def encode(value: int) -> bytes:
        if not isinstance(value, int) or not 0 <= value < 1 << (8 * width):
            raise ValueError(f"{value!r} does not fit {width} unsigned bytes")
        return value.to_bytes(width, "little")

    return encode


def decode_celsius(raw: bytes) -> int:
    return raw[0] - TEMPERATURE_OFFSET


def encode_celsius(value: int) -> bytes:
    if not -TEMPERATURE_OFFSET <= value <= 255 - TEMPERATURE_OFFSET:
        raise ValueError(f"temperature {value} °C outside -50..205")
    return bytes((value + TEMPERATURE_OFFSET,))


def decode_slots(raw: bytes) -> tuple[int, ...]:
    return tuple(raw)


def encode_slots(value: tuple[int, ...]) -> bytes:
    if len(value) != SLOT_COUNT or any(not 0 <= rate <= 3 for rate in value):
        raise ValueError(f"expected {SLOT_COUNT} rate numbers 0..3, got {value!r}")
    return bytes(value)


class _Field(Adapter):  # type: ignore[misc]  # construct ships no type information
    """A fixed-width field with plain decode/encode functions the plan compiler reuses."""

    def __init__(
        self, width: int, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes]
    ) -> None:
        super().__init__(Bytes(width))
        self.width = width
        self.decode = decode
        self.encode = encode

    def _decode(self, obj: bytes, context: Any, path: str) -> Any:
        return self.decode(obj)

    def _encode(self, obj: Any, context: Any, path: str) -> bytes:
        return self.encode(obj)


class Bcd(_Field):
    """Packed BCD, most significant digit first, shown as a string of 2 x width digits."""

    def __init__(self, width: int) -> None:
        decode = decode_bcd_cached if width <= 8 else decode_bcd
        super().__init__(width, decode, bcd_encoder(width))


class Opaque(Bcd):
    """Bytes the pile treats as an identifier (physical card, cable code): kept as hex."""


class Text(_Field):
    """ASCII zero-padded on the right (program version, VIN in a bill)."""

    def __init__(self, width: int) -> None:
        super().__init__(width, decode_text, text_encoder(width))


class ReversedText(_Field):
    """Text sent last character first (the VIN in a 0x31 start request)."""

    def __init__(self, width: int) -> None:
        super().__init__(width, decode_reversed_text, reversed_text_encoder(width))


class UIntLE(_Field):
    """A little-endian unsigned integer of a width struct has no code for (5-byte meters)."""

    def __init__(self, width: int) -> None:
        super().__init__(width, decode_uint_le, uint_le_encoder(width))


class Celsius(_Field):
    """One byte, 1 °C per bit, offset -50 °C."""

    def __init__(self) -> None:
        super().__init__(1, decode_celsius, encode_celsius)


class RateSlots(_Field):
    """48 rate numbers (0 sharp, 1 peak, 2 flat, 3 valley), one per half hour from 00:00."""

    def __init__(self) -> None:
        super().__init__(SLOT_COUNT, decode_slots, encode_slots)


class Time(_Field):
    """CP56Time2a; all zeros = None."""

    def __init__(self) -> None:
        super().__init__(7, decode_cp56, encode_cp56)


__all__ = [
    "Bcd",
    "Celsius",
    "Cp56Time",
    "Opaque",
    "RateSlots",
    "ReversedText",
    "Text",
    "Time",
    "UIntLE",
]
