"""Generate the golden vectors (tests/vectors/*.json) and the generated parts of
docs/protocol.md (code tables, body layouts, hex examples) from the codec itself.

    python tests/vectors/generate.py            # write missing vectors, regenerate the doc
    python tests/vectors/generate.py --check    # exit 1 if a vector or the doc is out of date
    python tests/vectors/generate.py --update   # also overwrite vectors whose bytes changed

The committed vectors are the reference: tests/protocol/test_vectors.py decodes and encodes
them, so a codec change that alters bytes fails the suite. Overwrite them (``--update``) only
for a deliberate, documented wire-format change.

Generated blocks in the doc sit between ``<!-- gen:KIND:NAME -->`` and ``<!-- /gen -->``;
edit the text here (FIELD_NOTES, CODE_MEANINGS), not in the doc.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from construct import Bytes, FormatField, Struct  # noqa: E402

from protocol.pilegate import encode  # noqa: E402
from protocol.pilegate.codes import (  # noqa: E402
    AnomalyBit,
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
from protocol.pilegate.examples import EXAMPLES, T0  # noqa: E402
from protocol.pilegate.fields import Counted, PileId, Text, TransactionId  # noqa: E402
from protocol.pilegate.login_auth import mac_input, sign_login  # noqa: E402
from protocol.pilegate.messages import (  # noqa: E402
    MESSAGE_CLASSES,
    GunReport,
    Login,
    Message,
    TariffPrice,
    TariffSegment,
)
from protocol.pilegate.schemas import BODIES  # noqa: E402

VECTORS_DIR = ROOT / "tests" / "vectors"
DOC = ROOT / "docs" / "protocol.md"

ARRAY_ELEMENTS: dict[str, type] = {
    "guns": GunReport,
    "prices": TariffPrice,
    "segments": TariffSegment,
}
BYTES_FIELDS = frozenset({"auth"})

#: The 16-digit pile id case: configured as 16 digits, sent left-padded to 20.
PILE_16 = "4403060003000020"
LOGIN_16 = (1, Login(PILE_16, "ACME", "AC7-1", "V1.0.2", 1, 1, T0))

#: The signed login (§6.1.1): the LOGIN example signed with this example secret.
EXAMPLE_SECRET = bytes(range(32))

# --- vectors -------------------------------------------------------------------------------


def vector_name(msg_type: int) -> str:
    return MsgType(msg_type).name.lower()


def to_fields(obj: Any) -> Any:
    """A message (or element) as plain JSON: bytes as hex, arrays as lists of objects."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_fields(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_fields(item) for item in obj]
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, IntEnum):
        return int(obj)
    return obj


