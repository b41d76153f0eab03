"""Typed OCPP 1.6 messages: one frozen dataclass per request and per response.

Field names are the JSON keys in snake_case; times are UTC epoch milliseconds (``EpochMs``);
enumerations stay ``str`` (the schema has already checked the value). ``INCOMING`` lists the
actions a charge point sends to us, ``OUTGOING`` those we send; DataTransfer is in both.
Security extension actions (OCPP 1.6 security whitepaper ed.2) are included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar, dataclass_transform

from protocol.ocpp16.convert import EpochMs
from protocol.ocpp16.meter import MeterValue

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True)
def msg(cls: type[_T]) -> type[_T]:
    """A message: a frozen, keyword-only dataclass with slots (declared so for type checkers)."""
    return dataclass(slots=True, frozen=True, kw_only=True)(cls)


# --- shared records ----------------------------------------------------------------------------


@msg
class IdTagInfo:
    status: str
    expiry_date: EpochMs | None = None
    parent_id_tag: str | None = None


@msg
class ChargingSchedulePeriod:
    start_period: int
    limit: float
    number_phases: int | None = None


@msg
class ChargingSchedule:
    charging_rate_unit: str
    charging_schedule_period: list[ChargingSchedulePeriod]
    duration: int | None = None
    start_schedule: EpochMs | None = None
    min_charging_rate: float | None = None


@msg
class ChargingProfile:
    charging_profile_id: int
    stack_level: int
    charging_profile_purpose: str
    charging_profile_kind: str
    charging_schedule: ChargingSchedule
    transaction_id: int | None = None
    recurrency_kind: str | None = None
    valid_from: EpochMs | None = None
    valid_to: EpochMs | None = None


@msg
class KeyValue:
    key: str
    readonly: bool
    value: str | None = None


@msg
class AuthorizationData:
    id_tag: str
    id_tag_info: IdTagInfo | None = None


@msg
class CertificateHashData:
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


@msg
class LogParameters:
    remote_location: str
    oldest_timestamp: EpochMs | None = None
    latest_timestamp: EpochMs | None = None


@msg
class Firmware:
    location: str
    retrieve_date_time: EpochMs
    signing_certificate: str
    signature: str
    install_date_time: EpochMs | None = None


class Request:
    """Base of every request; ``action`` names it on the wire."""

    __slots__ = ()
    action: ClassVar[str]


class Response:
    __slots__ = ()
    action: ClassVar[str]


# --- charge point -> central system ------------------------------------------------------------


@msg
class BootNotification(Request):
    action: ClassVar[str] = "BootNotification"
    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@msg
class BootNotificationResponse(Response):
    action: ClassVar[str] = "BootNotification"
    status: str
    current_time: EpochMs
    interval: int


@msg
class Heartbeat(Request):
    action: ClassVar[str] = "Heartbeat"


@msg
class HeartbeatResponse(Response):
    action: ClassVar[str] = "Heartbeat"
    current_time: EpochMs


@msg
class StatusNotification(Request):
    action: ClassVar[str] = "StatusNotification"
    connector_id: int
    error_code: str
    status: str
    info: str | None = None
    timestamp: EpochMs | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@msg
class StatusNotificationResponse(Response):
    action: ClassVar[str] = "StatusNotification"


@msg
class Authorize(Request):
    action: ClassVar[str] = "Authorize"
    id_tag: str


@msg
class AuthorizeResponse(Response):
    action: ClassVar[str] = "Authorize"
    id_tag_info: IdTagInfo


@msg
class StartTransaction(Request):
    action: ClassVar[str] = "StartTransaction"
    connector_id: int
    id_tag: str
    meter_start: int  # Wh
    timestamp: EpochMs
    reservation_id: int | None = None


@msg
class StartTransactionResponse(Response):
    action: ClassVar[str] = "StartTransaction"
    id_tag_info: IdTagInfo
    transaction_id: int


@msg
class StopTransaction(Request):
    action: ClassVar[str] = "StopTransaction"
    meter_stop: int  # Wh
    timestamp: EpochMs
    transaction_id: int
    id_tag: str | None = None
    reason: str | None = None
    transaction_data: list[MeterValue] | None = None


@msg
class StopTransactionResponse(Response):
    action: ClassVar[str] = "StopTransaction"
    id_tag_info: IdTagInfo | None = None


@msg
class MeterValues(Request):
    action: ClassVar[str] = "MeterValues"
    connector_id: int
    meter_value: list[MeterValue]
    transaction_id: int | None = None


@msg
class MeterValuesResponse(Response):
    action: ClassVar[str] = "MeterValues"


@msg
class DataTransfer(Request):
    action: ClassVar[str] = "DataTransfer"
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@msg
class DataTransferResponse(Response):
    action: ClassVar[str] = "DataTransfer"
    status: str
    data: str | None = None


@msg
class DiagnosticsStatusNotification(Request):
    action: ClassVar[str] = "DiagnosticsStatusNotification"
    status: str


@msg
class DiagnosticsStatusNotificationResponse(Response):
    action: ClassVar[str] = "DiagnosticsStatusNotification"


@msg
class FirmwareStatusNotification(Request):
    action: ClassVar[str] = "FirmwareStatusNotification"
    status: str


@msg
class FirmwareStatusNotificationResponse(Response):
    action: ClassVar[str] = "FirmwareStatusNotification"


@msg
class SecurityEventNotification(Request):
    action: ClassVar[str] = "SecurityEventNotification"
    type: str
    timestamp: EpochMs
    tech_info: str | None = None


@msg
class SecurityEventNotificationResponse(Response):
    action: ClassVar[str] = "SecurityEventNotification"


@msg
class SignedFirmwareStatusNotification(Request):
    action: ClassVar[str] = "SignedFirmwareStatusNotification"
    status: str
    request_id: int | None = None


@msg
class SignedFirmwareStatusNotificationResponse(Response):
    action: ClassVar[str] = "SignedFirmwareStatusNotification"


@msg
class LogStatusNotification(Request):
    action: ClassVar[str] = "LogStatusNotification"
    status: str
    request_id: int | None = None


@msg
class LogStatusNotificationResponse(Response):
    action: ClassVar[str] = "LogStatusNotification"


@msg
class SignCertificate(Request):
    action: ClassVar[str] = "SignCertificate"
    csr: str


@msg
class SignCertificateResponse(Response):
    action: ClassVar[str] = "SignCertificate"
    status: str


# --- central system -> charge point ------------------------------------------------------------


@msg
class RemoteStartTransaction(Request):
    action: ClassVar[str] = "RemoteStartTransaction"
    id_tag: str
    connector_id: int | None = None
    charging_profile: ChargingProfile | None = None


@msg
class RemoteStartTransactionResponse(Response):
    action: ClassVar[str] = "RemoteStartTransaction"
    status: str


@msg
class RemoteStopTransaction(Request):
    action: ClassVar[str] = "RemoteStopTransaction"
    transaction_id: int


@msg
class RemoteStopTransactionResponse(Response):
    action: ClassVar[str] = "RemoteStopTransaction"
    status: str


@msg
class Reset(Request):
    action: ClassVar[str] = "Reset"
    type: str  # Hard | Soft


@msg
class ResetResponse(Response):
    action: ClassVar[str] = "Reset"
    status: str


@msg
class UnlockConnector(Request):
    action: ClassVar[str] = "UnlockConnector"
    connector_id: int


@msg
class UnlockConnectorResponse(Response):
    action: ClassVar[str] = "UnlockConnector"
    status: str


@msg
class GetConfiguration(Request):
    action: ClassVar[str] = "GetConfiguration"
    key: list[str] | None = None


@msg
class GetConfigurationResponse(Response):
    action: ClassVar[str] = "GetConfiguration"
    configuration_key: list[KeyValue] | None = None
    unknown_key: list[str] | None = None


@msg
class ChangeConfiguration(Request):
    action: ClassVar[str] = "ChangeConfiguration"
    key: str
    value: str


@msg
class ChangeConfigurationResponse(Response):
    action: ClassVar[str] = "ChangeConfiguration"
    status: str


@msg
class ChangeAvailability(Request):
    action: ClassVar[str] = "ChangeAvailability"
    connector_id: int
    type: str  # Inoperative | Operative


@msg
class ChangeAvailabilityResponse(Response):
    action: ClassVar[str] = "ChangeAvailability"
    status: str


@msg
class ClearCache(Request):
    action: ClassVar[str] = "ClearCache"


@msg
class ClearCacheResponse(Response):
    action: ClassVar[str] = "ClearCache"
    status: str


@msg
class TriggerMessage(Request):
    action: ClassVar[str] = "TriggerMessage"
    requested_message: str
    connector_id: int | None = None


@msg
class TriggerMessageResponse(Response):
    action: ClassVar[str] = "TriggerMessage"
    status: str


@msg
class GetLocalListVersion(Request):
    action: ClassVar[str] = "GetLocalListVersion"


@msg
class GetLocalListVersionResponse(Response):
    action: ClassVar[str] = "GetLocalListVersion"
    list_version: int


@msg
class SendLocalList(Request):
    action: ClassVar[str] = "SendLocalList"
    list_version: int
    update_type: str  # Full | Differential
    local_authorization_list: list[AuthorizationData] | None = None


@msg
class SendLocalListResponse(Response):
    action: ClassVar[str] = "SendLocalList"
    status: str


@msg
class ReserveNow(Request):
    action: ClassVar[str] = "ReserveNow"
    connector_id: int
    expiry_date: EpochMs
    id_tag: str
    reservation_id: int
    parent_id_tag: str | None = None


@msg
class ReserveNowResponse(Response):
    action: ClassVar[str] = "ReserveNow"
    status: str


@msg
class CancelReservation(Request):
    action: ClassVar[str] = "CancelReservation"
    reservation_id: int


@msg
class CancelReservationResponse(Response):
    action: ClassVar[str] = "CancelReservation"
    status: str


@msg
class UpdateFirmware(Request):
    action: ClassVar[str] = "UpdateFirmware"
    location: str
    retrieve_date: EpochMs
    retries: int | None = None
    retry_interval: int | None = None


@msg
class UpdateFirmwareResponse(Response):
    action: ClassVar[str] = "UpdateFirmware"


@msg
class GetDiagnostics(Request):
    action: ClassVar[str] = "GetDiagnostics"
    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: EpochMs | None = None
    stop_time: EpochMs | None = None


@msg
class GetDiagnosticsResponse(Response):
    action: ClassVar[str] = "GetDiagnostics"
    file_name: str | None = None


@msg
class SetChargingProfile(Request):
    action: ClassVar[str] = "SetChargingProfile"
    connector_id: int
    cs_charging_profiles: ChargingProfile


@msg
class SetChargingProfileResponse(Response):
    action: ClassVar[str] = "SetChargingProfile"
    status: str


@msg
class ClearChargingProfile(Request):
    action: ClassVar[str] = "ClearChargingProfile"
    id: int | None = None
    connector_id: int | None = None
    charging_profile_purpose: str | None = None
    stack_level: int | None = None


@msg
class ClearChargingProfileResponse(Response):
    action: ClassVar[str] = "ClearChargingProfile"
    status: str


@msg
class GetCompositeSchedule(Request):
    action: ClassVar[str] = "GetCompositeSchedule"
    connector_id: int
    duration: int
    charging_rate_unit: str | None = None


@msg
class GetCompositeScheduleResponse(Response):
    action: ClassVar[str] = "GetCompositeSchedule"
    status: str
    connector_id: int | None = None
    schedule_start: EpochMs | None = None
    charging_schedule: ChargingSchedule | None = None


@msg
class ExtendedTriggerMessage(Request):
    action: ClassVar[str] = "ExtendedTriggerMessage"
    requested_message: str
    connector_id: int | None = None


@msg
class ExtendedTriggerMessageResponse(Response):
    action: ClassVar[str] = "ExtendedTriggerMessage"
    status: str


@msg
class GetLog(Request):
    action: ClassVar[str] = "GetLog"
    log: LogParameters
    log_type: str
    request_id: int
    retries: int | None = None
    retry_interval: int | None = None


@msg
class GetLogResponse(Response):
    action: ClassVar[str] = "GetLog"
    status: str
    filename: str | None = None


@msg
class SignedUpdateFirmware(Request):
    action: ClassVar[str] = "SignedUpdateFirmware"
    request_id: int
    firmware: Firmware
    retries: int | None = None
    retry_interval: int | None = None


@msg
class SignedUpdateFirmwareResponse(Response):
    action: ClassVar[str] = "SignedUpdateFirmware"
    status: str


@msg
class CertificateSigned(Request):
    action: ClassVar[str] = "CertificateSigned"
    certificate_chain: str


@msg
class CertificateSignedResponse(Response):
    action: ClassVar[str] = "CertificateSigned"
    status: str


@msg
class InstallCertificate(Request):
    action: ClassVar[str] = "InstallCertificate"
    certificate_type: str
    certificate: str


@msg
class InstallCertificateResponse(Response):
    action: ClassVar[str] = "InstallCertificate"
    status: str


@msg
class GetInstalledCertificateIds(Request):
    action: ClassVar[str] = "GetInstalledCertificateIds"
    certificate_type: str


@msg
class GetInstalledCertificateIdsResponse(Response):
    action: ClassVar[str] = "GetInstalledCertificateIds"
    status: str
    certificate_hash_data: list[CertificateHashData] | None = None


@msg
class DeleteCertificate(Request):
    action: ClassVar[str] = "DeleteCertificate"
    certificate_hash_data: CertificateHashData


@msg
class DeleteCertificateResponse(Response):
    action: ClassVar[str] = "DeleteCertificate"
    status: str


# --- registries --------------------------------------------------------------------------------

# From the module's names, not __subclasses__(): slots=True replaces each class with a new one.
REQUESTS: dict[str, type[Request]] = {
    v.action: v
    for v in list(globals().values())
    if isinstance(v, type) and issubclass(v, Request) and v is not Request
}
RESPONSES: dict[str, type[Response]] = {
    v.action: v
    for v in list(globals().values())
    if isinstance(v, type) and issubclass(v, Response) and v is not Response
}

INCOMING = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)
OUTGOING = frozenset(REQUESTS) - INCOMING | {"DataTransfer"}
