"""Typed messages: JSON <-> dataclass round trips, times, meter readings in Wh."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.ocpp16 import messages as m
from protocol.ocpp16 import schemas
from protocol.ocpp16.convert import ConversionError, from_payload, iso_to_ms, ms_to_iso, to_payload
from protocol.ocpp16.meter import MeterValue, SampledValue

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

PROFILE = m.ChargingProfile(
    charging_profile_id=1,
    stack_level=0,
    charging_profile_purpose="TxDefaultProfile",
    charging_profile_kind="Absolute",
    valid_from=T0,
    charging_schedule=m.ChargingSchedule(
        charging_rate_unit="W",
        duration=3600,
        start_schedule=T0,
        charging_schedule_period=[
            m.ChargingSchedulePeriod(start_period=0, limit=6.0, number_phases=3)
        ],
    ),
)
HASH = m.CertificateHashData(
    hash_algorithm="SHA256", issuer_name_hash="aa", issuer_key_hash="bb", serial_number="01"
)
SAMPLE = MeterValue(timestamp=T0, sampled_value=[SampledValue(value="1500", unit="Wh")])

# One example of every request and every response, both directions.
EXAMPLES: list[m.Request | m.Response] = [
    m.BootNotification(
        charge_point_vendor="V", charge_point_model="M", charge_point_serial_number="S1"
    ),
    m.BootNotificationResponse(status="Accepted", current_time=T0, interval=300),
    m.Heartbeat(),
    m.HeartbeatResponse(current_time=T0 + 123),
    m.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=T0),
    m.StatusNotificationResponse(),
    m.Authorize(id_tag="TAG1"),
    m.AuthorizeResponse(id_tag_info=m.IdTagInfo(status="Accepted", expiry_date=T0)),
    m.StartTransaction(
        connector_id=1, id_tag="TAG1", meter_start=0, timestamp=T0, reservation_id=3
    ),
    m.StartTransactionResponse(id_tag_info=m.IdTagInfo(status="Accepted"), transaction_id=42),
    m.StopTransaction(
        meter_stop=1500,
        timestamp=T0,
        transaction_id=42,
        reason="EVDisconnected",
        transaction_data=[SAMPLE],
    ),
    m.StopTransactionResponse(id_tag_info=m.IdTagInfo(status="Accepted")),
    m.MeterValues(connector_id=1, transaction_id=42, meter_value=[SAMPLE]),
    m.MeterValuesResponse(),
    m.DataTransfer(vendor_id="specific-vendor-id", message_id="m", data="d"),
    m.DataTransferResponse(status="UnknownVendorId"),
    m.DiagnosticsStatusNotification(status="Uploaded"),
    m.DiagnosticsStatusNotificationResponse(),
    m.FirmwareStatusNotification(status="Installed"),
    m.FirmwareStatusNotificationResponse(),
    m.SecurityEventNotification(type="FirmwareUpdated", timestamp=T0, tech_info="x"),
    m.SecurityEventNotificationResponse(),
    m.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=1),
    m.SignedFirmwareStatusNotificationResponse(),
    m.LogStatusNotification(status="Uploading", request_id=1),
    m.LogStatusNotificationResponse(),
    m.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----"),
    m.SignCertificateResponse(status="Accepted"),
    m.RemoteStartTransaction(id_tag="TAG1", connector_id=1, charging_profile=PROFILE),
    m.RemoteStartTransactionResponse(status="Accepted"),
    m.RemoteStopTransaction(transaction_id=42),
    m.RemoteStopTransactionResponse(status="Rejected"),
    m.Reset(type="Hard"),
    m.ResetResponse(status="Accepted"),
    m.UnlockConnector(connector_id=1),
    m.UnlockConnectorResponse(status="NotSupported"),
    m.GetConfiguration(key=["SupportedFeatureProfiles"]),
    m.GetConfigurationResponse(
        configuration_key=[m.KeyValue(key="HeartbeatInterval", readonly=False, value="300")],
        unknown_key=[],
    ),
    m.ChangeConfiguration(key="MeterValueSampleInterval", value="60"),
    m.ChangeConfigurationResponse(status="Accepted"),
    m.ChangeAvailability(connector_id=0, type="Inoperative"),
    m.ChangeAvailabilityResponse(status="Scheduled"),
    m.ClearCache(),
    m.ClearCacheResponse(status="Accepted"),
    m.TriggerMessage(requested_message="MeterValues", connector_id=1),
    m.TriggerMessageResponse(status="Accepted"),
    m.GetLocalListVersion(),
    m.GetLocalListVersionResponse(list_version=-1),
    m.SendLocalList(
        list_version=1,
        update_type="Full",
        local_authorization_list=[
            m.AuthorizationData(id_tag="TAG1", id_tag_info=m.IdTagInfo(status="Accepted"))
        ],
    ),
    m.SendLocalListResponse(status="Accepted"),
    m.ReserveNow(
        connector_id=0, expiry_date=T0, id_tag="TAG1", reservation_id=5, parent_id_tag="P"
    ),
    m.ReserveNowResponse(status="Accepted"),
    m.CancelReservation(reservation_id=5),
    m.CancelReservationResponse(status="Rejected"),
    m.UpdateFirmware(location="https://example.invalid/fw.bin", retrieve_date=T0, retries=1),
    m.UpdateFirmwareResponse(),
    m.GetDiagnostics(location="ftp://example.invalid/", start_time=T0, stop_time=T0 + 1000),
    m.GetDiagnosticsResponse(file_name="diag.zip"),
    m.SetChargingProfile(connector_id=1, cs_charging_profiles=PROFILE),
    m.SetChargingProfileResponse(status="Accepted"),
    m.ClearChargingProfile(
        connector_id=1, charging_profile_purpose="TxDefaultProfile", stack_level=0
    ),
    m.ClearChargingProfileResponse(status="Accepted"),
    m.GetCompositeSchedule(connector_id=1, duration=300, charging_rate_unit="W"),
    m.GetCompositeScheduleResponse(
        status="Accepted",
        connector_id=1,
        schedule_start=T0,
        charging_schedule=PROFILE.charging_schedule,
    ),
    m.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"),
    m.ExtendedTriggerMessageResponse(status="Accepted"),
    m.GetLog(
        log=m.LogParameters(remote_location="ftp://x/", oldest_timestamp=T0),
        log_type="SecurityLog",
        request_id=1,
        retries=1,
        retry_interval=60,
    ),
    m.GetLogResponse(status="Accepted", filename="log.txt"),
    m.SignedUpdateFirmware(
        request_id=1,
        firmware=m.Firmware(
            location="https://x/fw",
            retrieve_date_time=T0,
            signing_certificate="c",
            signature="s",
            install_date_time=T0,
        ),
    ),
    m.SignedUpdateFirmwareResponse(status="Accepted"),
    m.CertificateSigned(certificate_chain="-----BEGIN CERTIFICATE-----"),
    m.CertificateSignedResponse(status="Accepted"),
    m.InstallCertificate(certificate_type="CentralSystemRootCertificate", certificate="pem"),
    m.InstallCertificateResponse(status="Rejected"),
    m.GetInstalledCertificateIds(certificate_type="ManufacturerRootCertificate"),
    m.GetInstalledCertificateIdsResponse(status="Accepted", certificate_hash_data=[HASH]),
    m.DeleteCertificate(certificate_hash_data=HASH),
    m.DeleteCertificateResponse(status="Accepted"),
]


def test_there_is_an_example_of_every_message() -> None:
    kinds = {type(example) for example in EXAMPLES}
    assert kinds == set(m.REQUESTS.values()) | set(m.RESPONSES.values())


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda x: type(x).__name__)
def test_every_message_is_schema_valid_and_round_trips(message: m.Request | m.Response) -> None:
    payload = to_payload(message)
    assert schemas.validate(message.action, payload, isinstance(message, m.Response)) is None
    assert from_payload(type(message), payload) == message


def test_json_keys_are_camel_case_and_times_iso() -> None:
    payload = to_payload(
        m.StartTransaction(connector_id=2, id_tag="T", meter_start=7, timestamp=T0)
    )
    assert payload == {
        "connectorId": 2,
        "idTag": "T",
        "meterStart": 7,
        "timestamp": "2026-01-01T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-01-01T00:00:00Z", T0),
        ("2026-01-01T00:00:00.5Z", T0 + 500),
        ("2026-01-01T01:00:00+01:00", T0),
        ("2026-01-01T01:00:00+0100", T0),
        ("2026-01-01t00:00:00z", T0),
        ("2026-01-01T00:00:00", T0),  # no offset: UTC
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_iso_times_become_epoch_ms(text: str, ms: int) -> None:
    assert iso_to_ms(text) == ms
    assert iso_to_ms(ms_to_iso(ms)) == ms


def test_an_impossible_date_is_a_conversion_error() -> None:
    with pytest.raises(ConversionError):
        iso_to_ms("2026-02-31T00:00:00Z")


@pytest.mark.parametrize(
    ("sample", "wh"),
    [
        (SampledValue(value="1234"), 1234),  # defaults: import register in Wh
        (SampledValue(value="12.3455", unit="kWh"), 12346),  # half up
        (SampledValue(value="0.0004", unit="kWh"), 0),
        (SampledValue(value="99.5", unit="Wh"), 100),
        (SampledValue(value="5", measurand="Energy.Active.Export.Register", unit="kWh"), 5000),
        (SampledValue(value="230", measurand="Voltage", unit="V"), None),
        (SampledValue(value="abc"), None),
        (SampledValue(value="NaN"), None),
        (SampledValue(value="1e999999999", unit="kWh"), None),  # no giant int built
        (SampledValue(value="1000000000000000000"), None),
        (SampledValue(value="999999999999999999"), 999999999999999999),
        (SampledValue(value="1234", format="SignedData"), None),
        (SampledValue(value="1234", unit="Celsius"), None),
    ],
)
def test_sampled_values_in_wh(sample: SampledValue, wh: int | None) -> None:
    assert sample.wh == wh


def test_the_import_register_prefers_the_total_over_a_phase() -> None:
    value = MeterValue(
        timestamp=T0,
        sampled_value=[
            SampledValue(value="230", measurand="Voltage", unit="V", phase="L1"),
            SampledValue(value="1.000", unit="kWh", phase="L1"),
            SampledValue(value="3.001", unit="kWh", context="Sample.Periodic"),
        ],
    )
    assert value.import_register_wh() == 3001
    only_phase = MeterValue(timestamp=T0, sampled_value=[SampledValue(value="7", phase="L2")])
    assert only_phase.import_register_wh() == 7
    none = MeterValue(
        timestamp=T0, sampled_value=[SampledValue(value="16", measurand="Current.Import")]
    )
    assert none.import_register_wh() is None


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=30), unit=st.sampled_from([None, "Wh", "kWh", "varh", "W"]))
def test_any_sampled_value_text_gives_an_int_or_none(value: str, unit: str | None) -> None:
    wh = SampledValue(value=value, unit=unit).wh
    assert wh is None or isinstance(wh, int)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_epoch_ms_round_trip_through_iso(ms: int) -> None:
    text = ms_to_iso(ms)
    assert text.endswith("Z") and len(text) == 24
    assert iso_to_ms(text) == ms
