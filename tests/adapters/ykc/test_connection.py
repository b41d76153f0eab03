"""The YKC adapter against an in-memory gateway: every frame it answers, every fact it passes
on, every command it sends. The pile's frames are built with the codec (CRC high byte first,
as most public samples send it) and the public sample frames."""

from __future__ import annotations

import asyncio

import pytest

from gateway.adapters.ykc.connection import YkcPileConnection
from gateway.dialect import (
    NOT_SUPPORTED,
    QueryBills,
    SetAvailability,
    SetTariff,
    StartService,
    StopService,
)
from protocol.ykc import (
    Bill,
    BillConfirm,
    CrcOrder,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    ReadRealtime,
    Realtime,
    RemoteStart,
    RemoteStartResult,
    RemoteStop,
    RemoteStopResult,
    SetModel,
    SetModelReply,
    StartAuthorisation,
    StartRequest,
    TimeSync,
    decode_frame,
    encode,
)
from sessions import GunStatus, Refusal, StartConfirmed, StartFailed
from tests.adapters.ykc.fakes import PILE, TARIFF, FakeHost, FakeLink
from tests.protocol.ykc.samples import SAMPLES

HIGH = CrcOrder.HIGH_FIRST


def frame(message: object, seq: int = 0x1234) -> bytes:
    return encode(message, seq, HIGH)  # type: ignore[arg-type]


def login(pile: str = PILE, version: int = 16, guns: int = 2) -> bytes:
    return frame(Login(pile, 0, guns, version, "V1.0", 0, "0" * 20, 0), 0x0100)


def realtime(status: int, trade: str = "0" * 32, plugged: int = 1, energy: int = 0) -> bytes:
    return frame(Realtime(trade, PILE, "01", status, 2, plugged, 3800, 1000, 60, "0" * 16,
                          50, 60, 1, 30, energy, energy, 0, 0))  # fmt: skip


async def connected(host: FakeHost | None = None) -> tuple[YkcPileConnection, FakeHost, FakeLink]:
    host = host or FakeHost(asyncio.get_running_loop())
    link = FakeLink()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:40000")
    conn.data_received(login())
    await settle(conn)
    await asyncio.sleep(0)  # the clock is set right after the login
    return conn, host, link


async def settle(conn: YkcPileConnection) -> None:
    for _ in range(20):
        await asyncio.sleep(0)
        if conn._worker is None:
            return
    if conn._worker is not None:
        await conn._worker


async def test_login_is_answered_with_the_requests_sequence_bytes_and_guns_are_polled() -> None:
    conn, host, link = await connected()
    out = link.frames()
    assert isinstance(out[0].message, LoginReply) and out[0].message.result == 0
    assert out[0].raw[2:4] == b"\x00\x01"  # the login's own two bytes, unchanged
    assert [type(f.message) for f in out[1:]] == [ReadRealtime, ReadRealtime, TimeSync]
    sync = out[3]
    assert isinstance(sync.message, TimeSync) and sync.message.time is not None
    assert sync.message.time.hour == 6 and sync.message.time.minute == 13  # China time
    assert host.logins[0].crc_order == "high_first" and host.logins[0].protocol_version == 16
    assert conn.pile is host.port


async def test_an_unknown_pile_is_refused_and_dropped() -> None:
    host = FakeHost(asyncio.get_running_loop(), registered=set())
    conn, _, link = await connected(host)
    out = link.frames()
    assert isinstance(out[0].message, LoginReply) and out[0].message.result == 1
    assert link.closed and conn.pile is None
    assert (PILE, "out", "YKC_LOGIN_REPLY") in host.journal_rows  # a refusal is journaled too


async def test_an_old_protocol_version_is_refused() -> None:
    host = FakeHost(asyncio.get_running_loop())
    link = FakeLink()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:1")
    conn.data_received(login(version=14))
    await settle(conn)
    assert link.frames()[0].message == LoginReply(PILE, 1)
    assert link.closed and host.logins == []


async def test_frames_before_login_are_not_answered() -> None:
    host = FakeHost(asyncio.get_running_loop())
    link = FakeLink()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:1")
    conn.data_received(frame(Heartbeat(PILE, "01", 0)))
    assert link.frames() == []


