"""OCPP-J framing: every malformed input becomes a typed error with the right 1.6 code."""

from __future__ import annotations

import orjson
import pytest

from protocol.ocpp16.errors import ErrorCode, OcppError, parse_error_code
from protocol.ocpp16.framing import (
    UNKNOWN_ID,
    CallErrorFrame,
    CallFrame,
    CallResultFrame,
    encode_call,
    encode_error,
    encode_result,
    error_text,
    parse_frame,
)


def test_the_three_frame_kinds_parse() -> None:
    assert parse_frame('[2,"a1","Heartbeat",{}]') == CallFrame("a1", "Heartbeat", {})
    assert parse_frame('[3,"a1",{"currentTime":"x"}]') == CallResultFrame(
        "a1", {"currentTime": "x"}
    )
    error = parse_frame('[4,"a1","NotSupported","no",{"k":1}]')
    assert error == CallErrorFrame("a1", ErrorCode.NOT_SUPPORTED, "NotSupported", "no", {"k": 1})


def test_encoders_write_what_the_parser_reads() -> None:
    assert parse_frame(encode_call("7", "Reset", {"type": "Hard"})) == CallFrame(
        "7", "Reset", {"type": "Hard"}
    )
    assert parse_frame(encode_result("7", {})) == CallResultFrame("7", {})
    text = encode_error("7", ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION)
    assert orjson.loads(text) == [4, "7", "OccurenceConstraintViolation", "", {}]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "",
        b"\xff\xfe",
        "{}",
        '"text"',
        "[2]",
        '[2, 17, "Heartbeat", {}]',  # numeric id
        '[2, "", "Heartbeat", {}]',
        f'[2, "{"x" * 37}", "Heartbeat", {{}}]',  # longer than 36 characters
        '[9, null, "x"]',
    ],
)
def test_a_frame_without_a_usable_id_is_answered_with_id_minus_one(text: str | bytes) -> None:
    error = parse_frame(text)
    assert isinstance(error, OcppError)
    assert error.code is ErrorCode.FORMATION_VIOLATION
    assert error.unique_id == UNKNOWN_ID
    assert orjson.loads(error_text(error) or "")[:3] == [4, "-1", "FormationViolation"]


@pytest.mark.parametrize(
    "text",
    [
        '[2, "u1", "Heartbeat"]',  # payload missing
        '[2, "u1", "Heartbeat", [], 5]',
        '[2, "u1", 7, {}]',  # action not a string
        '[2, "u1", "Heartbeat", []]',  # payload not an object
        '[7, "u1", "Heartbeat", {}]',  # unknown message type
        '["2", "u1", "Heartbeat", {}]',
    ],
)
def test_a_malformed_call_with_a_readable_id_is_answered_on_that_id(text: str) -> None:
    error = parse_frame(text)
    assert isinstance(error, OcppError)
    assert (error.code, error.unique_id) == (ErrorCode.FORMATION_VIOLATION, "u1")


@pytest.mark.parametrize(
    "text",
    [
        '[3, "u1"]',
        '[3, "u1", []]',
        '[4, "u1", "GenericError"]',
        '[4, "u1", 5, "", {}]',
        "[3, 5, {}]",
    ],
)
def test_a_broken_reply_is_never_answered(text: str) -> None:
    error = parse_frame(text)
    assert isinstance(error, OcppError)
    assert error.unique_id is None
    assert error_text(error) is None


def test_both_spellings_of_the_renamed_codes_are_understood() -> None:
    assert parse_error_code("FormatViolation") is ErrorCode.FORMATION_VIOLATION
    assert parse_error_code("FormationViolation") is ErrorCode.FORMATION_VIOLATION
    assert (
        parse_error_code("OccurrenceConstraintViolation")
        is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    )
    assert parse_error_code("RpcFrameworkError") is None
    frame = parse_frame('[4, "u", "Whatever", "d", {}]')
    assert (
        isinstance(frame, CallErrorFrame) and frame.code is None and frame.code_text == "Whatever"
    )


def test_all_ten_codes_carry_the_16_spelling() -> None:
    assert {str(code) for code in ErrorCode} == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
