from __future__ import annotations

from gateway.app import Gateway
from protocol.pilegate import MsgType, Result
from tests.gateway.piles import ScriptedPile


async def test_login_and_heartbeat(gateway: Gateway, pile: ScriptedPile) -> None:
    ack = await pile.heartbeat()
    assert ack.message.TYPE == MsgType.HEARTBEAT_ACK
    assert pile.received[0].message.result == Result.OK
