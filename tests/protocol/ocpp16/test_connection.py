"""OcppConnection: one outstanding CALL, reply matching, timeouts on a fake clock, answers to
every incoming frame, never an exception on input."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.ocpp16 import messages as m
from protocol.ocpp16.connection import (
    CallAnswered,
    CallFailed,
    CallTimedOut,
    DuplicateCall,
    IncomingCall,
    InvalidOutgoing,
    InvalidReply,
    OcppConnection,
    ProtocolViolation,
    UnmatchedReply,
)
from protocol.ocpp16.errors import ErrorCode

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


def frames(conn: OcppConnection) -> list[list]:
    return [orjson.loads(text) for text in conn.data_to_send()]


def incoming(conn: OcppConnection, uid: str, action: str, payload: dict, now: float = 0.0):
    conn.receive_text(orjson.dumps([2, uid, action, payload]), now)
    return conn.events_received()


def test_heartbeat_and_status_are_delivered_and_answered() -> None:
    conn = OcppConnection()
    (call,) = incoming(conn, "h1", "Heartbeat", {})
    assert isinstance(call, IncomingCall) and call.message == m.Heartbeat()
    assert conn.reply(call, m.HeartbeatResponse(current_time=0)) is None
    assert frames(conn) == [[3, "h1", {"currentTime": "1970-01-01T00:00:00.000Z"}]]
    (status,) = incoming(conn, "s1", "StatusNotification", STATUS)
    assert status.message == m.StatusNotification(
        connector_id=1, error_code="NoError", status="Available"
    )
    assert conn.reply(status, m.StatusNotificationResponse()) is None
    assert frames(conn) == [[3, "s1", {}]]


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        (
            "StatusNotification",
            {"status": "Available", "errorCode": "NoError"},
            "OccurenceConstraintViolation",
        ),
        ("StatusNotification", {**STATUS, "connectorId": "one"}, "TypeConstraintViolation"),
        ("StatusNotification", {**STATUS, "status": "Dancing"}, "PropertyConstraintViolation"),
        ("StatusNotification", {**STATUS, "extra": 1}, "FormationViolation"),
        ("Teleport", {}, "NotImplemented"),
        ("Reset", {"type": "Hard"}, "NotSupported"),  # a 1.6 action, but not one a CP sends
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-02-31T00:00:00Z"},
            "PropertyConstraintViolation",
        ),
    ],
)
def test_a_bad_call_is_answered_at_once_with_the_right_code(
    action: str, payload: dict, code: str
) -> None:
    conn = OcppConnection()
    (event,) = incoming(conn, "u9", action, payload)
    assert isinstance(event, ProtocolViolation) and event.answered
    (answer,) = frames(conn)
    assert answer[:3] == [4, "u9", code]
    assert conn.awaiting_answer == ()


def test_garbage_is_answered_on_id_minus_one_and_does_not_raise() -> None:
    conn = OcppConnection()
    conn.receive_text("{{{", 0.0)
    assert frames(conn)[0][:3] == [4, "-1", "FormationViolation"]


def test_only_one_call_of_ours_is_outstanding_and_the_rest_go_in_order() -> None:
    conn = OcppConnection()
    first = conn.send(m.Reset(type="Soft"), now=0.0)
    second = conn.send(m.ClearCache(), now=0.0)
    third = conn.send(m.UnlockConnector(connector_id=1), now=0.0)
    assert frames(conn) == [[2, first.unique_id, "Reset", {"type": "Soft"}]]
    assert conn.outstanding is first and conn.queued == (second, third)
    conn.receive_text(orjson.dumps([3, first.unique_id, {"status": "Accepted"}]), 1.0)
    (answered,) = conn.events_received()
    assert answered == CallAnswered(first, m.ResetResponse(status="Accepted"))
    assert frames(conn) == [[2, second.unique_id, "ClearCache", {}]]
    assert second.sent_at == 1.0
    conn.receive_text(orjson.dumps([4, second.unique_id, "NotSupported", "no", {}]), 2.0)
    (failed,) = conn.events_received()
    assert isinstance(failed, CallFailed) and failed.code is ErrorCode.NOT_SUPPORTED
    assert frames(conn) == [[2, third.unique_id, "UnlockConnector", {"connectorId": 1}]]
    assert len({first.unique_id, second.unique_id, third.unique_id}) == 3


def test_a_reply_with_another_id_does_not_answer_the_outstanding_call() -> None:
    conn = OcppConnection()
    call = conn.send(m.Reset(type="Hard"), now=0.0)
    conn.data_to_send()
    conn.receive_text('[3, "nope", {"status": "Accepted"}]', 1.0)
    assert conn.events_received() == [UnmatchedReply("nope", late=False)]
    assert conn.outstanding is call
    assert conn.data_to_send() == []  # a reply is never answered


def test_an_invalid_reply_still_frees_the_slot() -> None:
    conn = OcppConnection()
    call = conn.send(m.Reset(type="Hard"), now=0.0)
    conn.send(m.ClearCache(), now=0.0)
    conn.data_to_send()
    conn.receive_text(orjson.dumps([3, call.unique_id, {"status": "Perhaps"}]), 1.0)
    (event,) = conn.events_received()
    assert isinstance(event, InvalidReply)
    assert event.error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert frames(conn)[0][2] == "ClearCache"


def test_timeouts_follow_the_injected_clock() -> None:
    conn = OcppConnection(call_timeout=30.0)
    assert conn.next_deadline() is None
    first = conn.send(m.Reset(type="Hard"), now=100.0)
    second = conn.send(m.ClearCache(), now=105.0)
    conn.data_to_send()
    assert conn.next_deadline() == 130.0
    assert conn.timeouts(129.999) == []
    assert conn.timeouts(130.0) == [CallTimedOut(first)]
    assert frames(conn) == [[2, second.unique_id, "ClearCache", {}]]
    assert conn.next_deadline() == 160.0  # the next call's own 30 s start when it goes out
    conn.receive_text(orjson.dumps([3, first.unique_id, {"status": "Accepted"}]), 131.0)
    assert conn.events_received() == [UnmatchedReply(first.unique_id, late=True)]
    assert conn.outstanding is second


def test_our_invalid_request_raises_before_anything_is_queued() -> None:
    conn = OcppConnection()
    with pytest.raises(InvalidOutgoing) as caught:
        conn.send(m.Reset(type="Gentle"), now=0.0)
    assert caught.value.error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    with pytest.raises(InvalidOutgoing):
        conn.send(m.Heartbeat(), now=0.0)  # a charge-point request
    assert conn.outstanding is None and conn.data_to_send() == []


def test_an_invalid_answer_from_the_owner_becomes_internal_error_on_the_wire() -> None:
    conn = OcppConnection()
    (call,) = incoming(
        conn, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    error = conn.reply(
        call, m.BootNotificationResponse(status="Maybe", current_time=0, interval=60)
    )
    assert error is not None and error.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert frames(conn)[0][:3] == [4, "b1", "InternalError"]
    assert conn.reply(
        call, m.BootNotificationResponse(status="Accepted", current_time=0, interval=60)
    )
    assert conn.data_to_send() == []  # answered once only


def test_an_answer_of_the_wrong_action_is_refused() -> None:
    conn = OcppConnection()
    (call,) = incoming(conn, "h", "Heartbeat", {})
    assert conn.reply(call, m.StatusNotificationResponse()) is not None
    assert frames(conn)[0][:3] == [4, "h", "InternalError"]


def test_the_owner_can_answer_with_a_callerror() -> None:
    conn = OcppConnection()
    (call,) = incoming(conn, "d", "DataTransfer", {"vendorId": "x"})
    assert conn.error(call, ErrorCode.NOT_SUPPORTED, "not here") is None
    assert frames(conn) == [[4, "d", "NotSupported", "not here", {}]]


def test_an_unknown_error_code_from_the_owner_leaves_the_call_open() -> None:
    conn = OcppConnection()
    (call,) = incoming(conn, "d", "DataTransfer", {"vendorId": "x"})
    with pytest.raises(ValueError):
        conn.error(call, "Oops")  # type: ignore[arg-type]
    assert conn.awaiting_answer == (call,)
    assert conn.error(call, ErrorCode.GENERIC_ERROR) is None
    assert conn.error(call, ErrorCode.GENERIC_ERROR) is not None  # only once


def test_a_call_reusing_the_id_of_one_being_handled_gets_a_callerror() -> None:
    # OCPP-J 1.6 §4.2.3: "an existing call with the same unique identifier is being handled
    # already" is a reason for a CallError.
    conn = OcppConnection()
    stop = {"meterStop": 10, "timestamp": "2026-01-01T00:00:00Z", "transactionId": 4}
    (call,) = incoming(conn, "x1", "StopTransaction", stop)
    assert incoming(conn, "x1", "StopTransaction", stop) == [
        DuplicateCall("x1", "StopTransaction", same_action=True)
    ]
    assert frames(conn)[0][:3] == [4, "x1", "ProtocolError"]
    (clash,) = incoming(conn, "x1", "Authorize", {"idTag": "T"})
    assert clash == DuplicateCall("x1", "Authorize", same_action=False)
    assert frames(conn)[0][:3] == [4, "x1", "ProtocolError"]
    # The first call is still open and gets the owner's answer.
    assert conn.awaiting_answer == (call,)
    assert conn.reply(call, m.StopTransactionResponse()) is None
    assert frames(conn) == [[3, "x1", {}]]
    # Once answered, the id is free again: a later resend is a new call (the adapter dedupes).
    (again,) = incoming(conn, "x1", "StopTransaction", stop)
    assert isinstance(again, IncomingCall)


def test_abandon_returns_what_was_never_answered() -> None:
    conn = OcppConnection()
    a = conn.send(m.Reset(type="Hard"), now=0.0)
    b = conn.send(m.ClearCache(), now=0.0)
    assert conn.abandon() == [a, b]
    assert conn.outstanding is None and conn.next_deadline() is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from([2, 3, 4, 5, "2", None]),
    uid=st.one_of(st.text(max_size=40), st.integers(0, 99)),
    action=st.one_of(st.sampled_from(sorted(m.REQUESTS)), st.text(max_size=10)),
    rest=st.lists(json_values, max_size=4),
)
def test_any_json_array_is_handled_without_raising(head, uid, action, rest) -> None:
    conn = OcppConnection()
    conn.send(m.Reset(type="Hard"), now=0.0)
    conn.data_to_send()
    conn.receive_text(orjson.dumps([head, uid, action, *rest]), 1.0)
    for event in conn.events_received():
        if isinstance(event, IncomingCall):
            conn.reply(event, {})  # valid or not, the call gets exactly one answer
    sent = conn.data_to_send()
    assert len(sent) <= 1
    for text in sent:
        assert orjson.loads(text)[0] in (3, 4)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_handled_without_raising(data: bytes) -> None:
    conn = OcppConnection()
    conn.receive_text(data, 0.0)
    assert len(conn.data_to_send()) <= 1


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        # Field pitfalls: a stop for an unknown or placeholder transaction id must reach the
        # owner (who always answers it), never be refused by the dialect.
        (
            "StopTransaction",
            {"meterStop": 5, "timestamp": "2026-01-01T00:00:00Z", "transactionId": -1},
        ),
        (
            "StopTransaction",
            {"meterStop": 5, "timestamp": "2026-01-01T00:00:00Z", "transactionId": 0},
        ),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": -1,
                "meterValue": [
                    {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}
                ],
            },
        ),
        ("DataTransfer", {"vendorId": "specific-vendor-id", "messageId": "x", "data": "y"}),
    ],
)
def test_transaction_messages_with_odd_ids_reach_the_owner(action: str, payload: dict) -> None:
    conn = OcppConnection()
    (event,) = incoming(conn, "t", action, payload)
    assert isinstance(event, IncomingCall)
    assert conn.data_to_send() == []


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("StatusNotification", STATUS),
        ("FirmwareStatusNotification", {"status": "Idle"}),
        ("DiagnosticsStatusNotification", {"status": "Idle"}),
        (
            "SecurityEventNotification",
            {"type": "FirmwareUpdated", "timestamp": "2026-01-01T00:00:00Z"},
        ),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 1}),
        ("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
    ],
)
def test_notifications_are_confirmed_with_an_empty_object(action: str, payload: dict) -> None:
    conn = OcppConnection()
    (call,) = incoming(conn, "n", action, payload)
    assert conn.reply(call, m.RESPONSES[action]()) is None
    assert frames(conn) == [[3, "n", {}]]
