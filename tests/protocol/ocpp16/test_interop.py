"""Interop with the `ocpp` package (mobilityhouse), a library nobody here wrote: payloads built
from its own v16 call / call_result dataclasses parse into our typed messages, and the payloads
we write pass its own schema validation."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, CallResult, _validate_payload
from ocpp.v16 import call, call_result, datatypes, enums

from protocol.ocpp16 import messages as m
from protocol.ocpp16.connection import CallAnswered, IncomingCall, OcppConnection
from protocol.ocpp16.convert import to_payload
from tests.protocol.ocpp16.test_messages import EXAMPLES, T0

NOW_ISO = "2026-01-01T00:00:00+00:00"


def wire(payload: object) -> dict:
    """What the ocpp library puts on the wire for one of its dataclasses."""
    return remove_nones(snake_to_camel_case(serialize_as_dict(payload)))


def sample(value: str, **extra: object) -> datatypes.SampledValue:
    return datatypes.SampledValue(value=value, **extra)


THEIR_REQUESTS = [
    call.BootNotification(
        charge_point_vendor="V", charge_point_model="M", charge_point_serial_number="S"
    ),
    call.Heartbeat(),
    call.StatusNotification(
        connector_id=1,
        error_code=enums.ChargePointErrorCode.no_error,
        status=enums.ChargePointStatus.available,
        timestamp=NOW_ISO,
    ),
    call.Authorize(id_tag="TAG1"),
    call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=NOW_ISO),
    call.StopTransaction(
        meter_stop=2500,
        timestamp=NOW_ISO,
        transaction_id=42,
        reason=enums.Reason.ev_disconnected,
        transaction_data=[
            datatypes.MeterValue(
                timestamp=NOW_ISO,
                sampled_value=[
                    sample(
                        "2.5",
                        unit=enums.UnitOfMeasure.kwh,
                        measurand=enums.Measurand.energy_active_import_register,
                        context=enums.ReadingContext.transaction_end,
                    ),
                ],
            )
        ],
    ),
    call.MeterValues(
        connector_id=1,
        transaction_id=42,
        meter_value=[
            datatypes.MeterValue(
                timestamp=NOW_ISO,
                sampled_value=[
                    sample(
                        "230.1",
                        measurand=enums.Measurand.voltage,
                        unit=enums.UnitOfMeasure.v,
                        phase=enums.Phase.l1,
                    ),
                    sample("1000", context=enums.ReadingContext.sample_periodic),
                ],
            )
        ],
    ),
    call.DataTransfer(vendor_id="specific-vendor-id", message_id="m1", data="x"),
    call.DiagnosticsStatusNotification(status=enums.DiagnosticsStatus.uploaded),
    call.FirmwareStatusNotification(status=enums.FirmwareStatus.installed),
    call.SecurityEventNotification(type="FirmwareUpdated", timestamp=NOW_ISO, tech_info="t"),
    call.SignedFirmwareStatusNotification(status=enums.FirmwareStatus.installed, request_id=1),
    call.LogStatusNotification(status=enums.UploadLogStatus.uploaded, request_id=1),
    call.SignCertificate(csr="csr"),
]


@pytest.mark.parametrize("theirs", THEIR_REQUESTS, ids=lambda x: type(x).__name__)
def test_their_requests_parse_into_our_typed_messages(theirs: object) -> None:
    action = type(theirs).__name__
    conn = OcppConnection()
    conn.receive_text(orjson.dumps([2, "1", action, wire(theirs)]), 0.0)
    (event,) = conn.events_received()
    assert isinstance(event, IncomingCall), event
    ours = event.message
    assert isinstance(ours, m.REQUESTS[action])
    # Every field they set arrives under our snake_case name (times as epoch ms).
    for f in dataclasses.fields(theirs):
        value = getattr(theirs, f.name)
        if value in (None, []) or f.name in {"transaction_data", "meter_value"}:
            continue
        got = getattr(ours, f.name)
        assert got == (T0 if value == NOW_ISO else value), f.name


def test_their_meter_values_become_wh() -> None:
    conn = OcppConnection()
    conn.receive_text(orjson.dumps([2, "1", "StopTransaction", wire(THEIR_REQUESTS[5])]), 0.0)
    (event,) = conn.events_received()
    assert event.message.transaction_data[0].import_register_wh() == 2500
    conn.receive_text(orjson.dumps([2, "2", "MeterValues", wire(THEIR_REQUESTS[6])]), 0.0)
    (event,) = conn.events_received()
    assert event.message.meter_value[0].import_register_wh() == 1000


THEIR_RESULTS = {
    "RemoteStartTransaction": call_result.RemoteStartTransaction(
        status=enums.RemoteStartStopStatus.accepted
    ),
    "GetConfiguration": call_result.GetConfiguration(
        configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        unknown_key=[],
    ),
    "GetLocalListVersion": call_result.GetLocalListVersion(list_version=-1),
    "GetCompositeSchedule": call_result.GetCompositeSchedule(
        status=enums.GetCompositeScheduleStatus.accepted,
        connector_id=1,
        schedule_start=NOW_ISO,
        charging_schedule=datatypes.ChargingSchedule(
            charging_rate_unit=enums.ChargingRateUnitType.watts,
            charging_schedule_period=[datatypes.ChargingSchedulePeriod(start_period=0, limit=6.0)],
        ),
    ),
    "GetDiagnostics": call_result.GetDiagnostics(file_name="d.zip"),
}
OUR_REQUEST_FOR = {
    "RemoteStartTransaction": m.RemoteStartTransaction(id_tag="TAG1", connector_id=1),
    "GetConfiguration": m.GetConfiguration(),
    "GetLocalListVersion": m.GetLocalListVersion(),
    "GetCompositeSchedule": m.GetCompositeSchedule(connector_id=1, duration=300),
    "GetDiagnostics": m.GetDiagnostics(location="ftp://x/"),
}


@pytest.mark.parametrize("action", sorted(THEIR_RESULTS))
def test_their_call_results_answer_our_calls(action: str) -> None:
    conn = OcppConnection()
    ours = conn.send(OUR_REQUEST_FOR[action], now=0.0)
    conn.data_to_send()
    conn.receive_text(orjson.dumps([3, ours.unique_id, wire(THEIR_RESULTS[action])]), 1.0)
    (event,) = conn.events_received()
    assert isinstance(event, CallAnswered), event
    assert isinstance(event.response, m.RESPONSES[action])


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda x: type(x).__name__)
def test_our_payloads_pass_their_validator(message: m.Request | m.Response) -> None:
    payload = to_payload(message)
    if isinstance(message, m.Response):
        _validate_payload(CallResult("1", payload, action=message.action), "1.6")
    else:
        _validate_payload(Call("1", message.action, payload), "1.6")
