"""Payload validation against the ocpp package's 1.6 schemas, both directions, 1.6 codes."""

from __future__ import annotations

import pytest

from protocol.ocpp16 import schemas
from protocol.ocpp16.errors import ErrorCode
from protocol.ocpp16.messages import REQUESTS, RESPONSES

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


def test_every_typed_action_has_a_schema_both_ways() -> None:
    assert set(REQUESTS) == set(RESPONSES)
    for action in REQUESTS:
        assert schemas.validator(action) is not None, action
        assert schemas.validator(action, response=True) is not None, action


def test_validators_are_compiled_once() -> None:
    assert schemas.validator("StatusNotification") is schemas.validator("StatusNotification")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"errorCode": "NoError", "status": "Available"}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ({**STATUS, "connectorId": "1"}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ({**STATUS, "connectorId": True}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ({**STATUS, "status": "Sleeping"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ({**STATUS, "info": "x" * 51}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ({**STATUS, "timestamp": "yesterday"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ({**STATUS, "colour": "red"}, ErrorCode.FORMATION_VIOLATION),
    ],
)
def test_schema_failures_map_to_the_16_codes(payload: dict, code: ErrorCode) -> None:
    error = schemas.validate("StatusNotification", payload)
    assert error is not None and error.code is code


def test_an_empty_meter_value_list_is_an_occurrence_violation() -> None:
    error = schemas.validate("MeterValues", {"connectorId": 1, "meterValue": []})
    assert error is not None and error.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION


def test_responses_are_validated_too() -> None:
    assert schemas.validate("Heartbeat", {"currentTime": "2026-01-01T00:00:00Z"}, True) is None
    missing = schemas.validate("Heartbeat", {}, response=True)
    assert missing is not None and missing.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
    bad = schemas.validate("Reset", {"status": "Maybe"}, response=True)
    assert bad is not None and bad.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def test_security_extension_schemas_with_definitions_validate() -> None:
    good = {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": "ftp://x/"}}
    assert schemas.validate("GetLog", good) is None
    error = schemas.validate("GetLog", {**good, "log": {}})
    assert error is not None and error.code is ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION


def test_a_timestamp_without_offset_is_accepted_as_utc() -> None:
    assert (
        schemas.validate("StatusNotification", {**STATUS, "timestamp": "2026-01-01T10:00:00"})
        is None
    )


def test_an_unknown_action_is_not_implemented_and_never_read_from_disk() -> None:
    for action in ("Bogus", "../../etc/passwd", "Heartbeat/../Reset"):
        error = schemas.validate(action, {})
        assert error is not None and error.code is ErrorCode.NOT_IMPLEMENTED