def from_fields(msg_type: int, fields: dict[str, Any]) -> Message:
    """The message a vector's "fields" describe."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ARRAY_ELEMENTS:
            values[name] = tuple(ARRAY_ELEMENTS[name](**item) for item in value)
        elif name in BYTES_FIELDS:
            values[name] = bytes.fromhex(value)
        else:
            values[name] = value
    return MESSAGE_CLASSES[msg_type](**values)


def make_vector(message: Message, seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": MsgType(message.TYPE).name,
        "type_code": int(message.TYPE),
        "seq": seq,
        "hex": encode(message, seq).hex(),
        "fields": to_fields(message),
        **extra,
    }


def all_vectors() -> dict[str, dict[str, Any]]:
    """File name -> vector, for every example plus the 16-digit pile id login."""
    vectors = {
        f"{vector_name(t)}.json": make_vector(message, seq)
        for t, (seq, message) in sorted(EXAMPLES.items())
    }
    seq, login = LOGIN_16
    vectors["login_16_digit.json"] = make_vector(
        login,
        seq,
        configured_pile_id=PILE_16,
        note="a 16-digit pile id is left-padded with zeros to 20 digits on the wire",
    )
    seq, login = EXAMPLES[MsgType.LOGIN]
    vectors["login_signed.json"] = make_vector(
        sign_login(login, EXAMPLE_SECRET),  # type: ignore[arg-type]
        seq,
        secret=EXAMPLE_SECRET.hex(),
        mac_input=mac_input(login).hex(),  # type: ignore[arg-type]
        note="auth = HMAC-SHA256(secret, mac_input); mac_input = label + body bytes 0..75",
    )
    return vectors


def dump(vector: dict[str, Any]) -> str:
    return json.dumps(vector, indent=2) + "\n"


# --- doc: field notes and code meanings --------------------------------------------------

FIELD_NOTES: dict[str, str] = {
    "pile_id": "pile id, 20 decimal digits in packed BCD (§3.2)",
    "vendor": "manufacturer name",
    "model": "pile model",
    "firmware": "firmware version; the gateway keeps a history per pile",
    "protocol_version": "protocol version the pile implements: 1",
    "gun_count": "number of guns, numbered 1..gun_count",
    "pile_time_ms": "the pile's clock, UTC epoch ms",
    "auth": "HMAC-SHA256 of the pile's login (§6.1.1); all zeros = not signed",
    "gun": "gun number, from 1",
    "transaction_id": "transaction id (§3.6); all zeros = none",
    "time_ms": "when it happened at the pile, UTC epoch ms",
    "guns": "number of gun reports that follow",
    "status": "GunStatus",
    "fault_code": "FaultCode; 0 = none",
    "meter_dwh": "the gun's cumulative meter reading, 0.1 Wh",
    "voltage_dv": "voltage, 0.1 V",
    "current_da": "current, 0.1 A",
    "power_w": "power, W",
    "soc": "battery state of charge, % (0..100); 255 = unknown",
    "channel": "Channel",
    "id_token": "card number, account or VIN",
    "password": "password typed at the pile; empty if none",
    "result": "Result",
    "stop_reason": "StopReason",
    "energy_dwh": "energy of this transaction, 0.1 Wh",
    "vin": "vehicle identification number (17 characters); empty if unknown",
    "account": "account the service is billed to",
    "authorised_ms": "when the service was authorised, UTC epoch ms",
    "charge_start_ms": "when energy started to flow, UTC epoch ms",
    "charge_end_ms": "when energy stopped, UTC epoch ms",
    "service_end_ms": "when the gun was unplugged (service end), UTC epoch ms",
    "meter_start_dwh": "meter reading at charge start, 0.1 Wh",
    "meter_stop_dwh": "meter reading at charge end, 0.1 Wh",
    "sharp_dwh": "energy in SHARP periods, 0.1 Wh",
    "peak_dwh": "energy in PEAK periods, 0.1 Wh",
    "flat_dwh": "energy in FLAT periods, 0.1 Wh",
    "valley_dwh": "energy in VALLEY periods, 0.1 Wh",
    "energy_amount_fen": "energy charge, fen (signed; negative is flagged)",
    "service_amount_fen": "service fee, fen (signed; negative is flagged)",
    "idle_fee_fen": "idle (occupancy) fee, fen (signed; negative is flagged)",
    "total_amount_fen": "total = energy + service + idle fee, fen (signed)",
    "command": "MsgType of the command being answered",
    "acked_type": "MsgType of the event being acknowledged",
    "server_time_ms": "the gateway's clock, UTC epoch ms",
    "heartbeat_interval_s": "heartbeat interval, seconds",
    "balance_fen": "the account's balance, fen (signed)",
    "limit_energy_dwh": "stop after this much energy, 0.1 Wh; 0 = no limit",
    "limit_amount_fen": "stop at this total amount, fen; 0 = no limit",
    "limit_minutes": "stop after this many minutes of charging; 0 = no limit",
    "anomalies": "bitmask: bit n set = AnomalyBit n (§4.10); never 0 when FLAGGED",
    "tariff_id": "CRC-32 of the tariff's name (UTF-8), see below",
    "effective_from_ms": "when the tariff takes effect, UTC epoch ms",
    "prices": "exactly 4 records, in order SHARP, PEAK, FLAT, VALLEY (no count byte)",
    "energy_price_e4": "energy price, 0.0001 CNY/kWh",
    "service_fee_e4": "service fee, 0.0001 CNY/kWh",
    "segments": "number of time segments that follow (at least 1)",
    "start_minute": "minute of the local day (UTC+8), 0..1439, at which the segment begins",
    "kind": "TariffKind of the segment",
    "nacked_type": "MsgType of the rejected frame: its byte 6 as received (unverified for "
    "BAD_CRC, §2.6)",
    "grace_minutes": "free minutes after the charge ends, 0..65535",
    "rate_fen_per_minute": "fee per whole minute past the grace period, fen; 0 = no idle fee",
    "cap_fen": "most one service pays in idle fee, fen; 0xFFFFFFFF = no cap",
}

FIELD_NOTES_BY_TYPE: dict[tuple[MsgType, str], str] = {
    (MsgType.LOGOUT, "reason"): "StopReason of the service that ended",
    (MsgType.LOGOUT, "gun"): "gun number, from 1; 0 = the whole pile",
    (MsgType.STOP_CHARGE, "reason"): "StopReason (REMOTE, TIMEOUT, ...)",
    (MsgType.DISABLE, "reason"): "operator's reason code, free; 0 = none",
    (MsgType.DISABLE, "gun"): "gun number; 0 = the whole pile",
    (MsgType.ENABLE, "gun"): "gun number; 0 = the whole pile",
    (MsgType.QUERY_BILLS, "gun"): "gun number; 0 = all guns",
    (MsgType.COMMAND_ACK, "gun"): "the command's gun; 0 for SET_TARIFF, SET_IDLE_FEE and "
    "TIME_SYNC (§3.3)",
    (MsgType.NACK, "reason"): "NackReason",
    (MsgType.BILL_ACK, "status"): "BillAckStatus",
    (MsgType.AUTH_RESULT, "transaction_id"): "assigned by the gateway when result = OK",
    (MsgType.START_CHARGE, "transaction_id"): "assigned by the gateway",
    (MsgType.STATUS_CHANGE, "transaction_id"): "the gun's live transaction; zeros = none",
    (MsgType.AUTH_RESULT, "account"): "account resolved from the card/password",
    (MsgType.LOGIN_ACK, "result"): (
        "Result: OK, UNKNOWN_PILE, UNSUPPORTED_VERSION, AUTH_FAILED or CLOCK_SKEW"
    ),
    (MsgType.ACK, "result"): "Result; OK normally",
    (MsgType.AUTH_REQUEST, "channel"): "Channel: CARD, PASSWORD or VIN",
}

ENUM_OF: dict[str, type[IntEnum]] = {
    "status": GunStatus,
    "fault_code": FaultCode,
    "result": Result,
    "stop_reason": StopReason,
    "channel": Channel,
    "kind": TariffKind,
    "command": MsgType,
    "acked_type": MsgType,
    "nacked_type": MsgType,
}
ENUM_BY_TYPE: dict[tuple[MsgType, str], type[IntEnum] | None] = {
    (MsgType.BILL_ACK, "status"): BillAckStatus,
    (MsgType.LOGOUT, "reason"): StopReason,
    (MsgType.STOP_CHARGE, "reason"): StopReason,
    (MsgType.NACK, "reason"): NackReason,
    (MsgType.DISABLE, "reason"): None,
}

CODE_TABLES: dict[str, type[IntEnum]] = {
    cls.__name__: cls
    for cls in (
        MsgType,
        GunStatus,
        StopReason,
        FaultCode,
        Channel,
        Result,
        BillAckStatus,
        NackReason,
        TariffKind,
        AnomalyBit,
    )
}

_P2G, _G2P = "pile → gateway", "gateway → pile"
CODE_MEANINGS: dict[str, dict[str, str]] = {
    "MsgType": {
        "LOGIN": f"{_P2G}: first frame on every connection",
        "LOGOUT": f"{_P2G}: end of a service (gun unplugged), or of the pile (gun 0)",
        "HEARTBEAT": f"{_P2G}: periodic state of every gun",
        "STATUS_CHANGE": f"{_P2G}: a gun changed status",
        "AUTH_REQUEST": f"{_P2G}: card swiped / password typed at the pile",
        "START_RESULT": f"{_P2G}: energy started to flow, or the start failed",
        "STOP_RESULT": f"{_P2G}: charging stopped",
        "METER_VALUES": f"{_P2G}: periodic readings during a charge",
        "VIN": f"{_P2G}: the car's VIN, read from the BMS",
        "BILL": f"{_P2G}: the pile's record of a finished service",
        "COMMAND_ACK": f"{_P2G}: answer to a gateway command",
        "ACK": f"{_G2P}: generic acknowledgement of a pile event",
        "LOGIN_ACK": f"{_G2P}: answer to LOGIN",
        "HEARTBEAT_ACK": f"{_G2P}: answer to HEARTBEAT",
        "AUTH_RESULT": f"{_G2P}: answer to AUTH_REQUEST",
        "START_CHARGE": f"{_G2P}: remote start",
        "STOP_CHARGE": f"{_G2P}: remote stop",
        "BILL_ACK": f"{_G2P}: answer to BILL",
        "SET_TARIFF": f"{_G2P}: time-of-use tariff",
        "ENABLE": f"{_G2P}: allow service again (persistent)",
        "DISABLE": f"{_G2P}: refuse service (persistent)",
        "QUERY_BILLS": f"{_G2P}: re-send every unacknowledged bill",
        "TIME_SYNC": f"{_G2P}: set the pile's clock",
        "NACK": f"either way (normally {_G2P}): a received frame was rejected",
        "SET_IDLE_FEE": f"{_G2P}: idle (occupancy) fee rule the pile bills with",
    },
    "GunStatus": {
        "AVAILABLE": "free, nothing plugged in",
        "PREPARING": "plugged in and/or authorised, no energy yet",
        "CHARGING": "energy is flowing",
        "SUSPENDED_EV": "the car paused the charge",
        "SUSPENDED_EVSE": "the pile paused the charge",
        "FINISHING": "charge ended, still plugged in",
        "RESERVED": "reserved for an account",
        "UNAVAILABLE": "disabled by the operator or out of service",
        "FAULTED": "fault; see fault_code",
    },
    "StopReason": {
        "NONE": "not stopped / not applicable",
        "USER": "stopped at the pile (button, card)",
        "REMOTE": "STOP_CHARGE from the gateway (app, operator)",
        "FULL": "battery full or SOC target reached",
        "TIMEOUT": "a time limit of the pile or gateway expired",
        "EMERGENCY_STOP": "emergency stop button",
        "LIMIT_REACHED": "energy, amount or time limit of START_CHARGE reached",
        "UNPLUGGED": "connector pulled while charging",
        "INSUFFICIENT_BALANCE": "the account's balance ran out",
        "POWER_LOSS": "mains power lost",
        "EV_DISCONNECTED": "the car ended communication (BMS)",
        "DEVICE_FAULT": "device / control-board fault",
        "OTHER": "any other reason",
    },
    "FaultCode": {
        "NONE": "no fault",
        "EMERGENCY_STOP_PRESSED": "emergency stop pressed",
        "OVER_VOLTAGE": "over-voltage",
        "UNDER_VOLTAGE": "under-voltage",
        "OVER_CURRENT": "over-current",
        "OVER_TEMPERATURE": "over-temperature",
        "INSULATION": "insulation fault",
        "GROUND": "ground fault",
        "BMS_COMMUNICATION": "no or bad communication with the car's BMS",
        "CONTACTOR": "contactor fault",
        "METER": "energy meter fault",
        "CONTROL_BOARD": "control board fault",
        "DOOR_OPEN": "cabinet door open",
        "DEVICE_FAULT": "unspecified device fault (same value as StopReason.DEVICE_FAULT)",
        "OTHER": "any other fault",
    },
    "Channel": {
        "OWN_APP": "operator's own app / mini-program",
        "PARTNER_APP": "a roaming partner's app",
        "CARD": "card swiped at the pile",
        "PASSWORD": "password typed at the pile",
        "VIN": "plug and charge by the car's VIN",
        "OPERATOR": "started by an operator",
    },
    "Result": {
        "OK": "success",
        "UNKNOWN_PILE": "pile id not registered",
        "PILE_DISABLED": "pile (or gun) disabled",
        "UNSUPPORTED_VERSION": "protocol version not supported",
        "AUTH_FAILED": (
            "card or password refused; LOGIN: MAC wrong, replayed or missing (§6.1.1), "
            "or pile id ≠ WebSocket path"
        ),
        "GUN_BUSY": "gun already in use",
        "GUN_FAULTED": "gun faulted",
        "GUN_NOT_PLUGGED": "no car plugged in",
        "UNKNOWN_ACCOUNT": "account not found",
        "ACCOUNT_BUSY": "the account already has an active service",
        "INSUFFICIENT_BALANCE": "balance too low",
        "UNKNOWN_TRANSACTION": "transaction id not known",
        "NOT_SUPPORTED": "command or option not supported",
        "TIMEOUT": "timed out",
        "CLOCK_SKEW": "LOGIN: good MAC but pile_time_ms outside the gateway's window (§6.1.1)",
        "DEVICE_FAULT": "device / control-board fault",
        "OTHER": "any other failure",
    },
    "BillAckStatus": {
        "ACCEPTED": "stored; the pile may forget the bill",
        "DUPLICATE": "already stored; the pile may forget the bill",
        "FLAGGED": "stored with anomalies (bitmask in the ack); the pile may forget it",
        "REJECTED": "not stored; the pile keeps the bill and re-sends it later",
    },
    "NackReason": {
        "BAD_CRC": "CRC mismatch",
        "BAD_LENGTH": "length field impossible (below 4 or above 1019)",
        "UNKNOWN_TYPE": "message type not defined",
        "BAD_FIELD": "a field holds an impossible value (non-BCD id, non-ASCII text, ...)",
        "TRUNCATED": "body shorter than its type's layout",
        "UNEXPECTED": (
            "valid frame that makes no sense now (before LOGIN) or from its sender"
            " (a gateway → pile type sent by a pile)"
        ),
        "UNSUPPORTED_VERSION": "protocol version byte not supported",
        "INTERNAL_ERROR": (
            "valid frame the receiver failed to process (an internal error):"
            " as if unanswered, re-send it later"
        ),
    },
    "TariffKind": {
        "SHARP": "尖 sharp (highest price)",
        "PEAK": "峰 peak",
        "FLAT": "平 flat",
        "VALLEY": "谷 valley (lowest price)",
    },
    "AnomalyBit": {
        "BILL_LOST": "operator code 1: the gateway had settled this bill as lost before it came",
        "BILL_LOST_OFFLINE": "operator code 2: ... lost while the pile was offline",
        "TIME": "operator code 3: a time is missing, out of order or in the future",
        "ENERGY": "operator code 4: energy inconsistent with the meter, its periods or the "
        "pile model's power limit",
        "CHARGE_DURATION": "operator code 5: charge too long, or energy with no charge time",
        "IDLE_DURATION": "operator code 6: idle too long, or service end past the gateway's end",
        "OVERLAP": "operator code 7: the account had another service at the same time",
        "ENERGY_DIFFERS": "operator code 8: energy differs from the gateway's own record",
        "CHARGE_DURATION_DIFFERS": "operator code 9: charge duration differs from the "
        "gateway's record",
        "IDLE_DURATION_DIFFERS": "operator code 10: idle duration differs from the gateway's "
        "record",
        "ENERGY_LOST": "operator code 11: energy flowed but the bill does not show it",
        "AMOUNT_MISMATCH": "an amount differs from the gateway's tariff arithmetic",
        "AMOUNT_NEGATIVE": "an amount is negative",
        "AMOUNT_INCONSISTENT": "total ≠ energy + service + idle fee amounts",
        "UNKNOWN_SESSION": "the gateway has no service with this transaction id",
        "SESSION_CANCELLED": "the gateway had cancelled the service (start refused or timed out)",
        "START_FAILED": "the service's start had failed (START_RESULT not OK)",
        "LATE_START": "energy started after the gateway had given up on the start",
        "STOP_NOT_HONOURED": "energy may have flowed after an acknowledged stop",
        "LATE_BILL": "bill of a cancelled or failed start: idle time not billed past the "
        "gateway's end of the service (§8.2)",
        "LATE_LOGOUT": "LOGOUT came after the gateway had ended the service",
        "ENDED_OFFLINE": "the gateway closed the service while the pile was offline",
        "OTHER": "a reason without a bit of its own (the gateway's log names it)",
    },
}

# --- doc: layout walking ------------------------------------------------------------------

TIMES = "\u00d7"  # multiplication sign, for the doc

_INT_NAMES = {
    "B": "u8", "H": "u16", "I": "u32", "L": "u32", "Q": "u64",
    "b": "i8", "h": "i16", "i": "i32", "l": "i32", "q": "i64",
}  # fmt: skip


def _leaf_type(sub: Any) -> tuple[str, int]:
    """(type name, size) of a fixed-width field."""
    if isinstance(sub, FormatField):
        return _INT_NAMES[sub.fmtstr[-1]], sub.sizeof()
    if isinstance(sub, Text):
        return f"char[{sub.width}]", sub.width
    if isinstance(sub, PileId):
        return "bcd[10]", 10
    if isinstance(sub, TransactionId):
        return "txid[16]", 16
    if isinstance(sub, Bytes) and isinstance(sub.length, int):
        return f"u8[{sub.length}]", sub.length
    raise TypeError(f"no layout for {sub!r}")


def _note(msg_type: MsgType, name: str) -> str:
    return FIELD_NOTES_BY_TYPE.get((msg_type, name), FIELD_NOTES.get(name, ""))


def body_layout(msg_type: MsgType) -> list[tuple[str, str, str, str, str]]:
    """Rows (offset, size, type, field, meaning) of a body; offsets count from the body start."""
    rows: list[tuple[str, str, str, str, str]] = []
    offset: int | str = 0

    def at(extra: int) -> str:
        return str(offset + extra) if isinstance(offset, int) else f"{offset}+{extra}"

    for renamed in BODIES[msg_type].subcons:
        sub, name = renamed.subcon, renamed.name
        if isinstance(sub, Counted):
            elements = list(sub.element.subcons)
            elem_size = sum(_leaf_type(e.subcon)[1] for e in elements)
            if sub.fixed is None:
                rows.append((at(0), "1", "u8", f"{name} count (n)", _note(msg_type, name)))
                base = at(1)
                count = "n"
            else:
                base = at(0)
                count = str(sub.fixed)
                rows.append(
                    (
                        base,
                        f"{sub.fixed}{TIMES}{elem_size}",
                        "record[]",
                        name,
                        _note(msg_type, name),
                    )
                )
            inner = 0
            for element in elements:
                typ, size = _leaf_type(element.subcon)
                rows.append(
                    (
                        f"{base}+{elem_size}·i+{inner}",
                        str(size),
                        typ,
                        f"{name}[i].{element.name}",
                        _note(msg_type, element.name),
                    )
                )
                inner += size
            total = f"{count}{TIMES}{elem_size}" if count == "n" else None
            if total is None:
                offset = (int(base) if base.isdigit() else 0) + sub.fixed * elem_size
            else:
                offset = f"{base}+{total}"
            continue
        typ, size = _leaf_type(sub)
        rows.append((at(0), str(size), typ, name, _note(msg_type, name)))
        offset = offset + size if isinstance(offset, int) else f"{offset}+{size}"
    return rows


def body_size(msg_type: MsgType) -> str:
    decl: Struct = BODIES[msg_type]
    fixed, counted = 0, []
    for renamed in decl.subcons:
        sub = renamed.subcon
        if isinstance(sub, Counted):
            elem = sum(_leaf_type(e.subcon)[1] for e in sub.element.subcons)
            if sub.fixed is None:
                fixed += 1
                counted.append(f"{elem}·n")
            else:
                fixed += sub.fixed * elem
        else:
            fixed += _leaf_type(sub)[1]
    return " + ".join([str(fixed), *counted])


def _enum_for(msg_type: MsgType, name: str) -> type[IntEnum] | None:
    if (msg_type, name) in ENUM_BY_TYPE:
        return ENUM_BY_TYPE[(msg_type, name)]
    return ENUM_OF.get(name)


def _show(msg_type: MsgType, name: str, value: Any) -> str:
    """A field's value as a reader wants it: names for codes, units converted."""
    enum = _enum_for(msg_type, name)
    if isinstance(value, bytes):
        return f"{len(value)} zero bytes" if not any(value) else value.hex()
    if isinstance(value, str):
        if name == "transaction_id":
            return value or "(none)"
        return json.dumps(value)
    if enum is not None:
        try:
            return f"{value} = {enum(value).name}"
        except ValueError:
            return f"{value} (undefined)"
    if name.endswith("_ms"):
        when = datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return f"{value} = {when} UTC"
    if name.endswith("_dwh"):
        return f"{value} = {value / 10_000:.4f} kWh"
    if name.endswith("_fen"):
        return f"{value} = {value / 100:.2f} CNY"
    if name.endswith("_e4"):
        return f"{value} = {value / 10_000:.4f} CNY/kWh"
    if name.endswith("_dv"):
        return f"{value} = {value / 10:.1f} V"
    if name.endswith("_da"):
        return f"{value} = {value / 10:.1f} A"
    if name == "power_w":
        return f"{value} W"
    if name == "soc":
        return "255 = unknown" if value == 255 else f"{value} %"
    if name == "start_minute":
        return f"{value} = {value // 60:02d}:{value % 60:02d} (UTC+8)"
    if name == "heartbeat_interval_s":
        return f"{value} s"
    if name == "anomalies":
        bits = [f"{b.value} {b.name}" for b in AnomalyBit if value & (1 << b.value)]
        return f"{value} = bits " + ", ".join(bits) if bits else f"{value} = none"
    return str(value)


