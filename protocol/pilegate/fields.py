"""Construct field types of the pile protocol: fixed-width text, BCD pile ids, transaction ids
and u8-counted arrays. They are ordinary construct classes (so the declarations in
``schemas.py`` parse and build with construct itself) that ``plan.py`` also recognises when
it compiles a declaration into a ``struct``-based plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from construct import Adapter, Bytes, Construct, Int8ub, ListContainer, stream_read, stream_write

from protocol.pile_ids import PILE_ID_DIGITS as PILE_ID_DIGITS
from protocol.pile_ids import PileIdError as PileIdError
from protocol.pile_ids import normalize_pile_id as normalize_pile_id

PILE_ID_BYTES = 10
TXID_BYTES = 16


def decode_pile_id(raw: bytes) -> str:
    digits = raw.hex()
    if not digits.isdigit():
        raise ValueError(f"pile id is not BCD: {digits}")
    return digits


def encode_pile_id(pile_id: str) -> bytes:
    return bytes.fromhex(normalize_pile_id(pile_id))


def decode_txid(raw: bytes) -> str:
    # All-zero means "no transaction" (e.g. a LOGOUT with no service).
    return "" if raw == bytes(TXID_BYTES) else raw.hex()


def encode_txid(txid: str) -> bytes:
    if not txid:
        return bytes(TXID_BYTES)
    raw = bytes.fromhex(txid)
    if len(raw) != TXID_BYTES:
        raise ValueError(f"transaction id must be {TXID_BYTES * 2} hex digits, got {txid!r}")
    return raw


def decode_text(raw: bytes) -> str:
    text = raw.rstrip(b"\0")
    if b"\0" in text:
        raise ValueError(f"text has a NUL before its end: {raw!r}")
    return text.decode("ascii")


def fixed_bytes(width: int) -> Callable[[bytes], bytes]:
    """Encoder of a raw byte field: exactly ``width`` bytes, never padded or cut."""

    def encode(value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray) or len(value) != width:
            raise ValueError(f"expected exactly {width} bytes, got {value!r}")
        return bytes(value)

    return encode


def encode_text(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width or b"\0" in raw:
        raise ValueError(f"text must be at most {width} ASCII characters without NUL: {text!r}")
    return raw.ljust(width, b"\0")


class Text(Adapter):  # type: ignore[misc]  # construct ships no type information
    """Fixed-width ASCII, NUL-padded on the right; NULs are stripped when read."""

    def __init__(self, width: int) -> None:
        super().__init__(Bytes(width))
        self.width = width

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return decode_text(obj)

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return encode_text(obj, self.width)


class PileId(Adapter):  # type: ignore[misc]  # construct ships no type information
    """20 decimal digits in 10 bytes of packed BCD, most significant digit first."""

    def __init__(self) -> None:
        super().__init__(Bytes(PILE_ID_BYTES))

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return decode_pile_id(obj)

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return encode_pile_id(obj)


class TransactionId(Adapter):  # type: ignore[misc]  # construct ships no type information
    """16 opaque bytes, shown as 32 lowercase hex digits; all zeros = no transaction."""

    def __init__(self) -> None:
        super().__init__(Bytes(TXID_BYTES))

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        return decode_txid(obj)

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        return encode_txid(obj)


class Counted(Construct):  # type: ignore[misc]  # construct ships no type information
    """An array preceded by its element count as one unsigned byte (0..255)."""

    def __init__(self, element: Construct, fixed: int | None = None) -> None:
        super().__init__()
        self.element = element
        self.fixed = fixed  # a fixed count means no count byte on the wire

    def _parse(self, stream: Any, context: Any, path: str) -> ListContainer:
        count = self.fixed if self.fixed is not None else stream_read(stream, 1, path)[0]
        return ListContainer(self.element._parsereport(stream, context, path) for _ in range(count))

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        items = list(obj)
        if self.fixed is None:
            stream_write(stream, Int8ub.build(len(items)), 1, path)
        elif len(items) != self.fixed:
            raise ValueError(f"expected exactly {self.fixed} items, got {len(items)}")
        for item in items:
            self.element._build(item, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        if self.fixed is None:
            raise ValueError("a counted array has no fixed size")
        element_size: int = self.element._sizeof(context, path)
        return self.fixed * element_size
