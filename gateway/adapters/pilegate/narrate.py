"""Protocol v1 journal frames in words, for the operator's frame listings and reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.reports import CODES, format_ms
from protocol.pilegate import BillAckStatus, Channel, GunStatus, MsgType, Result, StopReason


def _enum(kind: type, value: Any) -> str:
    try:
        return kind(value).name
    except (ValueError, TypeError):
        return str(value)


def _kwh(dwh: Any) -> str:
    return f"{(dwh or 0) / 10_000:.3f} kWh"


def _cny(fen: Any) -> str:
    return f"{(fen or 0) / 100:.2f} CNY"


def describe_frame(type_name: str, fields: Mapping[str, Any]) -> str:
    """The decoded meaning of a journal frame in words."""
    f = fields
    tx = f.get("transaction_id") or ""
    gun = f.get("gun")
    t = type_name
    if t.startswith("INVALID:"):
        return f"undecodable frame ({f.get('error')}): {f.get('detail', '')}"
    if t == "LOGIN":
        return (
            f"pile logged in: {f.get('vendor')} {f.get('model')} firmware {f.get('firmware')}, "
            f"{f.get('gun_count')} guns, pile clock {format_ms(f.get('pile_time_ms'))}"
        )
    if t == "LOGIN_ACK":
        return f"login answered {_enum(Result, f.get('result'))}"
    if t == "LOGOUT":
        return (
            f"service ended (logout/unplug) on gun {gun}, tx {tx}, reason "
            f"{_enum(StopReason, f.get('reason'))} at pile time {format_ms(f.get('time_ms'))}"
        )
    if t == "HEARTBEAT":
        guns = f.get("guns") or []
        states = ", ".join(f"gun {g.get('gun')} {_enum(GunStatus, g.get('status'))}" for g in guns)
        return f"heartbeat: {states}"
    if t == "STATUS_CHANGE":
        return f"gun {gun} is now {_enum(GunStatus, f.get('status'))}" + (
            f" (fault {f.get('fault_code')})" if f.get("fault_code") else ""
        )
    if t == "AUTH_REQUEST":
        return f"authorisation request on gun {gun} by {_enum(Channel, f.get('channel'))}"
    if t == "AUTH_RESULT":
        return f"authorisation {_enum(Result, f.get('result'))} for {f.get('account')}, tx {tx}"
    if t == "START_CHARGE":
        return (
            f"start command: gun {gun}, account {f.get('account')}, "
            f"channel {_enum(Channel, f.get('channel'))}, tx {tx}"
        )
    if t == "START_RESULT":
        return (
            f"start result {_enum(Result, f.get('result'))} on gun {gun}, meter "
            f"{_kwh(f.get('meter_dwh'))} at pile time {format_ms(f.get('time_ms'))}"
        )
    if t == "STOP_CHARGE":
        return f"stop command: gun {gun}, tx {tx}, reason {_enum(StopReason, f.get('reason'))}"
    if t == "STOP_RESULT":
        return (
            f"charge stopped ({_enum(Result, f.get('result'))}) on gun {gun}, reason "
            f"{_enum(StopReason, f.get('stop_reason'))} at pile time {format_ms(f.get('time_ms'))}"
        )
    if t == "METER_VALUES":
        return f"meter values gun {gun}: {_kwh(f.get('energy_dwh'))} so far, {f.get('power_w')} W"
    if t == "VIN":
        return f"vehicle {f.get('vin')} on gun {gun}"
    if t == "BILL":
        return (
            f"bill for tx {tx}: {_kwh(f.get('energy_dwh'))}, "
            f"total {_cny(f.get('total_amount_fen'))}"
            f", charge {format_ms(f.get('charge_start_ms'))} .. {format_ms(f.get('charge_end_ms'))}"
            f", service end {format_ms(f.get('service_end_ms'))}"
        )
    if t == "BILL_ACK":
        mask = int(f.get("anomalies") or 0)
        codes = [str(c) for c in CODES if mask & (1 << c)]
        return f"bill acknowledged {_enum(BillAckStatus, f.get('status'))}" + (
            f", anomalies {'+'.join(codes)}" if codes else ""
        )
    if t == "COMMAND_ACK":
        return f"pile answered {_enum(MsgType, f.get('command'))}: {_enum(Result, f.get('result'))}"
    if t == "ACK":
        return f"acknowledged {_enum(MsgType, f.get('acked_type'))}"
    if t == "NACK":
        return f"refused {_enum(MsgType, f.get('nacked_type'))} (reason {f.get('reason')})"
    if t in ("ENABLE", "DISABLE", "QUERY_BILLS"):
        return f"{t.lower().replace('_', ' ')} command (gun {gun or 'all'})"
    if t == "SET_TARIFF":
        return f"tariff {f.get('tariff_id')} from {format_ms(f.get('effective_from_ms'))}"
    simple = {k: v for k, v in f.items() if not isinstance(v, list | dict)}
    return " ".join(f"{k}={v}" for k, v in simple.items())