def example_rows(message: Message, seq: int) -> list[tuple[int, str, str, str]]:
    """Rows (offset, bytes hex, field, value) of a whole example frame."""
    frame = encode(message, seq)
    msg_type = MsgType(message.TYPE)
    length = int.from_bytes(frame[1:3], "big")
    rows = [
        (0, frame[0:1].hex(" "), "start", "0x68"),
        (1, frame[1:3].hex(" "), "length", f"{length} = 4 + body {length - 4}"),
        (3, frame[3:5].hex(" "), "seq", str(seq)),
        (5, frame[5:6].hex(" "), "version", str(frame[5])),
        (6, frame[6:7].hex(" "), "type", f"0x{frame[6]:02x} = {msg_type.name}"),
    ]
    pos = 7

    def leaf(sub: Any, label: str, name: str, value: Any) -> None:
        nonlocal pos
        _, size = _leaf_type(sub)
        raw = frame[pos : pos + size]
        shown = f"00 {TIMES}{size}" if size > 16 and not any(raw) else raw.hex(" ")
        rows.append((pos, shown, label, _show(msg_type, name, value)))
        pos += size

    for renamed in BODIES[msg_type].subcons:
        sub, name = renamed.subcon, renamed.name
        value = getattr(message, name)
        if isinstance(sub, Counted):
            if sub.fixed is None:
                rows.append((pos, frame[pos : pos + 1].hex(" "), f"{name} count", str(len(value))))
                pos += 1
            for index, item in enumerate(value):
                for element in sub.element.subcons:
                    label = f"{name}[{index}].{element.name}"
                    leaf(element.subcon, label, element.name, getattr(item, element.name))
            continue
        leaf(sub, name, name, value)
    crc = frame[pos : pos + 2]
    rows.append(
        (pos, crc.hex(" "), "crc", f"0x{int.from_bytes(crc, 'little'):04x} (low byte first)")
    )
    assert pos + 2 == len(frame), "layout walk does not cover the frame"
    return rows


