"""Hypothesis strategies for valid messages, derived from the construct declarations in
``protocol.pilegate.schemas`` so that a new field or message type is covered without editing
here."""

from __future__ import annotations

import struct
from typing import Any

from construct import Bytes, FormatField
from hypothesis import strategies as st

from protocol.pilegate.codec import crc16_modbus
from protocol.pilegate.codes import MsgType
from protocol.pilegate.fields import Counted, PileId, Text, TransactionId
from protocol.pilegate.messages import (
    MESSAGE_CLASSES,
    GunReport,
    Message,
    TariffPrice,
    TariffSegment,
)
from protocol.pilegate.schemas import BODIES

ELEMENTS: dict[str, type] = {"guns": GunReport, "prices": TariffPrice, "segments": TariffSegment}
MAX_ITEMS = 4

_INT_BITS = {"B": 8, "H": 16, "I": 32, "L": 32, "Q": 64}
_SINT_BITS = {"b": 8, "h": 16, "i": 32, "l": 32, "q": 64}

pile_ids = st.text("0123456789", min_size=20, max_size=20)
transaction_ids = st.one_of(
    st.just(""),
    st.binary(min_size=16, max_size=16).filter(any).map(bytes.hex),
)


def ascii_text(width: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=width)


def leaf(sub: Any) -> st.SearchStrategy[Any]:
    if isinstance(sub, FormatField):
        code = sub.fmtstr[-1]
        if code in _INT_BITS:
            return st.integers(0, 2 ** _INT_BITS[code] - 1)
        bits = _SINT_BITS[code]
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if isinstance(sub, Text):
        return ascii_text(sub.width)
    if isinstance(sub, PileId):
        return pile_ids
    if isinstance(sub, TransactionId):
        return transaction_ids
    if isinstance(sub, Bytes) and isinstance(sub.length, int):
        return st.binary(min_size=sub.length, max_size=sub.length)
    raise TypeError(f"no strategy for {sub!r}")


def record(decl: Any, cls: type) -> st.SearchStrategy[Any]:
    fields = {}
    for renamed in decl.subcons:
        sub = renamed.subcon
        if isinstance(sub, Counted):
            element = record(sub.element, ELEMENTS[renamed.name])
            if sub.fixed is None:
                fields[renamed.name] = st.lists(element, max_size=MAX_ITEMS).map(tuple)
            else:
                size = sub.fixed
                fields[renamed.name] = st.lists(element, min_size=size, max_size=size).map(tuple)
        else:
            fields[renamed.name] = leaf(sub)
    return st.builds(cls, **fields)


def messages_of(msg_type: int) -> st.SearchStrategy[Message]:
    return record(BODIES[MsgType(msg_type)], MESSAGE_CLASSES[msg_type])


ALL_TYPES = sorted(MESSAGE_CLASSES)
messages = st.sampled_from(ALL_TYPES).flatmap(messages_of)
seqs = st.integers(0, 0xFFFF)


def raw_frame(msg_type: int, body: bytes, seq: int = 1, version: int = 1) -> bytes:
    """A frame with any type, version and body but a correct length and CRC."""
    covered = struct.pack(">HHBB", 4 + len(body), seq, version, msg_type) + body
    return b"\x68" + covered + crc16_modbus(covered).to_bytes(2, "little")
