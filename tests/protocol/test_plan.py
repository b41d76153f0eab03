"""The struct plans of protocol/pilegate/plan.py agree with construct's reference parse and
build of the declarations in protocol/pilegate/schemas.py."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from construct import Container, ListContainer
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pilegate.codec import BODY_CODECS
from protocol.pilegate.codes import MsgType
from protocol.pilegate.examples import EXAMPLES
from protocol.pilegate.messages import Message
from protocol.pilegate.schemas import BODIES
from tests.protocol.strategies import ALL_TYPES, messages_of

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
VECTORS = ROOT / "tests" / "vectors"


def plain(obj: Any) -> Any:
    """construct Containers and our dataclasses as comparable plain dicts and lists."""
    if isinstance(obj, Container):
        return {k: plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, ListContainer | list | tuple):
        return [plain(item) for item in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, int):
        return int(obj)  # IntEnum -> int
    return obj


def build_input(message: Message) -> dict[str, Any]:
    return plain(message)


def check(message: Message) -> None:
    msg_type = MsgType(message.TYPE)
    codec, decl = BODY_CODECS[msg_type], BODIES[msg_type]
    body = codec.encode(message)
    # construct builds the same bytes ...
    assert decl.build(build_input(message)) == body
    # ... and parses them to the same values as our plan.
    reference = plain(decl.parse(body))
    ours = codec.decode(body)
    assert plain(ours) == reference
    assert ours == message


@pytest.mark.parametrize("msg_type", sorted(EXAMPLES), ids=lambda t: MsgType(t).name)
def test_examples_agree_with_construct(msg_type: MsgType) -> None:
    check(EXAMPLES[msg_type][1])


@pytest.mark.parametrize("msg_type", ALL_TYPES, ids=lambda t: MsgType(t).name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_messages_agree_with_construct(msg_type: int, data: st.DataObject) -> None:
    check(data.draw(messages_of(msg_type)))


def documented_types() -> dict[int, str]:
    """The rows of docs/protocol.md §4.1 (value -> name), read from the text itself."""
    text = DOC.read_text()
    section = text[text.index("### 4.1 MsgType") : text.index("### 4.2 ")]
    rows = re.findall(r"^\| (0x[0-9a-f]{2}) \| ([A-Z_]+) \|", section, re.MULTILINE)
    return {int(value, 16): name for value, name in rows}


DOCUMENTED = documented_types()


def test_the_protocol_document_lists_message_types_both_ways() -> None:
    # Guards the reading above: §4.1 has pile -> gateway types and gateway -> pile types.
    assert any(t < 0x80 for t in DOCUMENTED) and any(t >= 0x80 for t in DOCUMENTED)
    assert len(DOCUMENTED) >= 25


@pytest.mark.parametrize("msg_type", sorted(DOCUMENTED), ids=lambda t: DOCUMENTED[t])
def test_every_documented_message_type_has_a_codec_that_reads_its_golden_vector(
    msg_type: int,
) -> None:
    """A type the protocol defines but the codec lacks (or names otherwise) fails here: the
    list comes from the document and the bytes from the committed vectors, not the codec."""
    assert MsgType(msg_type).name == DOCUMENTED[msg_type]
    codec = BODY_CODECS.get(msg_type)
    assert codec is not None, f"{DOCUMENTED[msg_type]} has no codec"
    vector = json.loads((VECTORS / f"{DOCUMENTED[msg_type].lower()}.json").read_text())
    assert vector["type_code"] == msg_type
    raw = bytes.fromhex(vector["hex"])
    body = raw[7:-2]  # frame header (7 bytes) and CRC (2 bytes) around the body
    message = codec.decode(body)
    assert msg_type == message.TYPE
    assert codec.encode(message) == body


@settings(max_examples=150, deadline=None)
@given(msg_type=st.sampled_from(ALL_TYPES), body=st.binary(max_size=200))
def test_plan_and_construct_agree_on_arbitrary_bodies(msg_type: int, body: bytes) -> None:
    """Whatever construct parses from a body of exactly the right size, the plan parses the
    same; where construct fails, the plan fails with a ValueError (never another exception)."""
    codec, decl = BODY_CODECS[msg_type], BODIES[MsgType(msg_type)]
    try:
        ours = codec.decode(body)
    except ValueError:  # BodyError and UnicodeDecodeError are ValueErrors
        ours = None
    try:
        reference = decl.parse(body)
        exact = len(decl.build(reference)) == len(body)
    except Exception:
        reference, exact = None, False
    if ours is not None:
        assert reference is not None
        assert plain(ours) == plain(reference)
    elif reference is not None:
        # construct ignores trailing bytes; the plan rejects them.
        assert not exact
