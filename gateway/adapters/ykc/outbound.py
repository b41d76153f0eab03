"""The core's commands as YKC frames, and the pile's answers as `Reply`s: pure translation.

    StartService  0x34 remote start (trade number, card shown, balance); no answer as such:
                  0x33 is the start's result (connection.py)
    StopService   0x36 remote stop -> 0x35
    SetTariff     0x58 billing model (tariff.py) -> 0x57
    SyncTime      0x56 time sync, the pile's wall clock -> 0x55
    Reboot        0x92, 1 now (hard) or 2 when idle -> 0x91

SetAvailability has no YKC frame (the gateway enforces it by refusing starts); QueryBills and
SetIdleFee have none either.
"""

from __future__ import annotations

from datetime import tzinfo

from gateway.adapters.ykc import codes
from gateway.adapters.ykc.bills import gun_code, gun_number
from gateway.adapters.ykc.tariff import billing_model
from gateway.dialect import (
    Command,
    Reply,
    SetTariff,
    StartService,
    StopService,
    SyncTime,
)
from gateway.dialect import Reboot as RebootCommand
from protocol.ykc import (
    Cp56Time,
    Message,
    Reboot,
    RebootReply,
    RemoteStart,
    RemoteStartResult,
    RemoteStop,
    RemoteStopResult,
    SetModel,
    SetModelReply,
    TimeSync,
)

NO_CARD = "0" * 16


def message_for(command: Command, pile: str, tz: tzinfo) -> Message | None:
    """The frame of a command, or None when YKC has none. Raises ModelNotExpressible for a
    tariff no billing model can carry."""
    if isinstance(command, StartService):
        return RemoteStart(
            command.transaction_id, pile, gun_code(command.gun),
            logical_card(command.account), NO_CARD, max(0, command.balance_fen),
        )  # fmt: skip
    if isinstance(command, StopService):
        return RemoteStop(pile, gun_code(command.gun))
    if isinstance(command, SetTariff):
        model = billing_model(command.tariff)
        return SetModel(pile=pile, **model.message_fields())  # type: ignore[arg-type]  # fields typed by name
    if isinstance(command, SyncTime):
        return TimeSync(pile, Cp56Time.from_epoch_ms(command.now_ms, tz))
    if isinstance(command, RebootCommand):
        return Reboot(pile, 1 if command.hard else 2)
    return None


def reply_of(m: Message) -> Reply:
    """The pile's answer in the core's words: accepted, and its reason by name."""
    if isinstance(m, RemoteStartResult):
        ok = m.result == 1
        status = "ok" if ok else codes.fail_name(codes.START_FAIL, m.fail_reason)
        return Reply(ok, status, gun_number(m.gun))
    if isinstance(m, RemoteStopResult):
        ok = m.result == 1
        status = "ok" if ok else codes.fail_name(codes.STOP_FAIL, m.fail_reason)
        return Reply(ok, status, gun_number(m.gun))
    if isinstance(m, SetModelReply | RebootReply):
        return Reply(m.result == 1, "ok" if m.result == 1 else "failed")
    return Reply(True, "ok")  # 0x55: the pile echoes the time it now keeps


def logical_card(account: str) -> str:
    """The card number a pile shows: the account's digits when it has at most 16, else zeros."""
    return account.rjust(16, "0") if account.isdigit() and len(account) <= 16 else NO_CARD


def card_token(card: str) -> str:
    """A card number as accounts keep it: the pile's 8 bytes without the zero bytes it pads
    them with on the left ("00000000D14B0A54" -> "D14B0A54"), never shorter than 4 bytes."""
    while len(card) > 8 and card.startswith("00"):
        card = card[2:]
    return card
