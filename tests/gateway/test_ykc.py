"""YKC piles served by a real gateway on 127.0.0.1, port 2406's stand-in shared with protocol v1:
public sample frames and hand-built ones over real TCP, from login to the confirmed bill."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from billing.tariff import ScopeKind
from gateway.adapters.pilegate.showcase import example_tariff
from gateway.admin.app import create_app
from gateway.app import Gateway
from gateway.cli import main
from gateway.storage import queries
from protocol.ykc import (
    Bill,
    BillV17,
    Cp56Time,
    CrcOrder,
    FrameType,
    Heartbeat,
    ModelRequest,
    ModelVerify,
    RemoteStartResult,
    RemoteStopResult,
    StartRequest,
)
from sessions import Phase
from tests.gateway.conftest import ACCOUNT, CARD, FakeClock
from tests.gateway.piles import ScriptedPile
from tests.gateway.ykc_pile import YKC_PILE, YkcPile
from tests.protocol.ykc.samples import PILE as SAMPLE_PILE
from tests.protocol.ykc.samples import SAMPLES

T = FrameType
PERIODS = ("sharp", "peak", "flat", "valley")  # YKC rate numbers 0..3


@pytest.fixture
async def ykc_gateway(gateway: Gateway) -> Gateway:
    await gateway.storage.register_pile(YKC_PILE, vendor="ykc", model="ykc-dc", gun_count=2)
    return gateway


@pytest.fixture
async def ykc(ykc_gateway: Gateway) -> AsyncIterator[YkcPile]:
    pile = YkcPile()
    reply = await pile.login(ykc_gateway.tcp_port)
    assert reply.message.result == 0  # type: ignore[attr-defined]
    await pile.expect(T.SET_MODEL)  # the login's configuration ends with the tariff
    try:
        yield pile
    finally:
        await pile.close()


async def until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.01)):  # bounded
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()


def session(gateway: Gateway, gun: int = 1):  # type: ignore[no-untyped-def]
    return gateway.piles[YKC_PILE].guns[gun].session


def bill(trade: str, start_ms: int, end_ms: int, energy: int = 5000, reason: int = 0x40) -> Bill:
    """A V1.6 bill at the default tariff (1.00 CNY/kWh flat, no service fee): 0.0001 kWh
    costs 0.0001 CNY, so the amount in 0.0001 CNY is the energy in 0.0001 kWh."""
    start, end = Cp56Time.from_epoch_ms(start_ms), Cp56Time.from_epoch_ms(end_ms)
    return Bill(
        trade, YKC_PILE, "01", start, end,
        0, 0, 0, 0, 0, 0, 0, 0, 100_000, energy, energy, energy, 0, 0, 0, 0,
        1_000_000, 1_000_000 + energy, energy, energy, energy, "", 1, end, reason, "0" * 16,
    )  # fmt: skip


async def test_login_heartbeat_and_billing_model(ykc_gateway: Gateway, ykc: YkcPile) -> None:
    login_reply = ykc.of_type(T.LOGIN_REPLY)[0]
    assert login_reply.raw[2:4] == b"\x01\x00"  # the login's sequence bytes, unchanged
    assert len(ykc.of_type(T.READ_REALTIME)) == 2 and ykc.of_type(T.TIME_SYNC)
    hb = await ykc.heartbeat()
    assert hb.raw[2:4] == ykc.seq.to_bytes(2, "little") and hb.crc_order is CrcOrder.LOW_FIRST
    seq = ykc.send(ModelVerify(YKC_PILE, "0000"))
    verify = await ykc.expect(T.MODEL_VERIFY_REPLY, seq=seq)
    assert verify.message.result == 1  # type: ignore[attr-defined]
    seq = ykc.send(ModelRequest(YKC_PILE))
    model = (await ykc.expect(T.MODEL_REPLY, seq=seq)).message
    assert model.flat_price_e5 == 100_000 and set(model.slots) == {2}  # type: ignore[attr-defined]
    pushed = ykc.of_type(T.SET_MODEL)[0].message
    assert pushed.model_id == model.model_id == verify.message.model_id  # type: ignore[attr-defined]
    app = create_app(ykc_gateway)  # the admin API's pile listing shows what was recorded
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        listed = {p["pile_id"]: p for p in (await client.get("/piles")).json()}
    assert listed[YKC_PILE]["ykc"] == {
        "protocol_version": 16, "crc_order": "high_first", "allowed_sources": [],
    }  # fmt: skip


async def test_public_sample_login_and_heartbeat_echo_their_sequence_bytes(
    ykc_gateway: Gateway,
) -> None:
    await ykc_gateway.storage.register_pile(SAMPLE_PILE, vendor="ykc", model="ykc-ac", gun_count=1)
    pile = YkcPile(SAMPLE_PILE, guns=1)
    await pile.connect(ykc_gateway.tcp_port)
    try:
        pile.send_raw(SAMPLES["login"])
        reply = await pile.expect(T.LOGIN_REPLY)
        assert reply.raw == SAMPLES["login_reply"]  # byte for byte, CRC included
        pile.send_raw(SAMPLES["heartbeat"])
        hb = await pile.expect(T.HEARTBEAT_REPLY)
        assert hb.raw[2:4] == bytes.fromhex("25d3") and hb.message.gun == "01"  # type: ignore[attr-defined]
        record = await ykc_gateway.storage.ykc_pile(SAMPLE_PILE)
        assert record is not None and record.crc_order == "low_first"
        pile.send_raw(SAMPLES["bill"])  # a bill of 2023 with no session here: kept, flagged
        confirm = await pile.expect(T.BILL_CONFIRM)
        assert confirm.raw[2:4] == bytes.fromhex("0046")  # the bill's bytes (JCPP swaps them)
        assert confirm.message.trade_no == "20231212000010323239000000000000"  # type: ignore[attr-defined]
        assert confirm.message.result == 0  # type: ignore[attr-defined]
    finally:
        await pile.close()


async def test_remote_start_realtime_stop_bill_and_resent_bill(
    ykc_gateway: Gateway, ykc: YkcPile, clock: FakeClock, db_url: str
) -> None:
    gw = ykc_gateway
    started = asyncio.create_task(gw.start_charge(YKC_PILE, 1, ACCOUNT, "own_app"))
    command = await ykc.expect(T.REMOTE_START)
    trade = command.message.trade_no  # type: ignore[attr-defined]
    assert trade.startswith(YKC_PILE + "01") and len(trade) == 32 and trade.isdigit()
    assert command.message.balance_fen == 50_000  # type: ignore[attr-defined]
    result = await started  # sent: YKC acknowledges no command as such
    assert result.outcome.value == "accepted" and result.transaction_id == trade
    assert session(gw).phase is Phase.STARTING
    ykc.send(RemoteStartResult(trade, YKC_PILE, "01", 1, 0), seq=command.seq)  # 0x33: started
    await until(lambda: session(gw).phase is Phase.CHARGING)
    ykc.realtime(1, 3, trade, energy_dwh=100)
    charge_start_ms = session(gw).charge_start_ms
    await clock.advance(gw, 1800)  # half an hour of charging: 0.5 kWh is 1 kW
    ykc.realtime(1, 3, trade, energy_dwh=5000)
    stopped = asyncio.create_task(gw.stop_charge(YKC_PILE, 1))
    stop = await ykc.expect(T.REMOTE_STOP)
    ykc.send(RemoteStopResult(YKC_PILE, "01", 1, 0), seq=stop.seq)
    assert (await stopped).outcome.value == "accepted"
    paid = bill(trade, charge_start_ms, gw.now_ms())
    for _ in range(2):  # the pile re-sends: answered again, stored once
        seq = ykc.send(paid)
        confirm = await ykc.expect(T.BILL_CONFIRM, seq=seq)
        assert confirm.message.trade_no == trade and confirm.message.result == 0  # type: ignore[attr-defined]
    await gw.storage.flush()
    page = await queries.list_bills(gw.storage.reader, pile_id=YKC_PILE)
    assert len(page.rows) == 1
    row = page.rows[0]
    assert (row["transaction_id"], row["energy_dwh"], row["total_amount_fen"]) == (trade, 5000, 50)
    assert (row["status"], row["our_total_fen"], row["account"]) == ("stored", 50, ACCOUNT)
    ykc.realtime(1, 2, plugged=0)  # unplugged: the service is over and billed
    await until(lambda: session(gw) is None or session(gw).phase is Phase.SETTLED)
    # `pilegate frames` (field case 9) shows the trade's YKC frames decoded, in words.
    await gw.storage.flush()
    status, out = await asyncio.to_thread(
        pilegate, "frames", "--transaction", trade, "--database", db_url
    )
    assert status == 0
    for words in ("start command: gun 01", "start result on gun 01: ok", "bill for trade"):
        assert words in out, out


async def test_card_start_at_the_pile(ykc_gateway: Gateway, ykc: YkcPile) -> None:
    seq = ykc.send(StartRequest(YKC_PILE, "02", 1, 0, CARD, "0" * 32, ""))
    auth = (await ykc.expect(T.START_AUTHORISATION, seq=seq)).message
    assert auth.authorised == 1 and auth.balance_fen == 50_000  # type: ignore[attr-defined]
    trade = auth.trade_no  # type: ignore[attr-defined]
    assert session(ykc_gateway, 2).transaction_id == trade
    ykc.realtime(2, 3, trade, energy_dwh=10)
    await until(lambda: session(ykc_gateway, 2).phase is Phase.CHARGING)
    seq = ykc.send(StartRequest(YKC_PILE, "01", 1, 0, CARD, "0" * 32, ""))  # same card again
    refused = (await ykc.expect(T.START_AUTHORISATION, seq=seq)).message
    assert (refused.authorised, refused.fail_reason) == (0, 0x04)  # type: ignore[attr-defined]


async def test_failed_start_still_gives_a_flagged_bill(ykc_gateway: Gateway, ykc: YkcPile) -> None:
    gw = ykc_gateway
    started = asyncio.create_task(gw.start_charge(YKC_PILE, 1, ACCOUNT, "own_app"))
    command = await ykc.expect(T.REMOTE_START)
    trade = command.message.trade_no  # type: ignore[attr-defined]
    assert (await started).outcome.value == "accepted"
    ykc.send(RemoteStartResult(trade, YKC_PILE, "01", 0, 3), seq=command.seq)  # device fault
    await until(lambda: session(gw).phase is Phase.FAILED)
    now = gw.now_ms()
    seq = ykc.send(bill(trade, now, now, energy=0, reason=0x4A))  # YKC: every start is billed
    assert (await ykc.expect(T.BILL_CONFIRM, seq=seq)).message.result == 0  # type: ignore[attr-defined]
    await gw.storage.flush()
    (row,) = (await queries.list_bills(gw.storage.reader, pile_id=YKC_PILE)).rows
    assert row["transaction_id"] == trade and row["status"] == "flagged"
    assert "session_failed" in row["flags"] and row["our_idle_fee_fen"] == 0


async def test_an_unknown_pile_is_refused(gateway: Gateway) -> None:
    pile = YkcPile("11112222333344")
    try:
        reply = await pile.login(gateway.tcp_port)
        assert reply.message.result == 1  # type: ignore[attr-defined]
        await asyncio.wait_for(pile.closed.wait(), 5)
    finally:
        await pile.close()


def pilegate(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


async def test_the_source_allow_list(ykc_gateway: Gateway, db_url: str) -> None:
    status, out = await asyncio.to_thread(
        pilegate, "piles", "sources", YKC_PILE, "10.0.0.0/8", "--database", db_url
    )
    assert status == 0 and "10.0.0.0/8" in out
    outsider = YkcPile()
    try:
        assert (await outsider.login(ykc_gateway.tcp_port)).message.result == 1  # type: ignore[attr-defined]
    finally:
        await outsider.close()
    await ykc_gateway.storage.set_ykc_allowed_sources(YKC_PILE, ["10.0.0.0/8", "127.0.0.0/8"])
    insider = YkcPile()
    try:
        assert (await insider.login(ykc_gateway.tcp_port)).message.result == 0  # type: ignore[attr-defined]
    finally:
        await insider.close()


async def test_v1_and_ykc_piles_share_the_port(ykc_gateway: Gateway) -> None:
    v1, ykc = ScriptedPile(), YkcPile()
    try:
        v1_ack, ykc_reply = await asyncio.gather(
            v1.login(ykc_gateway.tcp_port), ykc.login(ykc_gateway.tcp_port)
        )
        assert v1_ack.message.result == 0 and ykc_reply.message.result == 0  # type: ignore[attr-defined]
        await asyncio.gather(v1.heartbeat(), ykc.heartbeat())
        assert ykc_gateway.piles[YKC_PILE].online and ykc_gateway.piles[v1.pile_id].online
    finally:
        await asyncio.gather(v1.close(), ykc.close())


async def test_ykc_start_timeout_is_90_seconds(ykc_gateway: Gateway, clock: FakeClock) -> None:
    pile = YkcPile()
    await pile.login(ykc_gateway.tcp_port)
    try:
        seq = pile.send(StartRequest(YKC_PILE, "01", 1, 0, CARD, "0" * 32, ""))
        await pile.expect(T.START_AUTHORISATION, seq=seq)
        await clock.advance(ykc_gateway, 89)
        assert session(ykc_gateway).phase is Phase.AUTHORISED
        await clock.advance(ykc_gateway, 2)
        await until(lambda: session(ykc_gateway).phase is Phase.CANCELLED)
    finally:
        await pile.close()


async def test_two_idle_frames_end_a_charge_and_the_bill_is_due_in_30_seconds(
    ykc_gateway: Gateway, ykc: YkcPile, clock: FakeClock
) -> None:
    gw = ykc_gateway
    seq = ykc.send(StartRequest(YKC_PILE, "01", 1, 0, CARD, "0" * 32, ""))
    trade = (await ykc.expect(T.START_AUTHORISATION, seq=seq)).message.trade_no  # type: ignore[attr-defined]
    ykc.realtime(1, 3, trade, energy_dwh=10)
    await until(lambda: session(gw).phase is Phase.CHARGING)
    ykc.realtime(1, 2, trade)  # one idle frame in a charge: not yet its end
    await ykc.heartbeat()  # a round trip: the frame before it has been handled
    assert session(gw).phase is Phase.CHARGING
    ykc.realtime(1, 2, trade)  # the second: the charge ended (abnormally)
    await until(lambda: session(gw).phase is Phase.FINISHED)
    ykc.realtime(1, 2, plugged=0)
    await until(lambda: session(gw).phase is Phase.CLOSED)
    await clock.advance(gw, 29)
    assert not session(gw).bill_wait_alarmed
    await clock.advance(gw, 2)
    await until(lambda: session(gw).bill_wait_alarmed)


async def test_a_v17_pile_and_its_0x3d_bill(ykc_gateway: Gateway) -> None:
    pile = YkcPile(version=17, crc_order=CrcOrder.LOW_FIRST)
    try:
        assert (await pile.login(ykc_gateway.tcp_port)).message.result == 0  # type: ignore[attr-defined]
        now = ykc_gateway.now_ms()
        v15 = bill("3201060001923601" + "2612010000000001", now - 60_000, now, energy=100)
        fields = {f.name: getattr(v15, f.name) for f in dataclasses.fields(v15)}
        v17 = BillV17(
            **fields, meter_number="000000000001", meter_ciphertext="00" * 34,
            meter_protocol_version=1, meter_encryption=0,
        )  # fmt: skip
        seq = pile.send(v17)
        confirm = (await pile.expect(T.BILL_CONFIRM, seq=seq)).message
        assert (confirm.trade_no, confirm.result) == (v15.trade_no, 0)  # type: ignore[attr-defined]
        record = await ykc_gateway.storage.ykc_pile(YKC_PILE)
        assert record is not None and record.protocol_version == 17
        assert record.crc_order == "low_first"
    finally:
        await pile.close()


async def test_a_ykc_connection_is_held_and_swept_like_any_connection(
    ykc_gateway: Gateway, ykc: YkcPile
) -> None:
    """Past the sniffer, the YKC connection is the gateway's like any dialect's: storage
    back-pressure holds its reading, and the sweep closes it when it falls silent."""
    (conn,) = ykc_gateway.connections
    assert getattr(conn, "pile_id", None) == YKC_PILE  # the YKC connection, not the sniffer
    ykc_gateway._storage_backlog(True)
    seq = ykc.send(Heartbeat(YKC_PILE, "01", 0))
    with pytest.raises(TimeoutError):
        await ykc.expect(T.HEARTBEAT_REPLY, seq=seq, timeout=0.3)  # not read while held
    ykc_gateway._storage_backlog(False)
    await ykc.expect(T.HEARTBEAT_REPLY, seq=seq)
    interval = ykc_gateway.config.piles.heartbeat_interval_s
    ykc_gateway.close_silent(ykc_gateway.loop.time() + interval)
    assert not conn.closed
    ykc_gateway.close_silent(ykc_gateway.loop.time() + 3 * interval + 1)
    await asyncio.wait_for(ykc.closed.wait(), 5)
    await until(lambda: not ykc_gateway.connections and not ykc_gateway.piles[YKC_PILE].online)


async def test_a_bill_priced_exactly_by_the_model_is_accepted_without_findings(
    ykc_gateway: Gateway, clock: FakeClock
) -> None:
    """The pile prices each period at electricity + service and does not split the amount:
    with a service fee in the tariff, a bill made exactly by the model the gateway sent
    must come out accepted, its amount split as the tariff splits it, and nothing flagged."""
    gw = ykc_gateway
    await gw.storage.put_tariff(example_tariff("split", ScopeKind.PILE, YKC_PILE))
    pile = YkcPile()
    try:
        await pile.login(gw.tcp_port)
        model = (await pile.expect(T.SET_MODEL)).message
        assert any(getattr(model, f"{p}_service_e5") for p in PERIODS)  # a service fee
        started = asyncio.create_task(gw.start_charge(YKC_PILE, 1, ACCOUNT, "own_app"))
        command = await pile.expect(T.REMOTE_START)
        trade = command.message.trade_no  # type: ignore[attr-defined]
        await started
        pile.send(RemoteStartResult(trade, YKC_PILE, "01", 1, 0), seq=command.seq)
        await until(lambda: session(gw).phase is Phase.CHARGING)
        start_ms = session(gw).charge_start_ms
        pile.realtime(1, 3, trade, energy_dwh=0)
        await clock.advance(gw, 600)
        energy = 12_345  # 1.2345 kWh in ten minutes
        pile.realtime(1, 3, trade, energy_dwh=energy)
        stopped = asyncio.create_task(gw.stop_charge(YKC_PILE, 1))
        stop = await pile.expect(T.REMOTE_STOP)
        pile.send(RemoteStopResult(YKC_PILE, "01", 1, 0), seq=stop.seq)
        await stopped
        end_ms = gw.now_ms()
        local = Cp56Time.from_epoch_ms(start_ms)
        period = PERIODS[model.slots[(local.hour * 60 + local.minute) // 30]]  # type: ignore[attr-defined]
        price = getattr(model, f"{period}_price_e5") + getattr(model, f"{period}_service_e5")
        amount = (energy * price + 50_000) // 100_000  # 0.0001 CNY, half up
        priced = dataclasses.replace(
            bill(trade, start_ms, end_ms, energy),
            flat_price_e5=0, flat_energy_dwh=0, flat_loss_energy_dwh=0, flat_amount_e4=0,
            total_amount_e4=amount,
            **{
                f"{period}_price_e5": price, f"{period}_energy_dwh": energy,
                f"{period}_loss_energy_dwh": energy, f"{period}_amount_e4": amount,
            },
        )  # fmt: skip
        seq = pile.send(priced)
        confirm = await pile.expect(T.BILL_CONFIRM, seq=seq)
        assert confirm.message.result == 0  # type: ignore[attr-defined]
        await gw.storage.flush()
        (listed,) = (await queries.list_bills(gw.storage.reader, pile_id=YKC_PILE)).rows
        row = await queries.get_bill(gw.storage.reader, listed["id"])
        assert row is not None and row["status"] == listed["status"]
        found = await queries.list_anomalies(gw.storage.reader, pile_id=YKC_PILE)
        assert [(a["code"], a["kind"], a["reason"]) for a in found.rows] == []
        assert row["service_amount_fen"] == row["our_service_amount_fen"] > 0  # split as ours
        assert row["total_amount_fen"] == row["our_total_fen"] == (amount + 50) // 100
    finally:
        await pile.close()
