"""Byte layout of every YKC body, declared with construct. Integers are little-endian.

The single source of the wire format: ``plan.py`` compiles each declaration once at import
into one ``struct`` call per body, and construct parses and builds them in the tests as the
reference implementation.
"""

from __future__ import annotations

from typing import Any

from construct import Int8ul, Int16ul, Int32ul, Struct

from protocol.ykc.fields import Bcd, Celsius, Opaque, RateSlots, ReversedText, Text, Time, UIntLE
from protocol.ykc.messages import FrameType

u8, u16, u32 = Int8ul, Int16ul, Int32ul
PILE = Bcd(7)
GUN = Bcd(1)
TRADE = Bcd(16)

MODEL = Struct(
    "pile" / PILE,
    "model_id" / Bcd(2),
    "sharp_price_e5" / u32,
    "sharp_service_e5" / u32,
    "peak_price_e5" / u32,
    "peak_service_e5" / u32,
    "flat_price_e5" / u32,
    "flat_service_e5" / u32,
    "valley_price_e5" / u32,
    "valley_service_e5" / u32,
    "loss_ratio" / u8,
    "slots" / RateSlots(),
)


def _periods() -> list[Any]:
    return [
        f"{period}_{name}" / u32
        for period in ("sharp", "peak", "flat", "valley")
        for name in ("price_e5", "energy_dwh", "loss_energy_dwh", "amount_e4")
    ]


_BILL_HEAD = [
    "trade_no" / TRADE,
    "pile" / PILE,
    "gun" / GUN,
    "start_time" / Time(),
    "end_time" / Time(),
]
_BILL_TAIL = [
    *_periods(),
    "meter_start_dwh" / UIntLE(5),
    "meter_end_dwh" / UIntLE(5),
    "total_energy_dwh" / u32,
    "total_loss_energy_dwh" / u32,
    "total_amount_e4" / u32,
    "vin" / Text(17),
    "trade_flag" / u8,
    "trade_time" / Time(),
    "stop_reason" / u8,
    "physical_card" / Opaque(8),
]
_METER_SIGNATURE = [
    "meter_number" / Bcd(6),
    "meter_ciphertext" / Opaque(34),
    "meter_protocol_version" / u16,
    "meter_encryption" / u8,
]

BODIES: dict[FrameType, Struct] = {
    FrameType.LOGIN: Struct(
        "pile" / PILE,
        "pile_type" / u8,
        "gun_count" / u8,
        "protocol_version" / u8,
        "program_version" / Text(8),
        "network_type" / u8,
        "iccid" / Bcd(10),
        "carrier" / u8,
    ),
    FrameType.LOGIN_REPLY: Struct("pile" / PILE, "result" / u8),
    FrameType.HEARTBEAT: Struct("pile" / PILE, "gun" / GUN, "gun_state" / u8),
    FrameType.HEARTBEAT_REPLY: Struct("pile" / PILE, "gun" / GUN, "reply" / u8),
    FrameType.MODEL_VERIFY: Struct("pile" / PILE, "model_id" / Bcd(2)),
    FrameType.MODEL_VERIFY_REPLY: Struct("pile" / PILE, "model_id" / Bcd(2), "result" / u8),
    FrameType.MODEL_REQUEST: Struct("pile" / PILE),
    FrameType.MODEL_REPLY: MODEL,
    FrameType.SET_MODEL: MODEL,
    FrameType.SET_MODEL_REPLY: Struct("pile" / PILE, "result" / u8),
    FrameType.READ_REALTIME: Struct("pile" / PILE, "gun" / GUN),
    FrameType.REALTIME: Struct(
        "trade_no" / TRADE,
        "pile" / PILE,
        "gun" / GUN,
        "status" / u8,
        "gun_homed" / u8,
        "plugged" / u8,
        "voltage_dv" / u16,
        "current_da" / u16,
        "cable_temp_c" / Celsius(),
        "cable_code" / Opaque(8),
        "soc" / u8,
        "battery_max_temp_c" / Celsius(),
        "charged_min" / u16,
        "remaining_min" / u16,
        "energy_dwh" / u32,
        "loss_energy_dwh" / u32,
        "amount_e4" / u32,
        "faults" / u16,
    ),
    FrameType.START_REQUEST: Struct(
        "pile" / PILE,
        "gun" / GUN,
        "start_mode" / u8,
        "password_required" / u8,
        "card" / Opaque(8),
        "password_md5" / Opaque(16),
        "vin" / ReversedText(17),
    ),
    FrameType.START_AUTHORISATION: Struct(
        "trade_no" / TRADE,
        "pile" / PILE,
        "gun" / GUN,
        "logical_card" / Bcd(8),
        "balance_fen" / u32,
        "authorised" / u8,
        "fail_reason" / u8,
    ),
    FrameType.REMOTE_START: Struct(
        "trade_no" / TRADE,
        "pile" / PILE,
        "gun" / GUN,
        "logical_card" / Bcd(8),
        "physical_card" / Opaque(8),
        "balance_fen" / u32,
    ),
    FrameType.REMOTE_START_RESULT: Struct(
        "trade_no" / TRADE, "pile" / PILE, "gun" / GUN, "result" / u8, "fail_reason" / u8
    ),
    FrameType.REMOTE_STOP: Struct("pile" / PILE, "gun" / GUN),
    FrameType.REMOTE_STOP_RESULT: Struct(
        "pile" / PILE, "gun" / GUN, "result" / u8, "fail_reason" / u8
    ),
    FrameType.BILL: Struct(*_BILL_HEAD, *_BILL_TAIL),
    FrameType.BILL_V17: Struct(*_BILL_HEAD, *_METER_SIGNATURE, *_BILL_TAIL),
    FrameType.BILL_CONFIRM: Struct("trade_no" / TRADE, "result" / u8),
    FrameType.TIME_SYNC: Struct("pile" / PILE, "time" / Time()),
    FrameType.TIME_SYNC_REPLY: Struct("pile" / PILE, "time" / Time()),
    FrameType.REBOOT: Struct("pile" / PILE, "control" / u8),
    FrameType.REBOOT_REPLY: Struct("pile" / PILE, "result" / u8),
}
