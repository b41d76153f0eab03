"""The pile model's words in OCPP 1.6: statuses, error codes, stop reasons, meter samples.

Pure functions, no I/O: ``ocpp_client`` uses them to put what the pile model says (protocol v1's
message types) into OCPP requests. Energy: the pile counts 0.1 Wh (``_dwh``), OCPP registers
whole Wh, so a reading is the pile's register divided by 10, rounded down (a register never
runs ahead of the meter).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from protocol.ocpp16.meter import IMPORT_REGISTER, MeterValue, SampledValue
from protocol.pilegate.codes import FaultCode, GunStatus, StopReason

T = TypeVar("T")


def make(cls: type[T], **fields: Any) -> T:
    """An OCPP message from its fields. mypy does not see ``protocol.ocpp16.messages``'s
    ``msg`` decorator as a dataclass, so their constructors look argument-less to it."""
    build: Any = cls
    return cast(T, build(**fields))


STATUS = {
    GunStatus.AVAILABLE: "Available",
    GunStatus.PREPARING: "Preparing",
    GunStatus.CHARGING: "Charging",
    GunStatus.SUSPENDED_EV: "SuspendedEV",
    GunStatus.SUSPENDED_EVSE: "SuspendedEVSE",
    GunStatus.FINISHING: "Finishing",
    GunStatus.RESERVED: "Reserved",
    GunStatus.UNAVAILABLE: "Unavailable",
    GunStatus.FAULTED: "Faulted",
}

#: ChargePointErrorCode of a fault; anything not listed is OtherError with the pile's code as
#: vendorErrorCode, as chargers do.
ERROR_CODE = {
    FaultCode.NONE: "NoError",
    FaultCode.OVER_VOLTAGE: "OverVoltage",
    FaultCode.UNDER_VOLTAGE: "UnderVoltage",
    FaultCode.OVER_CURRENT: "OverCurrentFailure",
    FaultCode.OVER_TEMPERATURE: "HighTemperature",
    FaultCode.GROUND: "GroundFailure",
    FaultCode.BMS_COMMUNICATION: "EVCommunicationError",
    FaultCode.CONTACTOR: "PowerSwitchFailure",
    FaultCode.METER: "PowerMeterFailure",
}

#: StopTransaction.reason of a pile's stop reason (OCPP 1.6 Reason enumeration).
STOP_REASON = {
    StopReason.USER: "Local",
    StopReason.REMOTE: "Remote",
    StopReason.FULL: "EVDisconnected",
    StopReason.LIMIT_REACHED: "Local",
    StopReason.EMERGENCY_STOP: "EmergencyStop",
    StopReason.UNPLUGGED: "EVDisconnected",
    StopReason.POWER_LOSS: "PowerLoss",
    StopReason.EV_DISCONNECTED: "EVDisconnected",
}


def status(gun_status: int) -> str:
    try:
        return STATUS[GunStatus(gun_status)]
    except ValueError:
        return "Faulted"


def error_code(fault: int) -> tuple[str, str | None]:
    """(errorCode, vendorErrorCode) of a pile fault code."""
    try:
        code = ERROR_CODE.get(FaultCode(fault))
    except ValueError:
        code = None
    if code is not None:
        return code, None
    return "OtherError", str(fault)


def stop_reason(reason: int) -> str:
    try:
        return STOP_REASON.get(StopReason(reason), "Other")
    except ValueError:
        return "Other"


def wh(dwh: int) -> int:
    """0.1 Wh to whole Wh, rounded down."""
    return dwh // 10


def register_sample(time_ms: int, meter_dwh: int, context: str) -> MeterValue:
    """The energy register alone (transactionData's begin and end samples)."""
    value = SampledValue(
        value=str(wh(meter_dwh)), context=context, measurand=IMPORT_REGISTER, unit="Wh"
    )
    return MeterValue(timestamp=time_ms, sampled_value=[value])


def periodic_sample(
    time_ms: int, meter_dwh: int, power_w: int, voltage_dv: int, current_da: int, soc: int
) -> MeterValue:
    """A periodic sample: register, power, voltage, current and (DC) state of charge."""
    ctx = "Sample.Periodic"
    values = [
        SampledValue(value=str(wh(meter_dwh)), context=ctx, measurand=IMPORT_REGISTER, unit="Wh"),
        SampledValue(value=str(power_w), context=ctx, measurand="Power.Active.Import", unit="W"),
        SampledValue(value=f"{voltage_dv / 10:.1f}", context=ctx, measurand="Voltage", unit="V"),
        SampledValue(
            value=f"{current_da / 10:.1f}", context=ctx, measurand="Current.Import", unit="A"
        ),
    ]
    if 0 <= soc <= 100:
        values.append(SampledValue(value=str(soc), context=ctx, measurand="SoC", unit="Percent"))
    return MeterValue(timestamp=time_ms, sampled_value=values)
