"""One WebSocket binary message holds exactly one frame (§1, pilegate issue 11).

A message with two frames, a frame and a piece of another, or a piece of a frame is rejected
as a whole — logged and counted, no frame of it processed, no reply — like garbage on TCP;
the connection goes on. Checked over a real WebSocket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from gateway.app import Gateway
from protocol.pilegate import (
    CommandAck,
    Frame,
    FrameDecoder,
    GunReport,
    GunStatus,
    Heartbeat,
    Login,
    MsgType,
    NackReason,
    Result,
    StatusChange,
    encode,
)
from protocol.pilegate.codes import COMMANDS
from sessions import GunStatus as Neutral
from tests.gateway.piles import PILE_ID


async def receive(ws: ClientConnection) -> Frame:
    (item,) = FrameDecoder().feed(await asyncio.wait_for(ws.recv(), 3))
    assert isinstance(item, Frame)
    return item


@pytest.fixture
async def ws(gateway: Gateway) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{gateway.ws_port}/pile/{PILE_ID}"
    async with ws_connect(url, subprotocols=["pilegate.v1"]) as ws:  # type: ignore[list-item]
        await ws.send(encode(Login(PILE_ID, "ACME", "DC120", "V2", 1, 2, 0), 1))
        reply = await receive(ws)
        assert reply.message.TYPE == MsgType.LOGIN_ACK and reply.message.result == Result.OK
        # The login configuration (§8.1), each command acknowledged; it ends with SET_IDLE_FEE.
        while True:
            command = await receive(ws)
            assert command.message.TYPE in COMMANDS, command
            ack = CommandAck(command.message.TYPE, 0, Result.OK)
            await ws.send(encode(ack, command.seq))
            if command.message.TYPE == MsgType.SET_IDLE_FEE:
                break
        yield ws


def status_change(gun: int, status: GunStatus, seq: int) -> bytes:
    return encode(StatusChange(gun, status, 0, 1_735_700_400_000), seq)


def heartbeat(seq: int) -> bytes:
    return encode(Heartbeat((GunReport(1, GunStatus.AVAILABLE, 0, 0, 0, 0, 0, 255),)), seq)


async def assert_next_reply_is_the_heartbeats(ws: ClientConnection, seq: int) -> None:
    """Nothing was answered for what came before: the next reply is this heartbeat's."""
    await ws.send(heartbeat(seq))
    reply = await receive(ws)
    assert (reply.message.TYPE, reply.seq) == (MsgType.HEARTBEAT_ACK, seq)


async def test_a_message_with_two_frames_is_rejected_as_a_whole(
    gateway: Gateway, ws: ClientConnection
) -> None:
    two = status_change(1, GunStatus.PREPARING, 2) + status_change(2, GunStatus.PREPARING, 3)
    await ws.send(two)
    await assert_next_reply_is_the_heartbeats(ws, 4)
    assert gateway.metrics.decode_errors == {"bad_field": 1}
    guns = gateway.piles[PILE_ID].guns
    assert guns[2].reported is Neutral.AVAILABLE  # the second frame was not processed either


async def test_a_frame_with_a_piece_of_the_next_is_rejected_and_not_joined(
    gateway: Gateway, ws: ClientConnection
) -> None:
    second = status_change(2, GunStatus.PREPARING, 3)
    await ws.send(status_change(1, GunStatus.PREPARING, 2) + second[:10])
    await ws.send(second[10:])  # the rest, alone, is garbage: messages are never joined
    await assert_next_reply_is_the_heartbeats(ws, 4)
    assert gateway.metrics.decode_errors == {"bad_field": 1, "garbage": 1}


async def test_an_incomplete_message_is_rejected(gateway: Gateway, ws: ClientConnection) -> None:
    await ws.send(status_change(1, GunStatus.PREPARING, 2)[:-1])
    await assert_next_reply_is_the_heartbeats(ws, 3)
    assert gateway.metrics.decode_errors == {"truncated_body": 1}


async def test_one_frame_with_a_bad_crc_is_nacked(gateway: Gateway, ws: ClientConnection) -> None:
    frame = bytearray(status_change(1, GunStatus.PREPARING, 9))
    frame[-1] ^= 0xFF
    await ws.send(bytes(frame))
    nack = await receive(ws)
    assert (nack.message.TYPE, nack.seq) == (MsgType.NACK, 9)
    assert nack.message.reason == NackReason.BAD_CRC
    await assert_next_reply_is_the_heartbeats(ws, 10)


async def test_one_frame_per_message_is_answered(ws: ClientConnection) -> None:
    await ws.send(status_change(1, GunStatus.PREPARING, 2))
    ack = await receive(ws)
    assert (ack.message.TYPE, ack.seq) == (MsgType.ACK, 2)
