"""Typed messages of the pile protocol v1: the public API of ``protocol``.

Units, exactly as on the wire (docs/protocol.md): times are UTC epoch milliseconds, energy
and meter readings 0.1 Wh (``_dwh``), money fen (``_fen``), prices 0.0001 CNY/kWh
(``_e4``), voltage 0.1 V (``_dv``), current 0.1 A (``_da``), power W, SOC percent (255 =
unknown). Code fields hold plain ints from the tables in ``protocol.pilegate.codes``. Field order is
wire order; ``schemas.py`` declares the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from protocol.pilegate.codes import MsgType
from protocol.pilegate.fields import normalize_pile_id

SOC_UNKNOWN = 255


@dataclass(slots=True)
class Message:
    TYPE: ClassVar[MsgType]


# --- pile -> gateway ---------------------------------------------------------------------


@dataclass(slots=True)
class Login(Message):
    TYPE: ClassVar[MsgType] = MsgType.LOGIN
    pile_id: str
    vendor: str
    model: str
    firmware: str
    protocol_version: int
    gun_count: int
    pile_time_ms: int
    auth: bytes = bytes(
        32
    )  # HMAC-SHA256 of the login (protocol.pilegate.login_auth); zeros = unsigned

    def __post_init__(self) -> None:
        self.pile_id = normalize_pile_id(self.pile_id)


@dataclass(slots=True)
class Logout(Message):
    """The pile's end of a service on one gun (unplug), or of the pile (gun 0)."""

    TYPE: ClassVar[MsgType] = MsgType.LOGOUT
    gun: int
    transaction_id: str
    reason: int  # StopReason
    time_ms: int


@dataclass(slots=True)
class GunReport:
    gun: int
    status: int  # GunStatus
    fault_code: int  # FaultCode
    meter_dwh: int
    voltage_dv: int
    current_da: int
    power_w: int
    soc: int


@dataclass(slots=True)
class Heartbeat(Message):
    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT
    guns: tuple[GunReport, ...] = ()


@dataclass(slots=True)
class StatusChange(Message):
    TYPE: ClassVar[MsgType] = MsgType.STATUS_CHANGE
    gun: int
    status: int  # GunStatus
    fault_code: int  # FaultCode
    time_ms: int
    transaction_id: str = ""


@dataclass(slots=True)
class AuthRequest(Message):
    """Card swiped or password typed at the pile."""

    TYPE: ClassVar[MsgType] = MsgType.AUTH_REQUEST
    gun: int
    channel: int  # Channel: CARD, PASSWORD or VIN
    id_token: str  # card number, account or VIN
    password: str = ""


@dataclass(slots=True)
class StartResult(Message):
    """Energy started to flow (result OK), or the start failed."""

    TYPE: ClassVar[MsgType] = MsgType.START_RESULT
    gun: int
    transaction_id: str
    result: int  # Result
    fault_code: int  # FaultCode; DEVICE_FAULT (98) for a control-board failure
    time_ms: int
    meter_dwh: int


@dataclass(slots=True)
class StopResult(Message):
    TYPE: ClassVar[MsgType] = MsgType.STOP_RESULT
    gun: int
    transaction_id: str
    result: int  # Result
    stop_reason: int  # StopReason
    time_ms: int
    meter_dwh: int


@dataclass(slots=True)
class MeterValues(Message):
    TYPE: ClassVar[MsgType] = MsgType.METER_VALUES
    gun: int
    transaction_id: str
    time_ms: int
    meter_dwh: int
    energy_dwh: int  # energy of this transaction so far
    voltage_dv: int
    current_da: int
    power_w: int
    soc: int


@dataclass(slots=True)
class Vin(Message):
    TYPE: ClassVar[MsgType] = MsgType.VIN
    gun: int
    transaction_id: str
    vin: str


@dataclass(slots=True)
class Bill(Message):
    TYPE: ClassVar[MsgType] = MsgType.BILL
    transaction_id: str
    gun: int
    channel: int  # Channel
    account: str
    authorised_ms: int
    charge_start_ms: int
    charge_end_ms: int
    service_end_ms: int  # unplug
    meter_start_dwh: int
    meter_stop_dwh: int
    energy_dwh: int
    sharp_dwh: int
    peak_dwh: int
    flat_dwh: int
    valley_dwh: int
    energy_amount_fen: int  # signed on the wire so that a bad pile's negative amount is seen
    service_amount_fen: int
    idle_fee_fen: int
    total_amount_fen: int
    stop_reason: int  # StopReason
    vin: str = ""


