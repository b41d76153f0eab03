"""The struct plans of protocol/ykc/plan.py agree with construct's reference parse and build
of the declarations in protocol/ykc/schemas.py."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from construct import Container
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.ykc.codec import BODY_CODECS
from protocol.ykc.messages import FrameType, Message
from protocol.ykc.plan import BodyError
from protocol.ykc.schemas import BODIES
from tests.protocol.ykc.strategies import ALL_TYPES, messages_of


def as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Container):
        return {k: v for k, v in obj.items() if not k.startswith("_")}
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def check(message: Message) -> None:
    decl, codec = BODIES[FrameType(message.TYPE)], BODY_CODECS[message.TYPE]
    body = codec.encode(message)
    assert body == decl.build(as_dict(message))
    assert len(body) == codec.size == decl.sizeof()
    assert as_dict(codec.decode(body)) == as_dict(decl.parse(body)) == as_dict(message)
    assert codec.decode_frame(b"\0" * 6 + body + b"\0\0") == message


@pytest.mark.parametrize("frame_type", ALL_TYPES, ids=lambda t: FrameType(t).name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_plan_matches_construct(frame_type: int, data: st.DataObject) -> None:
    check(data.draw(messages_of(frame_type)))


@pytest.mark.parametrize("frame_type", ALL_TYPES, ids=lambda t: FrameType(t).name)
def test_wrong_body_sizes_are_rejected_with_direction(frame_type: int) -> None:
    codec = BODY_CODECS[frame_type]
    body = bytes(codec.size)
    with pytest.raises(BodyError) as short:
        codec.decode(body[:-1])
    assert short.value.truncated
    with pytest.raises(BodyError) as long:
        codec.decode(body + b"\0")
    assert not long.value.truncated
