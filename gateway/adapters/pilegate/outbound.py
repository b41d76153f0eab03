"""The core's commands as protocol v1 messages, and v1's COMMAND_ACK as the core's `Reply`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.adapters.pilegate.codes import STOP_REASON_CODE, channel_code, result_name
from gateway.adapters.pilegate.tariffs import idle_fee_message, tariff_message
from gateway.dialect import (
    Command,
    QueryBills,
    Reply,
    SetAvailability,
    SetIdleFee,
    SetTariff,
    StartService,
    StopService,
    SyncTime,
)
from protocol.pilegate import CommandAck, Disable, Enable, Message, Result, StartCharge, StopCharge
from protocol.pilegate import QueryBills as QueryBillsMessage
from protocol.pilegate import StopReason as WireStopReason
from protocol.pilegate import TimeSync as TimeSyncMessage


def _start(c: StartService) -> Message:
    return StartCharge(c.gun, c.transaction_id, c.account, channel_code(c.channel), c.balance_fen)


def _stop(c: StopService) -> Message:
    reason = STOP_REASON_CODE.get(c.reason, WireStopReason.OTHER)
    return StopCharge(c.gun, c.transaction_id or "", reason)


def _availability(c: SetAvailability) -> Message:
    return Enable(c.gun) if c.enabled else Disable(c.gun, 0)


#: Every command v1 can express (it has no reboot).
_ENCODERS: dict[type, Callable[[Any], Message]] = {
    StartService: _start,
    StopService: _stop,
    SetAvailability: _availability,
    QueryBills: lambda c: QueryBillsMessage(c.gun),
    SetTariff: lambda c: tariff_message(c.tariff),
    SetIdleFee: lambda c: idle_fee_message(c.rule),
    SyncTime: lambda c: TimeSyncMessage(c.now_ms),
}


def supports(command: type[Command]) -> bool:
    return command in _ENCODERS


def message_of(command: Command) -> Message | None:
    """The v1 message of a command, None when v1 cannot express it."""
    encode = _ENCODERS.get(type(command))
    return None if encode is None else encode(command)


def reply_of(ack: CommandAck) -> Reply:
    """The pile's answer: accepted on OK; the result's name as the status either way."""
    return Reply(ack.result == Result.OK, result_name(ack.result), ack.gun)
