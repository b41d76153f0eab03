"""One realistic example of every message type: used by the codec demo, the golden vectors and
the hex examples in docs/protocol.md."""

from __future__ import annotations

from protocol.pilegate.codes import (
    BillAckStatus,
    Channel,
    FaultCode,
    GunStatus,
    MsgType,
    NackReason,
    Result,
    StopReason,
    TariffKind,
)
from protocol.pilegate.messages import (
    Ack,
    AuthRequest,
    AuthResult,
    Bill,
    BillAck,
    CommandAck,
    Disable,
    Enable,
    GunReport,
    Heartbeat,
    HeartbeatAck,
    Login,
    LoginAck,
    Logout,
    Message,
    MeterValues,
    Nack,
    QueryBills,
    SetIdleFee,
    SetTariff,
    StartCharge,
    StartResult,
    StatusChange,
    StopCharge,
    StopResult,
    TariffPrice,
    TariffSegment,
    TimeSync,
    Vin,
)
from protocol.pilegate.tariff_number import tariff_number

PILE = "44030600030000200060"
TXID = "0190f3a2b4c87d01a2b3c4d5e6f70819"
T0 = 1_735_700_400_000  # 2025-01-01 03:00:00 UTC = 11:00 in UTC+8


EXAMPLES: dict[MsgType, tuple[int, Message]] = {
    MsgType.LOGIN: (
        1,
        Login(PILE, "ACME", "DC120-2", "V2.3.7", 1, 2, T0),
    ),
    MsgType.LOGIN_ACK: (1, LoginAck(Result.OK, T0 + 40, 30)),
    MsgType.HEARTBEAT: (
        2,
        Heartbeat(
            (
                GunReport(
                    1, GunStatus.CHARGING, FaultCode.NONE, 12_345_670, 3_815, 1_502, 57_300, 63
                ),
                GunReport(2, GunStatus.AVAILABLE, FaultCode.NONE, 9_876_540, 0, 0, 0, 255),
            )
        ),
    ),
    MsgType.HEARTBEAT_ACK: (2, HeartbeatAck()),
    MsgType.STATUS_CHANGE: (
        3,
        StatusChange(1, GunStatus.PREPARING, FaultCode.NONE, T0 + 60_000),
    ),
    MsgType.AUTH_REQUEST: (4, AuthRequest(1, Channel.CARD, "D4E5F60718293A4B", "")),
    MsgType.AUTH_RESULT: (4, AuthResult(1, Result.OK, TXID, "13800000000", 5_000)),
    MsgType.START_CHARGE: (
        17,
        StartCharge(1, TXID, "13800000000", Channel.OWN_APP, 5_000, 0, 5_000, 0),
    ),
    MsgType.COMMAND_ACK: (17, CommandAck(MsgType.START_CHARGE, 1, Result.OK)),
    MsgType.START_RESULT: (
        5,
        StartResult(1, TXID, Result.OK, FaultCode.NONE, T0 + 95_000, 12_345_670),
    ),
    MsgType.ACK: (5, Ack(MsgType.START_RESULT, Result.OK)),
    MsgType.VIN: (6, Vin(1, TXID, "LSVAU2180N2183294")),
    MsgType.METER_VALUES: (
        7,
        MeterValues(1, TXID, T0 + 395_000, 12_392_420, 46_750, 3_815, 1_502, 57_300, 64),
    ),
    MsgType.STOP_CHARGE: (18, StopCharge(1, TXID, StopReason.REMOTE)),
    MsgType.STOP_RESULT: (
        8,
        StopResult(1, TXID, Result.OK, StopReason.REMOTE, T0 + 2_495_000, 12_745_670),
    ),
    MsgType.LOGOUT: (9, Logout(1, TXID, StopReason.REMOTE, T0 + 2_795_000)),
    MsgType.BILL: (
        10,
        Bill(
            TXID,
            1,
            Channel.OWN_APP,
            "13800000000",
            T0 + 30_000,
            T0 + 95_000,
            T0 + 2_495_000,
            T0 + 2_795_000,
            12_345_670,
            12_745_670,
            400_000,
            0,
            400_000,
            0,
            0,
            4_240,
            3_200,
            0,
            7_440,
            StopReason.REMOTE,
            "LSVAU2180N2183294",
        ),
    ),
    MsgType.BILL_ACK: (10, BillAck(TXID, BillAckStatus.FLAGGED, (1 << 8) | (1 << 16))),
    MsgType.SET_TARIFF: (
        19,
        SetTariff(
            tariff_number("h1-t"),  # the operator's tariff named "h1-t" (§7.8)
            T0,
            (
                TariffPrice(13_000, 8_000),
                TariffPrice(10_600, 8_000),
                TariffPrice(7_000, 8_000),
                TariffPrice(2_700, 8_000),
            ),
            (
                TariffSegment(0, TariffKind.VALLEY),
                TariffSegment(8 * 60, TariffKind.FLAT),
                TariffSegment(10 * 60, TariffKind.PEAK),
                TariffSegment(15 * 60, TariffKind.FLAT),
                TariffSegment(18 * 60, TariffKind.PEAK),
                TariffSegment(19 * 60, TariffKind.SHARP),
                TariffSegment(21 * 60, TariffKind.PEAK),
                TariffSegment(23 * 60, TariffKind.VALLEY),
            ),
        ),
    ),
    MsgType.ENABLE: (20, Enable(0)),
    MsgType.DISABLE: (21, Disable(0, 0)),
    MsgType.QUERY_BILLS: (22, QueryBills(0)),
    MsgType.TIME_SYNC: (23, TimeSync(T0 + 3_600_000)),
    MsgType.NACK: (11, Nack(MsgType.METER_VALUES, NackReason.BAD_FIELD)),
    MsgType.SET_IDLE_FEE: (24, SetIdleFee(15, 50, 3_000)),
}
