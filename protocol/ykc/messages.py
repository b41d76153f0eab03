"""YKC messages: one frozen dataclass per frame type, fields in wire order.

Units are in the field names and values are exact integers, never floats: ``_dv`` 0.1 V,
``_da`` 0.1 A, ``_dwh`` 0.1 Wh (= 0.0001 kWh, YKC's energy unit), ``_e5`` 0.00001 CNY/kWh
(prices), ``_e4`` 0.0001 CNY (amounts), ``_fen`` 0.01 CNY (balances), ``_c`` °C, ``_min``
minutes. ``protocol.ykc.units`` converts to Decimal. BCD and opaque identifiers are strings
of hex digits (upper case), times are ``Cp56Time`` (None when the pile sent zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from protocol.ykc.cp56 import Cp56Time


class FrameType(IntEnum):
    LOGIN = 0x01
    LOGIN_REPLY = 0x02
    HEARTBEAT = 0x03
    HEARTBEAT_REPLY = 0x04
    MODEL_VERIFY = 0x05
    MODEL_VERIFY_REPLY = 0x06
    MODEL_REQUEST = 0x09
    MODEL_REPLY = 0x0A
    READ_REALTIME = 0x12
    REALTIME = 0x13
    START_REQUEST = 0x31
    START_AUTHORISATION = 0x32
    REMOTE_START_RESULT = 0x33
    REMOTE_START = 0x34
    REMOTE_STOP_RESULT = 0x35
    REMOTE_STOP = 0x36
    BILL = 0x3B
    BILL_V17 = 0x3D
    BILL_CONFIRM = 0x40
    TIME_SYNC_REPLY = 0x55
    TIME_SYNC = 0x56
    SET_MODEL_REPLY = 0x57
    SET_MODEL = 0x58
    REBOOT_REPLY = 0x91
    REBOOT = 0x92


class Version(IntEnum):
    """Protocol version byte of the login: version x 10."""

    V1_5 = 15
    V1_6 = 16
    V1_7 = 17


@dataclass(slots=True)
class Message:
    TYPE: ClassVar[FrameType]


@dataclass(slots=True)
class Login(Message):
    TYPE: ClassVar[FrameType] = FrameType.LOGIN
    pile: str
    pile_type: int  # 0 DC, 1 AC
    gun_count: int
    protocol_version: int  # Version: 15, 16, 17
    program_version: str
    network_type: int  # 0 SIM, 1 LAN, 2 WAN, 3 other
    iccid: str
    carrier: int  # 0 China Mobile, 2 China Telecom, 3 China Unicom, 4 other


@dataclass(slots=True)
class LoginReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.LOGIN_REPLY
    pile: str
    result: int  # 0 success, 1 failure (then close the connection)


@dataclass(slots=True)
class Heartbeat(Message):
    TYPE: ClassVar[FrameType] = FrameType.HEARTBEAT
    pile: str
    gun: str
    gun_state: int  # 0 normal, 1 fault


@dataclass(slots=True)
class HeartbeatReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.HEARTBEAT_REPLY
    pile: str
    gun: str
    reply: int = 0


@dataclass(slots=True)
class ModelVerify(Message):
    TYPE: ClassVar[FrameType] = FrameType.MODEL_VERIFY
    pile: str
    model_id: str  # 4 BCD digits; "0000" on first connect


@dataclass(slots=True)
class ModelVerifyReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.MODEL_VERIFY_REPLY
    pile: str
    model_id: str
    result: int  # 0 same model, 1 different (the pile then asks with 0x09)


@dataclass(slots=True)
class ModelRequest(Message):
    TYPE: ClassVar[FrameType] = FrameType.MODEL_REQUEST
    pile: str


@dataclass(slots=True)
class BillingModel(Message):
    """Body of 0x0A (answer to 0x09) and 0x58 (pushed by the platform)."""

    pile: str
    model_id: str
    sharp_price_e5: int  # electricity rate
    sharp_service_e5: int  # service rate
    peak_price_e5: int
    peak_service_e5: int
    flat_price_e5: int
    flat_service_e5: int
    valley_price_e5: int
    valley_service_e5: int
    loss_ratio: int  # percent; YKC platforms send 0
    slots: tuple[int, ...]  # 48 rate numbers, 00:00-00:30 first: 0 sharp 1 peak 2 flat 3 valley


@dataclass(slots=True)
class ModelReply(BillingModel):
    TYPE: ClassVar[FrameType] = FrameType.MODEL_REPLY


@dataclass(slots=True)
class SetModel(BillingModel):
    TYPE: ClassVar[FrameType] = FrameType.SET_MODEL


@dataclass(slots=True)
class SetModelReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.SET_MODEL_REPLY
    pile: str
    result: int  # 0 failure, 1 success


@dataclass(slots=True)
class ReadRealtime(Message):
    TYPE: ClassVar[FrameType] = FrameType.READ_REALTIME
    pile: str
    gun: str


@dataclass(slots=True)
class Realtime(Message):
    TYPE: ClassVar[FrameType] = FrameType.REALTIME
    trade_no: str  # 32 digits, zeros when idle
    pile: str
    gun: str
    status: int  # 0 offline, 1 fault, 2 idle, 3 charging
    gun_homed: int  # 0 no, 1 yes, 2 unknown
    plugged: int  # 0 no, 1 yes
    voltage_dv: int
    current_da: int
    cable_temp_c: int
    cable_code: str
    soc: int
    battery_max_temp_c: int
    charged_min: int
    remaining_min: int
    energy_dwh: int
    loss_energy_dwh: int
    amount_e4: int
    faults: int  # bit flags, see docs/ykc.md


@dataclass(slots=True)
class StartRequest(Message):
    TYPE: ClassVar[FrameType] = FrameType.START_REQUEST
    pile: str
    gun: str
    start_mode: int  # 1 card, 2 account, 3 VIN
    password_required: int
    card: str  # account or physical card, 16 hex digits
    password_md5: str  # 32 hex digits
    vin: str  # forward order (the wire carries it reversed)


@dataclass(slots=True)
class StartAuthorisation(Message):
    TYPE: ClassVar[FrameType] = FrameType.START_AUTHORISATION
    trade_no: str
    pile: str
    gun: str
    logical_card: str
    balance_fen: int
    authorised: int  # 1 success, 0 failure (JCPP gets this backwards)
    fail_reason: int  # 0x01..0x0B, see docs/ykc.md


@dataclass(slots=True)
class RemoteStart(Message):
    TYPE: ClassVar[FrameType] = FrameType.REMOTE_START
    trade_no: str
    pile: str
    gun: str
    logical_card: str
    physical_card: str
    balance_fen: int


@dataclass(slots=True)
class RemoteStartResult(Message):
    TYPE: ClassVar[FrameType] = FrameType.REMOTE_START_RESULT
    trade_no: str
    pile: str
    gun: str
    result: int  # 0 failure, 1 success
    fail_reason: int  # 0 none, 1 id mismatch, 2 busy, 3 fault, 4 offline, 5 not plugged


@dataclass(slots=True)
class RemoteStop(Message):
    TYPE: ClassVar[FrameType] = FrameType.REMOTE_STOP
    pile: str
    gun: str


@dataclass(slots=True)
class RemoteStopResult(Message):
    TYPE: ClassVar[FrameType] = FrameType.REMOTE_STOP_RESULT
    pile: str
    gun: str
    result: int  # 0 failure, 1 success
    fail_reason: int  # 0 none, 1 id mismatch, 2 not charging, 3 other


@dataclass(slots=True)
class Bill(Message):
    """Transaction record, V1.5/V1.6 layout (frame 0x3B)."""

    TYPE: ClassVar[FrameType] = FrameType.BILL
    trade_no: str
    pile: str
    gun: str
    start_time: Cp56Time | None
    end_time: Cp56Time | None
    sharp_price_e5: int  # electricity + service
    sharp_energy_dwh: int
    sharp_loss_energy_dwh: int
    sharp_amount_e4: int
    peak_price_e5: int
    peak_energy_dwh: int
    peak_loss_energy_dwh: int
    peak_amount_e4: int
    flat_price_e5: int
    flat_energy_dwh: int
    flat_loss_energy_dwh: int
    flat_amount_e4: int
    valley_price_e5: int
    valley_energy_dwh: int
    valley_loss_energy_dwh: int
    valley_amount_e4: int
    meter_start_dwh: int  # 5 bytes
    meter_end_dwh: int
    total_energy_dwh: int
    total_loss_energy_dwh: int
    total_amount_e4: int
    vin: str
    trade_flag: int  # 1 app, 2 card, 4 offline card, 5 VIN
    trade_time: Cp56Time | None
    stop_reason: int
    physical_card: str


@dataclass(slots=True)
class BillV17(Message):
    """Transaction record, V1.7 layout (frame 0x3D): 0x3B plus the meter's signed reading."""

    TYPE: ClassVar[FrameType] = FrameType.BILL_V17
    trade_no: str
    pile: str
    gun: str
    start_time: Cp56Time | None
    end_time: Cp56Time | None
    meter_number: str  # 12 BCD digits
    meter_ciphertext: str  # 34 bytes as hex
    meter_protocol_version: int
    meter_encryption: int
    sharp_price_e5: int
    sharp_energy_dwh: int
    sharp_loss_energy_dwh: int
    sharp_amount_e4: int
    peak_price_e5: int
    peak_energy_dwh: int
    peak_loss_energy_dwh: int
    peak_amount_e4: int
    flat_price_e5: int
    flat_energy_dwh: int
    flat_loss_energy_dwh: int
    flat_amount_e4: int
    valley_price_e5: int
    valley_energy_dwh: int
    valley_loss_energy_dwh: int
    valley_amount_e4: int
    meter_start_dwh: int
    meter_end_dwh: int
    total_energy_dwh: int
    total_loss_energy_dwh: int
    total_amount_e4: int
    vin: str
    trade_flag: int
    trade_time: Cp56Time | None
    stop_reason: int
    physical_card: str