async def test_the_public_heartbeat_is_answered_byte_for_byte_seq() -> None:
    conn, _host, link = await connected()
    link.frames()
    conn.data_received(SAMPLES["heartbeat"])  # pile 20231212000010, seq bytes 25 D3
    (reply,) = link.frames()
    assert isinstance(reply.message, HeartbeatReply)
    assert reply.raw[2:4] == bytes.fromhex("25d3") and reply.message.gun == "01"
    assert reply.crc_order is CrcOrder.LOW_FIRST


async def test_heartbeat_replies_are_the_codecs_frames_for_every_sequence_number() -> None:
    conn, _, link = await connected()
    link.frames()
    for seq in (0, 1, 0x00FF, 0x0100, 0x25D3, 0xFFFF):
        conn.data_received(frame(Heartbeat(PILE, "02", 0), seq=seq))
        assert bytes(link.out) == encode(HeartbeatReply(PILE, "02", 0), seq)
        link.frames()


async def test_billing_model_verify_then_request() -> None:
    conn, _host, link = await connected()
    link.frames()
    conn.data_received(frame(ModelVerify(PILE, "0000")))
    await settle(conn)
    (verify,) = link.frames()
    assert isinstance(verify.message, ModelVerifyReply) and verify.message.result == 1
    model_id = verify.message.model_id
    conn.data_received(frame(ModelRequest(PILE)))
    await settle(conn)
    (model,) = link.frames()
    assert isinstance(model.message, ModelReply) and model.message.model_id == model_id
    assert model.message.valley_price_e5 == 130_000 and model.message.slots[16] == 2
    conn.data_received(frame(ModelVerify(PILE, model_id)))
    await settle(conn)
    (again,) = link.frames()
    assert isinstance(again.message, ModelVerifyReply) and again.message.result == 0


async def test_no_tariff_leaves_the_model_request_unanswered() -> None:
    host = FakeHost(asyncio.get_running_loop(), tariff=None)
    conn, _, link = await connected(host)
    link.frames()
    conn.data_received(frame(ModelRequest(PILE)))
    await settle(conn)
    assert link.frames() == []


async def test_card_start_is_authorised_with_a_trade_number_or_refused() -> None:
    conn, host, link = await connected()
    link.frames()
    conn.data_received(frame(StartRequest(PILE, "01", 1, 0, "00000000D14B0A54", "0" * 32, "")))
    await settle(conn)
    (auth,) = link.frames()
    m = auth.message
    assert isinstance(m, StartAuthorisation) and m.authorised == 1
    assert m.trade_no.startswith(PILE + "01") and m.balance_fen == 5000
    assert m.logical_card == "0000000000001234"
    host.port.refuse = Refusal.ACCOUNT_BUSY
    conn.data_received(frame(StartRequest(PILE, "01", 1, 0, "00000000D14B0A54", "0" * 32, "")))
    await settle(conn)
    (refused,) = link.frames()
    assert isinstance(refused.message, StartAuthorisation)
    assert (refused.message.authorised, refused.message.fail_reason) == (0, 0x04)


def test_card_numbers_lose_their_padding_only() -> None:
    from gateway.adapters.ykc.outbound import card_token

    assert card_token("00000000D14B0A54") == "D14B0A54"
    assert card_token("D4E5F60718293A4B") == "D4E5F60718293A4B"
    assert card_token("0000000000AB1234") == "00AB1234"


async def test_realtime_reports_confirm_the_start_and_two_idle_frames_end_the_charge() -> None:
    conn, host, _link = await connected()
    port = host.port
    trade = PILE + "01" + "231115061320" + "0001"
    conn.data_received(realtime(3, trade, energy=100))
    assert port.events == [(1, StartConfirmed(trade, 0))]
    assert port.reports_seen[-1].status is GunStatus.CHARGING
    assert port.reports_seen[-1].power_w == 38_000 and port.meters == [(1, trade, 100)]
    conn.data_received(realtime(3, trade, energy=250))
    assert len(port.events) == 1 and port.meters[-1] == (1, trade, 250)
    conn.data_received(realtime(2, trade))  # one idle frame in a charge: held
    assert port.reports_seen[-1].status is GunStatus.CHARGING
    conn.data_received(realtime(2, trade))  # the second: the charge has ended (abnormally)
    assert port.reports_seen[-1].status is GunStatus.FINISHING
    conn.data_received(realtime(2, plugged=0))
    assert port.reports_seen[-1].status is GunStatus.AVAILABLE


