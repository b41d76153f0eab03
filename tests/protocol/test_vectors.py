"""Golden vectors (tests/vectors/*.json) and the generated parts of docs/protocol.md.

The committed vector files are the reference: decoding each one's hex must give its fields and
encoding its fields must give its hex, so a codec change that alters bytes fails here. The doc's
hex examples and tables must be exactly what the codec produces now.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from protocol.pilegate import FrameDecoder, MsgType, decode_frame, encode
from protocol.pilegate.codec import Frame
from protocol.pilegate.examples import EXAMPLES
from tests.vectors import generate

VECTOR_FILES = sorted(generate.VECTORS_DIR.glob("*.json"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_one_vector_per_message_type_plus_16_digit_and_signed_login() -> None:
    names = {path.name for path in VECTOR_FILES}
    extra = {"login_16_digit.json", "login_signed.json"}
    expected = {f"{generate.vector_name(t)}.json" for t in MsgType} | extra
    assert names == expected


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_decodes_to_its_fields(path: Path) -> None:
    vector = _load(path)
    raw = bytes.fromhex(vector["hex"])
    frame = decode_frame(raw)
    assert isinstance(frame, Frame), frame
    assert frame.seq == vector["seq"]
    assert frame.msg_type == vector["type_code"] == MsgType[vector["type"]]
    assert generate.to_fields(frame.message) == vector["fields"]
    assert frame.raw == raw


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_fields_encode_to_its_hex(path: Path) -> None:
    vector = _load(path)
    message = generate.from_fields(vector["type_code"], vector["fields"])
    assert encode(message, vector["seq"]).hex() == vector["hex"]


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_is_what_the_generator_writes(path: Path) -> None:
    # The examples in protocol/pilegate/examples.py still produce the committed vectors.
    assert path.read_text() == generate.dump(generate.all_vectors()[path.name])


def test_16_digit_vector_is_left_padded() -> None:
    vector = _load(generate.VECTORS_DIR / "login_16_digit.json")
    configured = vector["configured_pile_id"]
    assert len(configured) == 16
    assert vector["fields"]["pile_id"] == "0000" + configured
    # BCD bytes at frame offset 7..16: two zero bytes, then the 16 digits.
    assert vector["hex"][14:34] == "0000" + configured
    message = generate.from_fields(1, {**vector["fields"], "pile_id": configured})
    assert encode(message, vector["seq"]).hex() == vector["hex"]


def test_vectors_decode_as_one_stream() -> None:
    vectors = [_load(path) for path in VECTOR_FILES]
    stream = b"".join(bytes.fromhex(v["hex"]) for v in vectors)
    items = FrameDecoder().feed(stream)
    assert [(f.seq, generate.to_fields(f.message)) for f in items] == [
        (v["seq"], v["fields"]) for v in vectors
    ]


# --- docs/protocol.md -------------------------------------------------------------------

DOC_TEXT = generate.DOC.read_text()
_HEX_BLOCK = re.compile(r"```hex\n([0-9a-f]+)\n```")


def _doc_example_hex(name: str) -> str:
    block = generate.doc_blocks(DOC_TEXT)[("example", name)]
    found = _HEX_BLOCK.findall(block)
    assert len(found) == 1, f"example {name}: expected one hex block"
    return found[0]


@pytest.mark.parametrize("msg_type", sorted(EXAMPLES), ids=lambda t: MsgType(t).name)
def test_doc_hex_example_matches_the_codec(msg_type: MsgType) -> None:
    seq, message = EXAMPLES[msg_type]
    assert _doc_example_hex(MsgType(msg_type).name) == encode(message, seq).hex()


def test_doc_16_digit_example_matches_the_codec() -> None:
    seq, message = generate.LOGIN_16
    assert _doc_example_hex("LOGIN_16_DIGIT") == encode(message, seq).hex()


def test_doc_has_a_body_table_and_example_for_every_type() -> None:
    blocks = generate.doc_blocks(DOC_TEXT)
    for msg_type in MsgType:
        assert ("body", msg_type.name) in blocks, msg_type.name
        assert ("example", msg_type.name) in blocks, msg_type.name
    for table in generate.CODE_TABLES:
        assert ("codes", table) in blocks, table


def test_doc_generated_blocks_are_current() -> None:
    # Fails when the codec, the examples or the generator changed without
    # `python tests/vectors/generate.py` being run.
    assert generate.render_doc(DOC_TEXT) == DOC_TEXT


def test_doc_crc_reference_code_and_check_value() -> None:
    # The bitwise algorithm as written in the doc (§2.4) agrees with the codec.
    def crc16_modbus_bitwise(data: bytes) -> int:
        crc = 0xFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        return crc

    assert "0x4B37" in DOC_TEXT and "0xA001" in DOC_TEXT
    assert crc16_modbus_bitwise(b"123456789") == 0x4B37
    for seq, message in EXAMPLES.values():
        frame = encode(message, seq)
        assert frame[-2:] == crc16_modbus_bitwise(frame[1:-2]).to_bytes(2, "little")
