"""The gateway over real sockets on 127.0.0.1: what a pile and an operator see."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from gateway.app import Gateway
from gateway.commands import Outcome
from protocol.pilegate import (
    AuthRequest,
    Bill,
    BillAckStatus,
    Channel,
    FaultCode,
    FrameDecoder,
    GunStatus,
    Login,
    Logout,
    MsgType,
    NackReason,
    Result,
    StartResult,
    StopReason,
    StopResult,
    encode,
)
from sessions import Phase
from tests import reads
from tests.gateway.conftest import ACCOUNT, CARD, FakeClock, gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile

T0 = 1_735_700_400_000
START_TIMEOUT_S = gateway_config().sessions.start_timeout_s  # the production default, 300 s


def bill_for(tx: str, *, energy: int = 100_000, start: int = T0, end: int = T0 + 600_000) -> Bill:
    return Bill(
        tx, 1, Channel.OPERATOR, ACCOUNT, start - 30_000, start, end, end + 60_000,
        1_000_000, 1_000_000 + energy, energy, 0, 0, energy, 0,
        742, 800, 0, 1542, StopReason.REMOTE, "LSVAU2180N2183294",
    )  # fmt: skip


async def wait_for(predicate: Callable[[], object], timeout: float = 3.0) -> None:
    """Poll the gateway's in-memory state until predicate() holds."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not reached")


def phase(gateway: Gateway, gun: int = 1) -> Phase | None:
    session = gateway.piles[PILE_ID].guns[gun].session
    return None if session is None else session.phase