async def test_remote_start_is_sent_and_its_0x33_is_the_starts_result() -> None:
    conn, host, link = await connected()
    link.frames()
    trade = PILE + "01" + "231115061320" + "0002"
    reply = await conn.command(StartService(1, trade, "1234", "own_app", 900), 1)
    assert reply is not None and reply.accepted  # sent: YKC acknowledges no command as such
    (sent,) = link.frames()
    assert isinstance(sent.message, RemoteStart) and sent.message.trade_no == trade
    assert (sent.message.balance_fen, sent.message.logical_card) == (900, "0000000000001234")
    # The pile waits for the plug first (a provisional answer), then succeeds.
    conn.data_received(frame(RemoteStartResult(trade, PILE, "01", 0, 5), seq=sent.seq))
    assert host.port.events == []
    conn.data_received(frame(RemoteStartResult(trade, PILE, "01", 1, 0), seq=sent.seq))
    assert host.port.events == [(1, StartConfirmed(trade, 0))]
    conn.data_received(realtime(3, trade, energy=10))  # confirmed once, not again
    assert host.port.events == [(1, StartConfirmed(trade, 0))]


async def test_a_failed_or_late_start_result_reaches_the_session() -> None:
    conn, host, link = await connected()
    link.frames()
    trade = PILE + "01" + "231115061320" + "0003"
    await conn.command(StartService(1, trade, "1234", "own_app", 900), 1)
    (sent,) = link.frames()
    conn.data_received(frame(RemoteStartResult(trade, PILE, "01", 0, 3), seq=sent.seq))
    assert host.port.events == [(1, StartFailed(trade, "device_fault", 3))]
    late = PILE + "01" + "231115061320" + "0004"  # a 0x33 no command waits for any more
    conn.data_received(frame(RemoteStartResult(late, PILE, "01", 1, 0)))
    assert host.port.events[-1] == (1, StartConfirmed(late, 0))


async def test_disabling_a_ykc_pile_is_the_gateways_to_enforce() -> None:
    conn, _host, link = await connected()
    link.frames()
    reply = await conn.command(SetAvailability(0, False), 1)
    assert reply is not None and reply.accepted and link.frames() == []


async def test_remote_stop_failure_is_named() -> None:
    conn, _host, link = await connected()
    link.frames()
    task = asyncio.create_task(conn.command(StopService(1, "x", "operator"), 1))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    (sent,) = link.frames()
    assert isinstance(sent.message, RemoteStop)
    conn.data_received(frame(RemoteStopResult(PILE, "01", 0, 2)))  # the pile numbers it itself
    reply = await task
    assert reply is not None and (reply.accepted, reply.status) == (False, "not_charging")


async def test_set_tariff_pushes_the_model_and_unsupported_commands_say_so() -> None:
    conn, _host, link = await connected()
    link.frames()
    task = asyncio.create_task(conn.command(SetTariff(TARIFF), 1))
    await asyncio.sleep(0)
    (sent,) = link.frames()
    assert isinstance(sent.message, SetModel)
    conn.data_received(frame(SetModelReply(PILE, 1), seq=sent.seq))
    reply = await task
    assert reply is not None and reply.accepted
    assert await conn.command(QueryBills(0), 1) is NOT_SUPPORTED


async def test_an_unanswered_command_gives_none() -> None:
    conn, _host, _link = await connected()
    assert await conn.command(StopService(1, "x", "operator"), 0.01) is None  # type: ignore[arg-type]


async def test_bill_is_confirmed_after_commit_and_again_when_resent() -> None:
    conn, host, link = await connected()
    link.frames()
    conn.data_received(SAMPLES["bill"])  # another pile's number inside: decoded as sent
    await settle(conn)
    (confirm,) = link.frames()
    assert confirm.message == BillConfirm("20231212000010323239000000000000", 0)
    assert confirm.raw[2:4] == bytes.fromhex("0046")
    conn.data_received(SAMPLES["bill"])
    await settle(conn)
    (again,) = link.frames()
    assert again.message == confirm.message
    assert len(host.port.bills) == 1 and host.port.bills[0].energy_dwh == 1650


async def test_a_bill_not_committed_is_not_confirmed() -> None:
    conn, host, link = await connected()
    link.frames()
    host.port.commit = False
    conn.data_received(SAMPLES["bill"])
    await settle(conn)
    assert link.frames() == []


