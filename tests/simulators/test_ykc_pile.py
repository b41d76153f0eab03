"""The simulator's YKC pile against a small platform on 127.0.0.1 (fake_platform.py). Its
frames are checked against the public sample frames' layouts (tests/protocol/ykc/samples.py):
same frame type, same length byte, same size."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from protocol.pilegate.codes import BillAckStatus, StopReason
from protocol.pilegate.messages import BillAck, StopCharge
from protocol.ykc import messages as ykc
from protocol.ykc.cp56 import Cp56Time
from protocol.ykc.messages import FrameType
from simulators.charge import Car
from simulators.fleet import Fleet, FleetConfig
from simulators.ykc_client import YkcPileClient
from tests.protocol.ykc.samples import SAMPLES
from tests.simulators.fake_platform import MODEL, FakePlatform

SAMPLES_TIME = Cp56Time(2026, 1, 2, 3, 4, 5_000)


def _car(**kw: Any) -> Car:
    args: dict[str, Any] = dict(capacity_dwh=10_000_000, soc_start=10.0, soc_target=100,
                                vin="LTEST000000000001", max_power_w=60_000)  # fmt: skip
    args.update(kw)
    return Car(**args)


@contextlib.asynccontextmanager
async def _fleet(pf: FakePlatform, tmp: Path, **kw: Any) -> AsyncIterator[Fleet]:
    base: dict[str, Any] = dict(
        gateway=pf.url, protocol="ykc", piles=1, guns=2, duration_s=None, time_scale=60.0,
        state_dir=tmp, auto=False, durable=False, backoff_base_s=0.05, backoff_max_s=0.2,
        ack_timeout_s=3.0,
    )  # fmt: skip
    base.update(kw)
    fleet = Fleet(FleetConfig(**base))
    for pile in fleet.piles:
        pile.delays.update(handshake=1_000, swipe=1_000, unplug=2_000)
    await fleet.start()
    try:
        yield fleet
    finally:
        await fleet.stop()


def _client(fleet: Fleet) -> YkcPileClient:
    client = fleet.client(0)
    assert isinstance(client, YkcPileClient)
    return client


def _same_layout(raw: bytes, sample: str) -> None:
    """Start byte, length byte, plain flag and frame type as the public sample; same size."""
    expected = SAMPLES[sample]
    assert (raw[0], raw[1], raw[4], raw[5]) == (expected[0], expected[1], expected[4], expected[5])
    assert len(raw) == len(expected)


async def test_login_billing_model_heartbeats_and_realtime(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path) as fleet:
        client = _client(fleet)
        await pf.wait_for(lambda: pf.of(ykc.ModelRequest) and len(pf.of(ykc.Heartbeat)) >= 2)
        (login,) = pf.of(ykc.Login)
        assert login.pile == client.pile_no == fleet.piles[0].spec.pile_id[-14:]
        assert (login.gun_count, login.protocol_version, login.pile_type) == (2, 16, 0)
        assert pf.of(ykc.ModelVerify)[0].model_id == "0000"  # no model yet: ask
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        assert fleet.piles[0].tariff.tariff_id == 101
        assert fleet.piles[0].tariff.prices[0] == (13_000, 8_000)  # sharp, 0.0001 CNY/kWh
        assert {h.gun for h in pf.of(ykc.Heartbeat)} == {"01", "02"}
        realtime = pf.of(ykc.Realtime)
        assert {(r.gun, r.status, r.plugged, r.trade_no) for r in realtime} == {
            ("01", 2, 0, "0" * 32),
            ("02", 2, 0, "0" * 32),
        }
        for frame_type, sample in (
            (FrameType.LOGIN, "login"),
            (FrameType.HEARTBEAT, "heartbeat"),
            (FrameType.MODEL_VERIFY, "model_verify"),
            (FrameType.MODEL_REQUEST, "model_request"),
            (FrameType.REALTIME, "realtime"),
        ):
            _same_layout(pf.raw(frame_type)[0], sample)


async def test_card_start_remote_stop_and_bill(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path) as fleet:
        pile, client = fleet.piles[0], _client(fleet)
        said: list[tuple[str, Any]] = []  # the conversation in the pile model's words
        client.on_frame = lambda way, seq, msg: said.append((way, msg))
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car())
        client.poke()
        await pf.wait_for(lambda: any(r.status == 3 for r in pf.of(ykc.Realtime)))
        (request,) = pf.of(ykc.StartRequest)
        assert (request.gun, request.start_mode, request.password_required) == ("01", 1, 0)
        (auth,) = pf.of(ykc.StartAuthorisation)
        charging = [r for r in pf.of(ykc.Realtime) if r.status == 3]
        assert charging[0].trade_no == auth.trade_no and charging[0].plugged == 1

        await pf.wait_for(lambda: any(r.energy_dwh > 0 for r in pf.of(ykc.Realtime)))
        pf.command(client.pile_no, ykc.RemoteStop(client.pile_no, "01"))
        await pf.wait_for(lambda: pf.replies)
        (reply,) = pf.replies
        assert isinstance(reply.frame.message, ykc.RemoteStopResult)
        assert reply.frame.message.result == 1 and reply.matched_by == "seq"

        await pf.wait_for(lambda: pf.of(ykc.Bill))
        (bill,) = pf.of(ykc.Bill)
        assert bill.trade_no == auth.trade_no and bill.stop_reason == 0x40  # app/remote stop
        assert bill.meter_end_dwh - bill.meter_start_dwh == bill.total_energy_dwh > 0
        periods = ("sharp", "peak", "flat", "valley")
        assert sum(getattr(bill, f"{p}_energy_dwh") for p in periods) == bill.total_energy_dwh
        assert sum(getattr(bill, f"{p}_amount_e4") for p in periods) == bill.total_amount_e4
        for p in periods:  # each period priced with the platform's model, exactly
            price = MODEL[f"{p}_price_e5"] + MODEL[f"{p}_service_e5"]
            assert getattr(bill, f"{p}_price_e5") == price
            energy = getattr(bill, f"{p}_energy_dwh")
            assert getattr(bill, f"{p}_amount_e4") == (energy * price + 50_000) // 100_000
        _same_layout(pf.raw(FrameType.BILL)[0], "bill")
        await pf.wait_for(lambda: len(pile.store) == 0)  # confirmed: forgotten
        assert fleet.stats.bills_acked == 1
        heard = [m for way, m in said if way == "in"]
        assert StopCharge(1, auth.trade_no, StopReason.REMOTE) in heard
        assert BillAck(auth.trade_no, BillAckStatus.ACCEPTED) in heard


async def test_remote_start_result_echoes_the_command(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path) as fleet:
        client = _client(fleet)
        await pf.wait_for(lambda: pf.of(ykc.HeartbeatReply) or pf.of(ykc.Heartbeat))
        trade = client.pile_no + "02" + "7" * 16
        seq = pf.command(
            client.pile_no,
            ykc.RemoteStart(trade, client.pile_no, "02", "1380000000000001", "0" * 16, 10_000),
        )
        await pf.wait_for(lambda: pf.replies)
        (reply,) = pf.replies
        result = reply.frame.message
        assert isinstance(result, ykc.RemoteStartResult)
        assert (result.trade_no, result.result, reply.frame.seq) == (trade, 1, seq)
        assert any(r.trade_no == trade and r.status == 3 for r in pf.of(ykc.Realtime))
        _same_layout(reply.frame.raw, "remote_start_result")


async def test_bill_is_sent_again_until_confirmed(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path, bill_retry_s=0.3) as fleet:
        pf.confirm_bills = False
        pile, client = fleet.piles[0], _client(fleet)
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car(user_stop_after_ms=60_000))
        client.poke()
        await pf.wait_for(lambda: len(pf.of(ykc.Bill)) >= 3)
        assert len({b.trade_no for b in pf.of(ykc.Bill)}) == 1  # the same bill, again
        assert len(pile.store) == 1
        pf.confirm_bills = True
        await pf.wait_for(lambda: len(pile.store) == 0)


async def test_set_model_time_sync_and_reboot(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path) as fleet:
        client = _client(fleet)
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        model = {**MODEL, "model_id": "0202", "flat_price_e5": 50_000}
        pf.command(client.pile_no, ykc.SetModel(client.pile_no, **model))  # type: ignore[arg-type]
        await pf.wait_for(lambda: pf.of(ykc.SetModelReply))
        assert pf.of(ykc.SetModelReply)[0].result == 1
        assert fleet.piles[0].tariff.prices[2] == (5_000, 8_000)

        seq = pf.command(client.pile_no, ykc.TimeSync(client.pile_no, SAMPLES_TIME))
        await pf.wait_for(lambda: pf.of(ykc.TimeSyncReply))
        (reply,) = [r for r in pf.replies if isinstance(r.frame.message, ykc.TimeSyncReply)]
        assert reply.frame.seq == seq and reply.matched_by == "seq"
        sample = SAMPLES["time_sync"]  # 0x56; its answer 0x55 has the same body
        assert reply.frame.raw[1] == sample[1] and len(reply.frame.raw) == len(sample)

        pf.command(client.pile_no, ykc.Reboot(client.pile_no, 1))
        await pf.wait_for(lambda: pf.of(ykc.RebootReply))
        _same_layout(pf.raw(FrameType.REBOOT_REPLY)[0], "reboot_reply")
        await pf.wait_for(lambda: len(pf.of(ykc.Login)) == 2, timeout=15)


async def test_v17_pile_sends_the_0x3d_bill(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path, ykc_version=17) as fleet:
        pile, client = fleet.piles[0], _client(fleet)
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        pile.plug_in(2, fleet.now_ms(), auth="password", car=_car(user_stop_after_ms=60_000))
        client.poke()
        await pf.wait_for(lambda: pf.of(ykc.BillV17))
        (request,) = pf.of(ykc.StartRequest)
        assert (request.start_mode, request.password_required) == (2, 1)
        assert pf.of(ykc.Login)[0].protocol_version == 17 and not pf.of(ykc.Bill)


async def test_a_failed_remote_start_answers_failure_and_still_bills(tmp_path: Path) -> None:
    async with FakePlatform() as pf, _fleet(pf, tmp_path) as fleet:
        pile, client = fleet.piles[0], _client(fleet)
        pile.force_fault("start_fails", gun=1, late_bill_delay_ms=60_000)
        await pf.wait_for(lambda: client.model.model_id == MODEL["model_id"])
        trade = client.pile_no + "01" + "5" * 16
        pf.command(
            client.pile_no,
            ykc.RemoteStart(trade, client.pile_no, "01", "1380000000000001", "0" * 16, 10_000),
        )
        await pf.wait_for(lambda: pf.replies)
        result = pf.replies[0].frame.message
        assert isinstance(result, ykc.RemoteStartResult)
        assert (result.trade_no, result.result, result.fail_reason) == (trade, 0, 3)
        assert any(r.status == 1 for r in pf.of(ykc.Realtime))  # the gun reports its fault
        await pf.wait_for(lambda: pf.of(ykc.Bill))  # YKC: a bill for every start command
        (bill,) = pf.of(ykc.Bill)
        assert (bill.trade_no, bill.total_energy_dwh, bill.stop_reason) == (trade, 0, 0x4A)