async def test_remote_start_charge_stop_unplug_bill(gateway: Gateway, pile: ScriptedPile) -> None:
    await pile.heartbeat()
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.outcome is Outcome.ACCEPTED, result
    tx = result.transaction_id
    assert tx is not None and len(tx) == 32
    start = pile.of_type(MsgType.START_CHARGE)[0].message
    assert (start.gun, start.transaction_id, start.account) == (1, tx, ACCOUNT)
    assert phase(gateway) is Phase.STARTING

    seq = pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await pile.expect(MsgType.ACK, seq=seq)
    assert phase(gateway) is Phase.CHARGING
    pile.status[1] = GunStatus.CHARGING
    await pile.heartbeat(power_w=60_000)

    assert (await gateway.stop_charge(PILE_ID, 1)).outcome is Outcome.ACCEPTED
    stop = await pile.expect(MsgType.STOP_CHARGE)
    assert stop.message.transaction_id == tx
    pile.status[1] = GunStatus.FINISHING
    pile.send(StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
    await wait_for(lambda: phase(gateway) is Phase.FINISHED)

    pile.status[1] = GunStatus.AVAILABLE
    pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
    await wait_for(lambda: phase(gateway) is Phase.CLOSED)
    await gateway.background_done()
    assert await reads.active_service(gateway.storage, ACCOUNT) is None  # the account is free again

    seq = pile.send(bill_for(tx))
    ack = await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert ack.message.transaction_id == tx
    assert ack.message.status in (BillAckStatus.ACCEPTED, BillAckStatus.FLAGGED)
    assert phase(gateway) is Phase.SETTLED
    stored = await reads.find_bill(gateway.storage, PILE_ID, tx)
    assert stored is not None and stored["energy_dwh"] == 100_000

    # A re-sent bill is acknowledged as a duplicate and stored once.
    seq = pile.send(bill_for(tx))
    again = await pile.expect(MsgType.BILL_ACK, seq=seq)
    assert again.message.status == BillAckStatus.DUPLICATE
    assert await reads.count_bills(gateway.storage, PILE_ID) == 1


async def test_start_timeout_stops_and_frees_the_account(
    gateway: Gateway, pile: ScriptedPile, clock: FakeClock
) -> None:
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.ok
    await clock.advance(gateway, START_TIMEOUT_S - 1)
    assert phase(gateway) is Phase.STARTING  # not yet
    await clock.advance(gateway, 1)
    await wait_for(lambda: phase(gateway) is Phase.CANCELLED)
    stop = await pile.expect(MsgType.STOP_CHARGE)
    assert stop.message.transaction_id == result.transaction_id
    session = gateway.piles[PILE_ID].guns[1].session
    assert session is not None and session.end_reason == "start_timeout"
    await gateway.background_done()
    assert await reads.active_service(gateway.storage, ACCOUNT) is None
    # The account can start elsewhere now.
    assert (await gateway.start_charge(PILE_ID, 2, ACCOUNT, "own_app")).ok


async def test_stop_not_honoured_resends_stop_and_alarms(
    gateway: Gateway, pile: ScriptedPile, clock: FakeClock
) -> None:
    """Field case 2: the pile acks the stop after the start timeout but charges anyway."""
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    await clock.advance(gateway, START_TIMEOUT_S)
    await wait_for(lambda: phase(gateway) is Phase.CANCELLED)
    await pile.expect(MsgType.STOP_CHARGE)
    pile.status[1] = GunStatus.CHARGING
    for _ in range(3):
        await pile.heartbeat(power_w=60_000)
    await wait_for(lambda: len(pile.of_type(MsgType.STOP_CHARGE)) >= 2)
    assert gateway.metrics.alarms["charging_without_session"] >= 1
    # The account is held again while the pile reports charging: no second start elsewhere.
    await gateway.background_done()
    holder = await reads.active_service(gateway.storage, ACCOUNT)
    assert holder is not None and holder.session_id == result.transaction_id
    second = await gateway.start_charge(PILE_ID, 2, ACCOUNT, "own_app")
    assert second.outcome is Outcome.REJECTED and second.reason == "account_busy"


async def test_card_authorisation_at_the_pile(gateway: Gateway, pile: ScriptedPile) -> None:
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    reply = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert (
        reply.result == Result.OK and reply.account == ACCOUNT and len(reply.transaction_id) == 32
    )
    assert phase(gateway) is Phase.AUTHORISED
    seq = pile.send(AuthRequest(2, Channel.CARD, "UNKNOWN-CARD", ""))
    refused = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert refused.result == Result.UNKNOWN_ACCOUNT and refused.transaction_id == ""
    # The same account cannot hold a second gun (one account, one active service).
    seq = pile.send(AuthRequest(2, Channel.CARD, CARD, ""))
    busy = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert busy.result == Result.ACCOUNT_BUSY


async def test_start_failure_with_device_fault_ends_the_session_at_once(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """Field case 1: fault 98, no logout; the service ends at the gateway's time."""
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    tx = result.transaction_id
    assert tx is not None
    before = gateway.now_ms()
    pile.send(StartResult(1, tx, Result.DEVICE_FAULT, FaultCode.DEVICE_FAULT, T0, 1_000_000))
    await wait_for(lambda: phase(gateway) is Phase.FAILED)
    session = gateway.piles[PILE_ID].guns[1].session
    assert session is not None and session.gateway_service_end_ms is not None
    assert session.gateway_service_end_ms >= before
    # Hours later the bill arrives with service end = upload time: stored, flagged, no idle fee.
    late = replace(
        bill_for(tx, energy=0, start=before, end=before + 60_000),
        service_end_ms=before + 10 * 3_600_000,
        idle_fee_fen=50_000,
        total_amount_fen=50_000,
        energy_amount_fen=0,
        service_amount_fen=0,
    )
    seq = pile.send(late)
    ack = (await pile.expect(MsgType.BILL_ACK, seq=seq)).message
    assert ack.status == BillAckStatus.FLAGGED
    assert ack.anomalies & (1 << 6)  # code 6: idle duration anomaly
    stored = await reads.find_bill(gateway.storage, PILE_ID, tx)
    assert stored is not None and stored["our_idle_fee_fen"] == 0


async def test_bad_frames_are_nacked_and_a_burst_closes(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    frame = bytearray(encode(Login(PILE_ID, "A", "B", "C", 1, 2, 0), 77))
    frame[-1] ^= 0xFF  # bad CRC
    pile.send_raw(bytes(frame))
    nack = await pile.expect(MsgType.NACK, seq=77)
    assert nack.message.reason == NackReason.BAD_CRC
    await pile.heartbeat()  # the connection survives one bad frame
    for _ in range(5):
        pile.send_raw(bytes(frame))
    await asyncio.wait_for(pile.closed.wait(), 3)


async def test_login_timeout_closes_a_silent_connection(db_url: str) -> None:
    config = gateway_config()
    config = replace(config, piles=replace(config.piles, login_timeout_s=1.0))
    gateway = await start_gateway(db_url, config)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.tcp_port)
        try:
            # closed by the gateway (after 1 s; the bound only stops a hang on a busy machine)
            assert await asyncio.wait_for(reader.read(), 30) == b""
        finally:
            writer.close()
    finally:
        await gateway.stop(grace_s=2)


async def test_a_login_the_gateway_is_slow_to_handle_is_not_timed_out(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restarted gateway's whole fleet logs in at once and the database takes longer than
    # the login timeout: the timeout is for connections that send no LOGIN, not for the
    # gateway's own slowness (closing them made every pile log in again, feeding the storm).
    config = gateway.config  # a short login timeout (the suite's is generous), read per connection
    gateway.config = replace(config, piles=replace(config.piles, login_timeout_s=1.0))
    real_login = gateway.login

    async def slow_login(*args: Any) -> Any:
        await asyncio.sleep(gateway.config.piles.login_timeout_s * 1.5)
        return await real_login(*args)

    monkeypatch.setattr(gateway, "login", slow_login)
    pile = ScriptedPile()
    try:
        ack = await pile.login(gateway.tcp_port)
        assert ack.message.result == Result.OK and not pile.closed.is_set()
    finally:
        await pile.close()


async def test_a_pile_that_gives_up_waiting_to_log_in_costs_no_login_work(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.login_slots = asyncio.Semaphore(1)  # a storm: every slot is taken
    real_login = gateway.login
    handled: list[str] = []
    release = asyncio.Event()

    async def gated_login(conn: Any, login: Login) -> Any:
        handled.append(login.pile_id)
        await release.wait()
        return await real_login(conn, login)

    monkeypatch.setattr(gateway, "login", gated_login)
    first = ScriptedPile()
    logging_in = asyncio.create_task(first.login(gateway.tcp_port))
    await wait_for(lambda: handled == [PILE_ID])
    quitter = ScriptedPile("44030600030000200061")
    await quitter.connect(gateway.tcp_port)
    quitter.send(Login(quitter.pile_id, "ACME", "DC120", "1", 1, 2, 1_700_000_000_000))
    await asyncio.sleep(0.2)  # its LOGIN waits for a slot; the pile gives up and hangs up
    await quitter.close()
    await asyncio.sleep(0.2)
    release.set()
    try:
        assert (await logging_in).message.result == Result.OK
        await asyncio.sleep(0.2)
        assert handled == [PILE_ID]  # the quitter's LOGIN was dropped, not handled
    finally:
        await first.close()


async def test_unknown_pile_is_refused(gateway: Gateway) -> None:
    stranger = ScriptedPile("44030600030000999999")
    ack = await stranger.login(gateway.tcp_port)
    assert ack.message.result == Result.UNKNOWN_PILE
    await asyncio.wait_for(stranger.closed.wait(), 3)


async def test_second_login_replaces_the_first_connection(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    newer = ScriptedPile()
    try:
        assert (await newer.login(gateway.tcp_port)).message.result == Result.OK
        await asyncio.wait_for(pile.closed.wait(), 3)
        await newer.heartbeat()
        assert gateway.piles[PILE_ID].connection is not None
        assert gateway.piles[PILE_ID].online
    finally:
        await newer.close()


async def test_heartbeat_timeout_marks_the_pile_offline_and_holds_sessions(db_url: str) -> None:
    config = gateway_config()
    config = replace(config, piles=replace(config.piles, heartbeat_interval_s=1))
    gateway = await start_gateway(db_url, config)
    pile = ScriptedPile()
    try:
        await pile.login(gateway.tcp_port)
        result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
        assert result.ok
        # 3 x 1 s without a heartbeat; the bound is generous for a busy machine.
        await asyncio.wait_for(pile.closed.wait(), 30)
        await wait_for(lambda: not gateway.piles[PILE_ID].online)
        assert phase(gateway) is Phase.STARTING  # held, not lost
        await gateway.background_done()
        record = await gateway.storage.get_pile(PILE_ID)
        assert record is not None and not record.online
    finally:
        await pile.close()
        await gateway.stop(grace_s=2)


async def test_disabled_pile_refuses_starts_until_enabled(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """Field case 8."""
    assert (await gateway.set_enabled(PILE_ID, False)).ok
    await pile.expect(MsgType.DISABLE)
    refused = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert refused.outcome is Outcome.REJECTED and refused.reason == "pile_disabled"
    assert (await gateway.set_enabled(PILE_ID, True)).ok
    assert (await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")).ok


async def test_websocket_pile(gateway: Gateway) -> None:
    config = gateway_config()
    assert config.server.ws_port == 0
    url = f"ws://127.0.0.1:{gateway.ws_port}/pile/{PILE_ID}"
    async with ws_connect(url, subprotocols=["pilegate.v1"]) as ws:  # type: ignore[list-item]
        await ws.send(encode(Login(PILE_ID, "ACME", "DC120", "V2", 1, 2, 0), 1))
        (reply,) = FrameDecoder().feed(await asyncio.wait_for(ws.recv(), 3))
        assert reply.message.TYPE == MsgType.LOGIN_ACK and reply.message.result == Result.OK
        assert gateway.piles[PILE_ID].online


async def test_websocket_pile_must_match_its_url(gateway: Gateway) -> None:
    url = f"ws://127.0.0.1:{gateway.ws_port}/pile/44030600030000999999"
    async with ws_connect(url, subprotocols=["pilegate.v1"]) as ws:  # type: ignore[list-item]
        await ws.send(encode(Login(PILE_ID, "ACME", "DC120", "V2", 1, 2, 0), 1))
        (reply,) = FrameDecoder().feed(await asyncio.wait_for(ws.recv(), 3))
        assert reply.message.result == Result.AUTH_FAILED


async def test_websocket_refuses_other_paths_and_missing_subprotocol(gateway: Gateway) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(f"ws://127.0.0.1:{gateway.ws_port}/other"):
            pass
    assert refused.value.response.status_code == 404
    url = f"ws://127.0.0.1:{gateway.ws_port}/pile/{PILE_ID}"
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(url):  # no subprotocol offered
            pass
    assert refused.value.response.status_code == 400
    assert PILE_ID not in gateway.piles


async def test_websocket_pile_closing_goes_offline(gateway: Gateway) -> None:
    url = f"ws://127.0.0.1:{gateway.ws_port}/pile/{PILE_ID}"
    async with ws_connect(url, subprotocols=["pilegate.v1"]) as ws:  # type: ignore[list-item]
        await ws.send(encode(Login(PILE_ID, "ACME", "DC120", "V2", 1, 2, 0), 1))
        await asyncio.wait_for(ws.recv(), 3)
        await ws.ping()  # answered by the gateway's WebSocket layer
        assert gateway.piles[PILE_ID].online
    await wait_for(lambda: not gateway.piles[PILE_ID].online)


async def test_stop_reports_what_the_pile_answered(gateway: Gateway, pile: ScriptedPile) -> None:
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    tx = result.transaction_id
    assert tx is not None
    pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await wait_for(lambda: phase(gateway) is Phase.CHARGING)
    pile.auto_ack = lambda frame: Result.DEVICE_FAULT
    refused = await gateway.stop_charge(PILE_ID, 1)
    assert refused.outcome is Outcome.REJECTED and refused.reason == "device_fault"
    again = await gateway.stop_charge(PILE_ID, 1)  # the machine owns the re-sends
    assert again.outcome is Outcome.REJECTED and again.reason == "stop_already_sent"

    pile.auto_ack = lambda frame: Result.OK
    other = await gateway.start_charge(PILE_ID, 2, "13900000000", "own_app")
    tx2 = other.transaction_id
    assert tx2 is not None
    pile.send(StartResult(2, tx2, Result.OK, FaultCode.NONE, T0, 1_000_000))
    await wait_for(lambda: phase(gateway, 2) is Phase.CHARGING)
    pile.auto_ack = lambda frame: None
    silent = await gateway.stop_charge(PILE_ID, 2)
    assert silent.outcome is Outcome.TIMED_OUT and silent.transaction_id == tx2


async def test_energy_is_reconciled_against_the_meter_at_stop_not_the_last_sample(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """A meter sample a minute before the stop must not make a correct bill look short."""
    from protocol.pilegate import MeterValues

    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    tx = result.transaction_id
    assert tx is not None
    pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
    pile.send(MeterValues(1, tx, T0 + 540_000, 1_080_000, 80_000, 3800, 1500, 57_000, 60))
    pile.send(StopResult(1, tx, Result.OK, StopReason.USER, T0 + 600_000, 1_100_000))
    pile.send(Logout(1, tx, StopReason.USER, T0 + 660_000))
    await wait_for(lambda: phase(gateway) is Phase.CLOSED)
    seq = pile.send(bill_for(tx))  # 100,000 dWh = meter at stop - meter at start
    ack = (await pile.expect(MsgType.BILL_ACK, seq=seq)).message
    assert not ack.anomalies & (1 << 8), "energy differs from the gateway's record"