@dataclass(slots=True)
class CommandAck(Message):
    """The pile's answer to a gateway command; echoes the command's sequence number."""

    TYPE: ClassVar[MsgType] = MsgType.COMMAND_ACK
    command: int  # MsgType of the command
    gun: int
    result: int  # Result


# --- gateway -> pile ---------------------------------------------------------------------


@dataclass(slots=True)
class Ack(Message):
    TYPE: ClassVar[MsgType] = MsgType.ACK
    acked_type: int  # MsgType
    result: int = 0  # Result


@dataclass(slots=True)
class LoginAck(Message):
    TYPE: ClassVar[MsgType] = MsgType.LOGIN_ACK
    result: int  # Result
    server_time_ms: int
    heartbeat_interval_s: int


@dataclass(slots=True)
class HeartbeatAck(Message):
    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT_ACK


@dataclass(slots=True)
class AuthResult(Message):
    TYPE: ClassVar[MsgType] = MsgType.AUTH_RESULT
    gun: int
    result: int  # Result
    transaction_id: str  # assigned by the gateway when accepted
    account: str
    balance_fen: int


@dataclass(slots=True)
class StartCharge(Message):
    TYPE: ClassVar[MsgType] = MsgType.START_CHARGE
    gun: int
    transaction_id: str
    account: str
    channel: int  # Channel
    balance_fen: int
    limit_energy_dwh: int = 0  # 0 = no limit
    limit_amount_fen: int = 0
    limit_minutes: int = 0


@dataclass(slots=True)
class StopCharge(Message):
    TYPE: ClassVar[MsgType] = MsgType.STOP_CHARGE
    gun: int
    transaction_id: str
    reason: int  # StopReason


@dataclass(slots=True)
class BillAck(Message):
    TYPE: ClassVar[MsgType] = MsgType.BILL_ACK
    transaction_id: str
    status: int  # BillAckStatus
    anomalies: int = 0  # bit n set = AnomalyBit n (codes.py; 1..11 = operator codes)


@dataclass(slots=True)
class TariffPrice:
    energy_price_e4: int
    service_fee_e4: int


@dataclass(slots=True)
class TariffSegment:
    start_minute: int  # minute of the local day (UTC+8) at which the segment begins
    kind: int  # TariffKind


@dataclass(slots=True)
class SetTariff(Message):
    TYPE: ClassVar[MsgType] = MsgType.SET_TARIFF
    tariff_id: int
    effective_from_ms: int
    prices: tuple[TariffPrice, ...]  # exactly 4: sharp, peak, flat, valley
    segments: tuple[TariffSegment, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class Enable(Message):
    TYPE: ClassVar[MsgType] = MsgType.ENABLE
    gun: int = 0  # 0 = the whole pile


@dataclass(slots=True)
class Disable(Message):
    TYPE: ClassVar[MsgType] = MsgType.DISABLE
    gun: int = 0
    reason: int = 0


@dataclass(slots=True)
class QueryBills(Message):
    TYPE: ClassVar[MsgType] = MsgType.QUERY_BILLS
    gun: int = 0


@dataclass(slots=True)
class TimeSync(Message):
    TYPE: ClassVar[MsgType] = MsgType.TIME_SYNC
    server_time_ms: int


#: SetIdleFee.cap_fen meaning "no cap".
IDLE_FEE_UNCAPPED = 0xFFFF_FFFF


@dataclass(slots=True)
class SetIdleFee(Message):
    """The idle (bay occupation) fee rule the pile applies when it bills (docs §7.14)."""

    TYPE: ClassVar[MsgType] = MsgType.SET_IDLE_FEE
    grace_minutes: int  # free minutes after the charge ends
    rate_fen_per_minute: int  # per whole minute past the grace period
    cap_fen: int = IDLE_FEE_UNCAPPED  # most one service pays; IDLE_FEE_UNCAPPED = no cap


@dataclass(slots=True)
class Nack(Message):
    """What was wrong with a received frame; echoes its sequence number when it was readable."""

    TYPE: ClassVar[MsgType] = MsgType.NACK
    nacked_type: int  # MsgType, 0 when unreadable
    reason: int  # NackReason


MESSAGE_CLASSES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Login, Logout, Heartbeat, StatusChange, AuthRequest, StartResult, StopResult,
        MeterValues, Vin, Bill, CommandAck, Ack, LoginAck, HeartbeatAck, AuthResult,
        StartCharge, StopCharge, BillAck, SetTariff, Enable, Disable, QueryBills, TimeSync,
        Nack, SetIdleFee,
    )
}  # fmt: skip
