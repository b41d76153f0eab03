"""Hypothesis strategies for valid YKC messages, derived from the construct declarations in
``protocol.ykc.schemas`` so that a new field or frame type is covered without editing here."""

from __future__ import annotations

from typing import Any

from construct import FormatField
from hypothesis import strategies as st

from protocol.ykc.cp56 import Cp56Time
from protocol.ykc.fields import Bcd, Celsius, RateSlots, ReversedText, Text, Time, UIntLE
from protocol.ykc.messages import MESSAGE_CLASSES, FrameType, Message
from protocol.ykc.schemas import BODIES

ALL_TYPES = sorted(MESSAGE_CLASSES)

times = st.builds(
    Cp56Time,
    year=st.integers(2000, 2127),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    millisecond=st.integers(0, 65535),
    weekday=st.integers(0, 7),
    invalid=st.booleans(),
    summer=st.booleans(),
)


def _text(width: int) -> st.SearchStrategy[str]:
    raw = st.binary(max_size=width).filter(lambda b: not b.endswith(b"\0"))
    return raw.map(lambda b: b.decode("latin-1"))


def field_strategy(sub: Any) -> st.SearchStrategy[Any]:
    if isinstance(sub, FormatField):
        return st.integers(0, (1 << (8 * sub.sizeof())) - 1)
    if isinstance(sub, Bcd):  # Opaque too
        return st.text("0123456789ABCDEF", min_size=2 * sub.width, max_size=2 * sub.width)
    if isinstance(sub, Text | ReversedText):
        return _text(sub.width)
    if isinstance(sub, UIntLE):
        return st.integers(0, (1 << (8 * sub.width)) - 1)
    if isinstance(sub, Celsius):
        return st.integers(-50, 205)
    if isinstance(sub, RateSlots):
        return st.lists(st.integers(0, 3), min_size=48, max_size=48).map(tuple)
    if isinstance(sub, Time):
        return st.none() | times
    raise TypeError(f"no strategy for {sub!r}")


def messages_of(frame_type: int) -> st.SearchStrategy[Message]:
    decl = BODIES[FrameType(frame_type)]
    kwargs = {renamed.name: field_strategy(renamed.subcon) for renamed in decl.subcons}
    return st.builds(MESSAGE_CLASSES[FrameType(frame_type)], **kwargs)


any_message = st.sampled_from(ALL_TYPES).flatmap(messages_of)
seqs = st.integers(0, 0xFFFF)