@dataclass(slots=True)
class BillConfirm(Message):
    TYPE: ClassVar[FrameType] = FrameType.BILL_CONFIRM
    trade_no: str
    result: int  # 0 received, 1 illegal bill


@dataclass(slots=True)
class TimeSync(Message):
    TYPE: ClassVar[FrameType] = FrameType.TIME_SYNC
    pile: str
    time: Cp56Time | None


@dataclass(slots=True)
class TimeSyncReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.TIME_SYNC_REPLY
    pile: str
    time: Cp56Time | None


@dataclass(slots=True)
class Reboot(Message):
    TYPE: ClassVar[FrameType] = FrameType.REBOOT
    pile: str
    control: int  # 1 now, 2 when idle


@dataclass(slots=True)
class RebootReply(Message):
    TYPE: ClassVar[FrameType] = FrameType.REBOOT_REPLY
    pile: str
    result: int  # 0 failure, 1 success


MESSAGE_CLASSES: dict[FrameType, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Login, LoginReply, Heartbeat, HeartbeatReply, ModelVerify, ModelVerifyReply,
        ModelRequest, ModelReply, SetModel, SetModelReply, ReadRealtime, Realtime,
        StartRequest, StartAuthorisation, RemoteStart, RemoteStartResult, RemoteStop,
        RemoteStopResult, Bill, BillV17, BillConfirm, TimeSync, TimeSyncReply, Reboot,
        RebootReply,
    )
}  # fmt: skip