async def test_an_unreadable_bill_is_answered_illegal_with_its_trade_number() -> None:
    conn, _host, link = await connected()
    link.frames()
    good = frame(decode_frame(SAMPLES["bill"]).message)  # type: ignore[union-attr]
    body = good[6:-2][:-3]  # three bytes short
    covered = good[2:6] + body
    from protocol.ykc import crc16_modbus

    bad = bytes((0x68, len(covered))) + covered + crc16_modbus(covered).to_bytes(2, "little")
    conn.data_received(bad)
    (answer,) = link.frames()
    assert answer.message == BillConfirm("20231212000010323239000000000000", 1)


@pytest.mark.parametrize("count", [3])
async def test_a_burst_of_bad_frames_closes(count: int) -> None:
    host = FakeHost(asyncio.get_running_loop())
    host.limits = type(host.limits)(bad_frame_burst=count)
    conn, _, link = await connected(host)
    for _ in range(count):
        conn.data_received(b"\x68\x0d" + b"\x00" * 15)
    assert link.closed


async def test_a_bill_is_a_bill_of_the_right_class() -> None:
    assert isinstance(decode_frame(SAMPLES["bill"]).message, Bill)  # type: ignore[union-attr]


async def stopped_gun(check_s: float) -> tuple[YkcPileConnection, FakeLink]:
    """A connection whose gun 1 charges and whose pile has just accepted a stop."""
    from gateway.adapters.ykc.rules import YkcRules

    host = FakeHost(asyncio.get_running_loop())
    link = FakeLink()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:1", YkcRules(stop_check_s=check_s))
    conn.data_received(login())
    await settle(conn)
    await asyncio.sleep(0)
    trade = PILE + "01" + "231115061320" + "0005"
    conn.data_received(realtime(3, trade, energy=10))
    link.frames()
    stopping = asyncio.create_task(conn.command(StopService(1, trade, "operator"), 1))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    (stop,) = link.frames()
    conn.data_received(frame(RemoteStopResult(PILE, "01", 1, 0), seq=stop.seq))
    assert (await stopping).accepted  # type: ignore[union-attr]
    return conn, link


async def test_after_an_accepted_stop_the_gun_is_asked_for_its_data_while_it_charges() -> None:
    _, link = await stopped_gun(0.01)
    await asyncio.sleep(0.2)
    asked = [f.message for f in link.frames()]
    assert asked == [ReadRealtime(PILE, "01")] * 3  # stop_not_honoured_reports + 1, no more


async def test_a_gun_that_stopped_is_not_asked_again() -> None:
    conn, link = await stopped_gun(0.05)
    for _ in range(500):  # bounded: up to 5 s on a busy machine
        if asked := link.frames():
            break
        await asyncio.sleep(0.01)
    assert [f.message for f in asked] == [ReadRealtime(PILE, "01")]
    conn.data_received(realtime(2, plugged=0))  # unplugged: the stop was obeyed
    await asyncio.sleep(0.3)
    assert link.frames() == []


async def test_a_login_the_gateway_fails_on_is_refused_not_left_unanswered() -> None:
    host = FakeHost(asyncio.get_running_loop())

    async def broken(link: object, login: object) -> None:
        raise ConnectionError("database away")

    host.login = broken  # type: ignore[assignment,method-assign]
    link = FakeLink()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:1")
    conn.data_received(login())
    await settle(conn)
    assert link.frames()[0].message == LoginReply(PILE, 1) and link.closed


async def test_a_start_request_the_gateway_fails_on_is_refused() -> None:
    conn, host, link = await connected()
    link.frames()

    async def broken(*args: object) -> None:
        raise ConnectionError("database away")

    host.port.authorise = broken  # type: ignore[assignment,method-assign]
    conn.data_received(frame(StartRequest(PILE, "01", 1, 0, "00000000D14B0A54", "0" * 32, "")))
    await settle(conn)
    (refused,) = link.frames()
    assert isinstance(refused.message, StartAuthorisation) and refused.message.authorised == 0


async def test_a_report_naming_another_pile_moves_nothing() -> None:
    conn, host, _link = await connected()
    conn.data_received(SAMPLES["realtime"])  # the public sample names pile 32010600395600
    assert host.port.reports_seen == [] and host.port.events == []
