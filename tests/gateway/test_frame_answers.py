"""Every request a pile sends gets an answer, whatever goes wrong (pilegate issues 10, 11).

Over real sockets: events naming a gun the pile does not have, types only the gateway may
send, a pile's NACK of a command, and failures injected into the handling of each kind of
request (the answer is then NACK INTERNAL_ERROR, §4.8, or BILL_ACK REJECTED for a bill that
could not be stored).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.adapters.pilegate import inbound
from gateway.app import Gateway
from gateway.commands import Outcome
from protocol.pilegate import (
    Ack,
    AuthRequest,
    BillAckStatus,
    Channel,
    FaultCode,
    Frame,
    GunReport,
    GunStatus,
    Heartbeat,
    HeartbeatAck,
    MeterValues,
    MsgType,
    Nack,
    NackReason,
    Result,
    StartCharge,
    StartResult,
    StatusChange,
    StopReason,
    StopResult,
    Vin,
)
from protocol.pilegate.codes import REPLIES
from sessions import Authorised, StartConfirmed
from tests import reads
from tests.gateway.conftest import ACCOUNT, CARD
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for

TX = "0190f3a2b4c87d01a2b3c4d5e6f70819"


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


def send_heartbeat(pile: ScriptedPile) -> int:
    report = GunReport(1, GunStatus.AVAILABLE, 0, 1_000_000, 0, 0, 0, 255)
    return pile.send(Heartbeat((report,)))


async def answer(pile: ScriptedPile, seq: int) -> Frame:
    """The one reply to the pile's frame with this seq, whatever its type."""
    # Replies come in order: once a heartbeat sent behind it is acknowledged, it is here.
    await pile.expect(MsgType.HEARTBEAT_ACK, seq=send_heartbeat(pile))
    # Gateway commands number their own seqs: a reply is one of the REPLIES types.
    replies = [
        f
        for f in pile.received
        if f.seq == seq and f.message.TYPE in REPLIES and f.message.TYPE != MsgType.LOGIN_ACK
    ]
    assert len(replies) == 1, replies
    return replies[0]


def failing_on(gateway: Gateway, event_type: type) -> Any:
    """The gateway's session machine, failing on one type of event."""
    real_step = gateway.step

    def step(state: Any, event: Any, now_ms: int) -> Any:
        if isinstance(event, event_type):
            raise RuntimeError("injected failure")
        return real_step(state, event, now_ms)

    return step


@pytest.mark.parametrize(
    "event",
    [
        StartResult(3, TX, Result.OK, FaultCode.NONE, T0, 1_000_000),
        StopResult(3, TX, Result.OK, StopReason.REMOTE, T0, 1_000_000),
        MeterValues(3, TX, T0, 1_000_000, 0, 3800, 0, 0, 255),
        StatusChange(3, GunStatus.PREPARING, 0, T0),
        Vin(3, TX, "LSVAU2180N2183294"),
    ],
    ids=lambda m: type(m).__name__,
)
async def test_an_event_naming_a_gun_the_pile_lacks_is_nacked_bad_field(
    gateway: Gateway, pile: ScriptedPile, event: Any
) -> None:
    seq = pile.send(event)
    reply = (await answer(pile, seq)).message
    assert isinstance(reply, Nack)
    assert (reply.nacked_type, reply.reason) == (event.TYPE, NackReason.BAD_FIELD)
    assert set(gateway.piles[PILE_ID].guns) == {1, 2}


@pytest.mark.parametrize(
    "message",
    [StartCharge(1, TX, ACCOUNT, Channel.OWN_APP, 100), Ack(MsgType.LOGOUT), HeartbeatAck()],
    ids=lambda m: type(m).__name__,
)
async def test_a_gateway_message_from_a_pile_is_nacked_unexpected(
    pile: ScriptedPile, message: Any
) -> None:
    seq = pile.send(message)
    reply = (await answer(pile, seq)).message
    assert isinstance(reply, Nack)
    assert (reply.nacked_type, reply.reason) == (message.TYPE, NackReason.UNEXPECTED)


async def test_a_pile_nack_refuses_the_command_and_is_not_answered(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    pile.auto_ack = None  # the pile cannot read START_CHARGE: it NACKs it

    async def nack_start() -> None:
        start = await pile.expect(MsgType.START_CHARGE)
        pile.send(Nack(MsgType.START_CHARGE, NackReason.BAD_FIELD), start.seq)

    nacking = asyncio.create_task(nack_start())
    result = await asyncio.wait_for(gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app"), 1.5)
    await nacking
    assert result.outcome is Outcome.REJECTED
    await pile.heartbeat()
    assert pile.of_type(MsgType.NACK) == []  # a NACK is never answered


# --- injected failures -----------------------------------------------------------------------


async def test_a_failing_event_is_answered_internal_error(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound, "report_event", boom)
    seq = pile.send(StatusChange(1, GunStatus.PREPARING, 0, T0))
    reply = (await answer(pile, seq)).message
    assert isinstance(reply, Nack)
    assert (reply.nacked_type, reply.reason) == (MsgType.STATUS_CHANGE, NackReason.INTERNAL_ERROR)


async def test_a_failing_session_machine_is_answered_internal_error(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "step", failing_on(gateway, StartConfirmed))
    seq = pile.send(StartResult(1, TX, Result.OK, FaultCode.NONE, T0, 1_000_000))
    reply = (await answer(pile, seq)).message
    assert isinstance(reply, Nack) and reply.reason == NackReason.INTERNAL_ERROR


async def test_a_failing_heartbeat_is_answered_internal_error(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.piles[PILE_ID], "reports", boom)
    seq = send_heartbeat(pile)
    nack = await pile.expect(MsgType.NACK, seq=seq)
    assert nack.message.reason == NackReason.INTERNAL_ERROR
    monkeypatch.undo()
    await pile.heartbeat()  # the connection goes on


async def test_a_failing_authorisation_is_answered_and_frees_the_account(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "step", failing_on(gateway, Authorised))
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    nack = await pile.expect(MsgType.NACK, seq=seq)
    assert (nack.message.nacked_type, nack.message.reason) == (
        MsgType.AUTH_REQUEST,
        NackReason.INTERNAL_ERROR,
    )
    await gateway.background_done()
    assert await reads.active_service(gateway.storage, ACCOUNT) is None  # the claim was released
    monkeypatch.undo()
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    ok = await pile.expect(MsgType.AUTH_RESULT, seq=seq)
    assert ok.message.result == Result.OK


async def test_a_failing_bill_handler_is_answered_internal_error(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "store_bill", boom)
    seq = pile.send(bill_for(TX))
    nack = await pile.expect(MsgType.NACK, seq=seq)
    assert (nack.message.nacked_type, nack.message.reason) == (
        MsgType.BILL,
        NackReason.INTERNAL_ERROR,
    )


async def test_a_bill_that_cannot_be_stored_is_rejected_so_the_pile_keeps_it(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def storage_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(gateway.storage, "store_bill", storage_down)
    seq = pile.send(bill_for(TX))
    ack = await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert (ack.message.transaction_id, ack.message.status) == (TX, BillAckStatus.REJECTED)
    monkeypatch.undo()
    seq = pile.send(bill_for(TX))  # re-sent later: stored now
    again = await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert again.message.status in (BillAckStatus.ACCEPTED, BillAckStatus.FLAGGED)