# --- doc: rendering -----------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [str(cell).replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_codes(name: str) -> str:
    enum = CODE_TABLES[name]
    meanings = CODE_MEANINGS[name]
    missing = {m.name for m in enum} - set(meanings)
    if missing:
        raise KeyError(f"CODE_MEANINGS[{name!r}] lacks {sorted(missing)}")
    rows = [(f"{m.value}" if name != "MsgType" else f"0x{m.value:02x}", m.name, meanings[m.name])
            for m in enum]  # fmt: skip
    return _table(("value", "name", "meaning"), rows)


def render_body(type_name: str) -> str:
    msg_type = MsgType[type_name]
    rows = body_layout(msg_type)
    if not rows:
        return "Body: empty (0 bytes); the frame is 9 bytes, length = 4.\n"
    size = body_size(msg_type)
    table = _table(("offset", "size", "type", "field", "unit / meaning"), rows)
    return (
        f"Body: {size} bytes. Offsets count from the first body byte (frame offset 7).\n\n{table}"
    )


def example_for(type_name: str) -> tuple[int, Message]:
    if type_name == "LOGIN_16_DIGIT":
        return LOGIN_16
    return EXAMPLES[MsgType[type_name]]


def render_example(type_name: str) -> str:
    seq, message = example_for(type_name)
    frame = encode(message, seq)
    rows = example_rows(message, seq)
    return f"Example, seq {seq}, {len(frame)} bytes:\n\n```hex\n{frame.hex()}\n```\n\n" + _table(
        ("offset", "bytes", "field", "value"), rows
    )


