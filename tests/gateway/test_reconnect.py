"""A pile that reconnects charges again at once (pilegate issue 10), over real sockets.

The guns were held offline from the disconnect until the pile's first heartbeat after the new
login, which comes up to a whole heartbeat interval later: every start in that window was an
impossible transition, and a start at the pile left its account claimed with no session.
"""

from __future__ import annotations

from gateway.app import Gateway
from gateway.commands import Outcome
from protocol.pilegate import (
    AuthRequest,
    Channel,
    FaultCode,
    GunStatus,
    Logout,
    MsgType,
    Result,
    StartResult,
    StopReason,
    StopResult,
)
from sessions import Phase
from tests import reads
from tests.gateway.conftest import ACCOUNT, CARD
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for, phase, wait_for

OTHER_ACCOUNT = "13900000000"


def availability(gateway: Gateway) -> dict[int, str]:
    return {g: s.availability.value for g, s in gateway.piles[PILE_ID].guns.items()}


async def charge_once(gateway: Gateway, pile: ScriptedPile, gun: int, account: str) -> str:
    """Remote start, charge, stop, unplug and bill one service; returns its transaction id."""
    result = await gateway.start_charge(PILE_ID, gun, account, "own_app")
    assert result.outcome is Outcome.ACCEPTED, result
    tx = result.transaction_id
    assert tx is not None
    seq = pile.send(StartResult(gun, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await pile.expect(MsgType.ACK, seq=seq)
    assert (await gateway.stop_charge(PILE_ID, gun)).outcome is Outcome.ACCEPTED
    pile.send(StopResult(gun, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
    await wait_for(lambda: phase(gateway, gun) is Phase.FINISHED)
    pile.send(Logout(gun, tx, StopReason.REMOTE, T0 + 660_000))
    await wait_for(lambda: phase(gateway, gun) is Phase.CLOSED)
    seq = pile.send(bill_for(tx))
    await pile.expect(MsgType.BILL_ACK, seq=seq)
    return tx


async def reconnect(gateway: Gateway, pile: ScriptedPile) -> ScriptedPile:
    await pile.close()
    await wait_for(lambda: not gateway.piles[PILE_ID].online)
    assert availability(gateway) == {1: "offline", 2: "offline"}
    again = ScriptedPile()
    await again.login(gateway.tcp_port)  # and no heartbeat yet: it may be 30 s away
    return again


async def test_a_reconnected_pile_starts_at_once_remotely_and_at_the_pile(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await pile.heartbeat()
    await charge_once(gateway, pile, 1, ACCOUNT)
    pile = await reconnect(gateway, pile)
    try:
        assert availability(gateway) == {1: "available", 2: "available"}

        # Remote start on gun 2, before any heartbeat of the new connection.
        result = await gateway.start_charge(PILE_ID, 2, OTHER_ACCOUNT, "own_app")
        assert result.outcome is Outcome.ACCEPTED, result
        seq = pile.send(StartResult(2, result.transaction_id, Result.OK, FaultCode.NONE, T0, 0))
        await pile.expect(MsgType.ACK, seq=seq)
        assert phase(gateway, 2) is Phase.CHARGING

        # Card at the pile on gun 1.
        seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
        reply = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
        assert reply.result == Result.OK and reply.account == ACCOUNT
        assert phase(gateway, 1) is Phase.AUTHORISED
        await gateway.background_done()
        holder = await reads.active_service(gateway.storage, ACCOUNT)
        assert holder is not None and holder.session_id == reply.transaction_id

        # The first heartbeat reconciles; availability is what the pile reports.
        pile.status[1], pile.status[2] = GunStatus.PREPARING, GunStatus.CHARGING
        await pile.heartbeat(power_w=60_000)
        assert availability(gateway) == {1: "busy", 2: "busy"}
    finally:
        await pile.close()


async def test_after_a_reconnect_availability_follows_the_pile_reports(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await pile.heartbeat()
    pile = await reconnect(gateway, pile)
    try:
        pile.status[2] = GunStatus.FAULTED
        for _ in range(gateway.config.sessions.fault_confirm_samples):
            await pile.heartbeat()
        assert availability(gateway) == {1: "available", 2: "faulted"}
        pile.status[2] = GunStatus.AVAILABLE
        await pile.heartbeat()
        assert availability(gateway) == {1: "available", 2: "available"}
        # A second charge after the reconnect, whole.
        await charge_once(gateway, pile, 2, ACCOUNT)
    finally:
        await pile.close()
