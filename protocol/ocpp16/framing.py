"""OCPP-J frames: CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]`` and CALLERROR
``[4, id, code, description, details]``, parsed with orjson. ``parse_frame`` never raises: a
malformed text becomes an ``OcppError`` naming the id to answer with.

When the unique id cannot be read (not JSON, not an array, no string id), OCPP-J 1.6 says nothing;
we follow the rule the later OCPP-J text (2.0.1 part 4, §4.2.3) made explicit and answer with
the id ``"-1"``, code FormationViolation. A frame whose type is CALLRESULT or CALLERROR is never
answered, even when broken: the peer would have nothing to match the answer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from protocol.ocpp16.errors import ErrorCode, OcppError, parse_error_code

CALL, CALLRESULT, CALLERROR = 2, 3, 4
UNKNOWN_ID = "-1"
MAX_ID_LENGTH = 36  # OCPP-J: "maximum of 36 characters, to allow for GUIDs"
_RAW_SAMPLE = 200


@dataclass(slots=True, frozen=True)
class CallFrame:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True, frozen=True)
class CallResultFrame:
    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True, frozen=True)
class CallErrorFrame:
    unique_id: str
    code: ErrorCode | None  # None: a code that is not one of the 1.6 names (kept in ``code_text``)
    code_text: str
    description: str
    details: dict[str, Any]


Frame = CallFrame | CallResultFrame | CallErrorFrame


def _error(code: ErrorCode, why: str, text: str | bytes, uid: str | None) -> OcppError:
    sample = text[:_RAW_SAMPLE]
    raw = sample.decode("utf-8", "replace") if isinstance(sample, bytes) else sample
    return OcppError(code, why, uid, raw=raw)


def parse_frame(text: str | bytes) -> Frame | OcppError:
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _error(ErrorCode.FORMATION_VIOLATION, "not JSON", text, UNKNOWN_ID)
    if not isinstance(msg, list) or not msg:
        return _error(ErrorCode.FORMATION_VIOLATION, "not an OCPP-J array", text, UNKNOWN_ID)
    kind = msg[0]
    # Only a CALL is ever answered: a broken CALLRESULT / CALLERROR is reported, not answered.
    is_reply = type(kind) is int and kind in (CALLRESULT, CALLERROR)
    uid = msg[1] if len(msg) > 1 else None
    if type(uid) is not str or not uid or len(uid) > MAX_ID_LENGTH:
        answer = None if is_reply else UNKNOWN_ID
        return _error(ErrorCode.FORMATION_VIOLATION, "no usable unique id", text, answer)
    if len(msg) < 3:
        answer = None if is_reply else uid
        return _error(ErrorCode.FORMATION_VIOLATION, "too few elements", text, answer)
    if kind == CALL and type(kind) is int:
        if len(msg) != 4 or type(msg[2]) is not str:
            return _error(
                ErrorCode.FORMATION_VIOLATION, "CALL is not [2, id, action, {}]", text, uid
            )
        if type(msg[3]) is not dict:
            return _error(ErrorCode.FORMATION_VIOLATION, "CALL payload is not an object", text, uid)
        return CallFrame(uid, msg[2], msg[3])
    if kind == CALLRESULT and type(kind) is int:
        if len(msg) != 3 or type(msg[2]) is not dict:
            return _error(ErrorCode.FORMATION_VIOLATION, "bad CALLRESULT", text, None)
        return CallResultFrame(uid, msg[2])
    if kind == CALLERROR and type(kind) is int:
        if len(msg) != 5 or type(msg[2]) is not str or type(msg[3]) is not str:
            return _error(ErrorCode.FORMATION_VIOLATION, "bad CALLERROR", text, None)
        details = msg[4] if type(msg[4]) is dict else {"value": msg[4]}
        return CallErrorFrame(uid, parse_error_code(msg[2]), msg[2], msg[3], details)
    return _error(ErrorCode.FORMATION_VIOLATION, f"unknown message type {kind!r}", text, uid)


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALL, unique_id, action, payload]).decode()


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALLRESULT, unique_id, payload]).decode()


def encode_error(
    unique_id: str, code: ErrorCode, description: str = "", details: dict[str, Any] | None = None
) -> str:
    return orjson.dumps([CALLERROR, unique_id, str(code), description, details or {}]).decode()


def error_text(error: OcppError) -> str | None:
    """The CALLERROR answering ``error``, or None when it must not be answered."""
    if error.unique_id is None:
        return None
    return encode_error(error.unique_id, error.code, error.description[:255], error.details)
