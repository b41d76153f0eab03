"""Field cases end to end (docs/field-cases.md), over real sockets."""

from __future__ import annotations

from billing.anomalies import AnomalyCode
from gateway.app import Gateway
from protocol.pilegate import FaultCode, GunStatus, Logout, MsgType, Result, StartResult, StopReason
from sessions import Phase
from tests import reads
from tests.gateway.conftest import ACCOUNT, FakeClock
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for, phase, wait_for


async def start_charging(gateway: Gateway, pile: ScriptedPile, gun: int = 1) -> str:
    result = await gateway.start_charge(PILE_ID, gun, ACCOUNT, "own_app")
    assert result.ok, result
    tx = result.transaction_id
    assert tx is not None
    pile.send(StartResult(gun, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await wait_for(lambda: phase(gateway, gun) is Phase.CHARGING)
    pile.status[gun] = GunStatus.CHARGING
    return tx


async def test_case3_a_single_fault_sample_does_not_end_the_charge(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await start_charging(gateway, pile)
    await pile.heartbeat(power_w=60_000)
    pile.status[1] = GunStatus.FAULTED
    await pile.heartbeat()
    pile.status[1] = GunStatus.CHARGING
    await pile.heartbeat(power_w=60_000)
    assert phase(gateway) is Phase.CHARGING
    assert not pile.of_type(MsgType.STOP_CHARGE)


async def test_case6_a_start_acknowledged_too_late_is_stopped(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """The partner's start timed out; the pile starts anyway: the gateway stops it."""
    pile.auto_ack = lambda frame: None  # the pile never acknowledges the start command
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "partner_app")
    assert result.outcome.value == "timed_out"
    tx = result.transaction_id
    assert tx is not None and phase(gateway) is Phase.CANCELLED
    pile.auto_ack = lambda frame: Result.OK
    pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))  # late start
    stop = await pile.expect(MsgType.STOP_CHARGE)
    assert stop.message.transaction_id == tx
    assert gateway.metrics.alarms["start_late_after_timeout"] == 1


async def test_lost_bill_gets_code_1_and_a_late_bill_resolves_it(
    gateway: Gateway, pile: ScriptedPile, clock: FakeClock
) -> None:
    tx = await start_charging(gateway, pile)
    pile.status[1] = GunStatus.AVAILABLE
    pile.send(Logout(1, tx, StopReason.USER, T0 + 600_000))
    await wait_for(lambda: phase(gateway) is Phase.CLOSED)
    bill_wait_s = gateway.config.sessions.bill_wait_s  # the production default, 30 min
    await clock.advance(gateway, bill_wait_s - 1)
    session = gateway.piles[PILE_ID].guns[1].session
    assert session is not None and not session.bill_wait_alarmed  # not yet
    await clock.advance(gateway, 1)
    query = await pile.expect(MsgType.QUERY_BILLS)  # the gateway asks for it
    assert query.message.gun == 1
    await gateway.storage.flush()
    session_id = gateway.piles[PILE_ID].guns[1].session.session_id  # type: ignore[union-attr]
    lost = await gateway.storage.anomalies(session_id=session_id, code=AnomalyCode.BILL_LOST)
    assert [a.status for a in lost] == ["open"]

    seq = pile.send(bill_for(tx))
    await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert phase(gateway) is Phase.SETTLED
    (resolved,) = await gateway.storage.anomalies(session_id=session_id, code=1)
    assert resolved.status == "resolved" and resolved.resolution is not None
    history = await reads.anomaly_history(gateway.storage, resolved.anomaly_id)
    assert len(history) >= 2  # opened, then resolved by the late bill


async def test_shutdown_acknowledges_a_bill_in_flight(gateway: Gateway, pile: ScriptedPile) -> None:
    tx = await start_charging(gateway, pile)
    seq = pile.send(bill_for(tx))
    # The gateway has read the bill; its commit is still to come when the shutdown starts.
    await wait_for(lambda: gateway.metrics.frames_in["bill"] == 1)
    await gateway.stop(grace_s=5)
    ack = await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert ack.message.transaction_id == tx


async def test_case7_sessions_survive_a_gateway_restart(db_url: str) -> None:
    """A gateway restart must not leave a service (and its account) open forever."""
    from tests.gateway.conftest import gateway_config, start_gateway

    config = gateway_config()
    first = await start_gateway(db_url, config)
    pile = ScriptedPile()
    try:
        await pile.login(first.tcp_port)
        tx = await start_charging(first, pile)
    finally:
        await pile.close()
        await first.stop(grace_s=2)

    second = await start_gateway(db_url, config, register=False)
    pile = ScriptedPile()
    try:
        await pile.login(second.tcp_port)
        assert phase(second) is Phase.CHARGING  # restored from the database
        pile.status[1] = GunStatus.AVAILABLE  # the car left while the gateway was down
        await pile.heartbeat()
        await wait_for(lambda: phase(second) is Phase.CLOSED)
        await second.background_done()
        assert await reads.active_service(second.storage, ACCOUNT) is None  # account freed
        seq = pile.send(bill_for(tx))
        await pile.expect(MsgType.BILL_ACK, seq=seq)
        assert phase(second) is Phase.SETTLED
    finally:
        await pile.close()
        await second.stop(grace_s=2)


async def test_frames_queued_behind_a_bill_are_processed_after_the_pile_hangs_up(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """Nothing already received is lost: a LOGOUT right behind a bill, then a hang-up."""
    tx = await start_charging(gateway, pile)
    pile.status[1] = GunStatus.AVAILABLE
    pile.send(bill_for(tx))
    pile.send(Logout(1, tx, StopReason.USER, T0 + 700_000))
    await pile.close()
    await wait_for(lambda: phase(gateway) is Phase.SETTLED)
    assert await reads.find_bill(gateway.storage, PILE_ID, tx) is not None