RENDERERS = {"codes": render_codes, "body": render_body, "example": render_example}
_BLOCK = re.compile(r"(<!-- gen:(\w+):(\w+) -->\n)(.*?)(<!-- /gen -->)", re.DOTALL)


def render_doc(text: str) -> str:
    """``text`` with every generated block re-rendered from the code."""

    def replace(match: re.Match[str]) -> str:
        kind, arg = match.group(2), match.group(3)
        return match.group(1) + RENDERERS[kind](arg) + match.group(5)

    return _BLOCK.sub(replace, text)


def doc_blocks(text: str) -> dict[tuple[str, str], str]:
    return {(m.group(2), m.group(3)): m.group(4) for m in _BLOCK.finditer(text)}


# --- command ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    mode.add_argument("--update", action="store_true", help="overwrite changed vectors too")
    args = parser.parse_args(argv)

    drift = []
    for name, vector in all_vectors().items():
        path = VECTORS_DIR / name
        text = dump(vector)
        if path.exists() and path.read_text() == text:
            continue
        if args.check or (path.exists() and not args.update):
            drift.append(f"{path.relative_to(ROOT)} differs from the codec")
            continue
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")

    doc = DOC.read_text()
    new_doc = render_doc(doc)
    if new_doc != doc:
        if args.check:
            drift.append(f"{DOC.relative_to(ROOT)} has stale generated blocks")
        else:
            DOC.write_text(new_doc)
            print(f"regenerated {DOC.relative_to(ROOT)}")
    for line in drift:
        print(line, file=sys.stderr)
    if drift and not args.check:
        print("existing vectors were kept; use --update for a deliberate change", file=sys.stderr)
    return 1 if drift else 0


if __name__ == "__main__":
    raise SystemExit(main())
