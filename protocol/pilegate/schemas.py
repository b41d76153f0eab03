"""Byte layout of every message body, declared with construct. All integers big-endian.

These declarations are the single source of the wire format: ``plan.py`` compiles each one
once at import into a flat ``struct`` plan for the hot path, and construct itself parses and
builds them in the tests as the reference implementation.
"""

from __future__ import annotations

from construct import Bytes, Int8ub, Int16ub, Int32sb, Int32ub, Int64ub, Struct

from protocol.pilegate.codes import MsgType
from protocol.pilegate.fields import Counted, PileId, Text, TransactionId

u8, u16, u32, u64, i32 = Int8ub, Int16ub, Int32ub, Int64ub, Int32sb

GUN_REPORT = Struct(
    "gun" / u8,
    "status" / u8,
    "fault_code" / u16,
    "meter_dwh" / u64,
    "voltage_dv" / u16,
    "current_da" / u16,
    "power_w" / u32,
    "soc" / u8,
)

TARIFF_PRICE = Struct("energy_price_e4" / u32, "service_fee_e4" / u32)
TARIFF_SEGMENT = Struct("start_minute" / u16, "kind" / u8)

BODIES: dict[MsgType, Struct] = {
    MsgType.LOGIN: Struct(
        "pile_id" / PileId(),
        "vendor" / Text(16),
        "model" / Text(16),
        "firmware" / Text(24),
        "protocol_version" / u8,
        "gun_count" / u8,
        "pile_time_ms" / u64,
        "auth" / Bytes(32),
    ),
    MsgType.LOGOUT: Struct(
        "gun" / u8, "transaction_id" / TransactionId(), "reason" / u8, "time_ms" / u64
    ),
    MsgType.HEARTBEAT: Struct("guns" / Counted(GUN_REPORT)),
    MsgType.STATUS_CHANGE: Struct(
        "gun" / u8,
        "status" / u8,
        "fault_code" / u16,
        "time_ms" / u64,
        "transaction_id" / TransactionId(),
    ),
    MsgType.AUTH_REQUEST: Struct(
        "gun" / u8, "channel" / u8, "id_token" / Text(20), "password" / Text(16)
    ),
    MsgType.START_RESULT: Struct(
        "gun" / u8,
        "transaction_id" / TransactionId(),
        "result" / u8,
        "fault_code" / u16,
        "time_ms" / u64,
        "meter_dwh" / u64,
    ),
    MsgType.STOP_RESULT: Struct(
        "gun" / u8,
        "transaction_id" / TransactionId(),
        "result" / u8,
        "stop_reason" / u8,
        "time_ms" / u64,
        "meter_dwh" / u64,
    ),
    MsgType.METER_VALUES: Struct(
        "gun" / u8,
        "transaction_id" / TransactionId(),
        "time_ms" / u64,
        "meter_dwh" / u64,
        "energy_dwh" / u32,
        "voltage_dv" / u16,
        "current_da" / u16,
        "power_w" / u32,
        "soc" / u8,
    ),
    MsgType.VIN: Struct("gun" / u8, "transaction_id" / TransactionId(), "vin" / Text(17)),
    MsgType.BILL: Struct(
        "transaction_id" / TransactionId(),
        "gun" / u8,
        "channel" / u8,
        "account" / Text(20),
        "authorised_ms" / u64,
        "charge_start_ms" / u64,
        "charge_end_ms" / u64,
        "service_end_ms" / u64,
        "meter_start_dwh" / u64,
        "meter_stop_dwh" / u64,
        "energy_dwh" / u32,
        "sharp_dwh" / u32,
        "peak_dwh" / u32,
        "flat_dwh" / u32,
        "valley_dwh" / u32,
        "energy_amount_fen" / i32,
        "service_amount_fen" / i32,
        "idle_fee_fen" / i32,
        "total_amount_fen" / i32,
        "stop_reason" / u8,
        "vin" / Text(17),
    ),
    MsgType.COMMAND_ACK: Struct("command" / u8, "gun" / u8, "result" / u8),
    MsgType.ACK: Struct("acked_type" / u8, "result" / u8),
    MsgType.LOGIN_ACK: Struct("result" / u8, "server_time_ms" / u64, "heartbeat_interval_s" / u16),
    MsgType.HEARTBEAT_ACK: Struct(),
    MsgType.AUTH_RESULT: Struct(
        "gun" / u8,
        "result" / u8,
        "transaction_id" / TransactionId(),
        "account" / Text(20),
        "balance_fen" / i32,
    ),
    MsgType.START_CHARGE: Struct(
        "gun" / u8,
        "transaction_id" / TransactionId(),
        "account" / Text(20),
        "channel" / u8,
        "balance_fen" / i32,
        "limit_energy_dwh" / u32,
        "limit_amount_fen" / u32,
        "limit_minutes" / u16,
    ),
    MsgType.STOP_CHARGE: Struct("gun" / u8, "transaction_id" / TransactionId(), "reason" / u8),
    MsgType.BILL_ACK: Struct("transaction_id" / TransactionId(), "status" / u8, "anomalies" / u32),
    MsgType.SET_TARIFF: Struct(
        "tariff_id" / u32,
        "effective_from_ms" / u64,
        "prices" / Counted(TARIFF_PRICE, fixed=4),
        "segments" / Counted(TARIFF_SEGMENT),
    ),
    MsgType.ENABLE: Struct("gun" / u8),
    MsgType.DISABLE: Struct("gun" / u8, "reason" / u8),
    MsgType.QUERY_BILLS: Struct("gun" / u8),
    MsgType.TIME_SYNC: Struct("server_time_ms" / u64),
    MsgType.NACK: Struct("nacked_type" / u8, "reason" / u8),
    MsgType.SET_IDLE_FEE: Struct(
        "grace_minutes" / u16, "rate_fen_per_minute" / u32, "cap_fen" / u32
    ),
}
