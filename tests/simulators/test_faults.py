"""Each faulty behaviour's effect on the frames a pile sends."""

from __future__ import annotations

import random

from protocol.pilegate import FrameDecoder, encode
from protocol.pilegate.codes import FaultCode, GunStatus, MsgType, Result, StopReason
from protocol.pilegate.errors import DecodeError
from protocol.pilegate.examples import EXAMPLES
from protocol.pilegate.messages import (
    AuthRequest,
    Bill,
    Heartbeat,
    Logout,
    MeterValues,
    StartResult,
    StatusChange,
    StopCharge,
    StopResult,
    Vin,
)
from simulators.faults import FAULT_FLAGS, Faults, garbage, truncated
from tests.simulators.helpers import Driver, big_car, make_pile

MIN = 60_000
HOUR = 60 * MIN


def _drive(*faults: str, stop_after_min: int = 60, hours: float = 3, **params) -> Driver:  # type: ignore[no-untyped-def]
    pile = make_pile()
    for name in faults:
        pile.force_fault(name, gun=1, **params)
    d = Driver(pile)
    pile.plug_in(1, d.now, car=big_car(user_stop_after_ms=stop_after_min * MIN))
    d.run_until(d.now + int(hours * HOUR), step_ms=5_000)
    return d


def test_start_fails_with_98_no_logout_and_a_late_bill() -> None:
    d = _drive("start_fails", hours=2, late_bill_delay_ms=10 * HOUR)
    (start,) = d.of(StartResult)
    assert start.result == Result.DEVICE_FAULT and start.fault_code == FaultCode.DEVICE_FAULT
    assert any(m.status == GunStatus.FAULTED for m in d.of(StatusChange))
    assert d.of(Logout) == [] and d.of(Bill) == []
    d.run_until(start.time_ms + 10 * HOUR + 10_000, step_ms=60_000)
    (bill,) = d.of(Bill)
    assert bill.energy_dwh == 0 and bill.stop_reason == StopReason.DEVICE_FAULT
    assert bill.service_end_ms == start.time_ms + 10 * HOUR  # "service end" = upload time
    assert bill.idle_fee_fen > 0  # the field bug the gateway must not bill
    assert d.of(Logout) == []


def test_ignores_stop_acks_then_keeps_charging_without_vin() -> None:
    pile = make_pile()
    pile.force_fault("ignores_stop", gun=1)
    d = Driver(pile)
    pile.plug_in(1, d.now, car=big_car())
    d.run_until(d.now + 2 * MIN)
    (start,) = d.of(StartResult)
    ack = d.send(StopCharge(1, start.transaction_id, StopReason.REMOTE))
    assert ack is not None and ack.result == Result.OK
    d.run_until(d.now + 10 * MIN)
    assert d.of(StopResult) == [] and d.of(Vin) == []
    assert pile.heartbeat(d.now).guns[0].status == GunStatus.CHARGING
    assert d.of(MeterValues)[-1].time_ms > d.now - 2 * MIN


def test_normal_pile_honours_stop() -> None:
    d = _drive(hours=0.05)
    (start,) = d.of(StartResult)
    ack = d.send(StopCharge(1, start.transaction_id, StopReason.REMOTE))
    assert ack is not None and ack.result == Result.OK
    (stop,) = d.of(StopResult)
    assert stop.stop_reason == StopReason.REMOTE
    ack = d.send(StopCharge(1, "f" * 32, StopReason.REMOTE))
    assert ack is not None and ack.result == Result.UNKNOWN_TRANSACTION


def test_transient_fault_is_one_heartbeat_sample() -> None:
    pile = make_pile()
    pile.force_fault("transient_fault", gun=1)
    d = Driver(pile)
    pile.plug_in(1, d.now, car=big_car())
    samples = []
    for _ in range(20 * 2):  # a heartbeat every 30 s for 20 min
        d.run_until(d.now + 30_000)
        samples.append(pile.heartbeat(d.now).guns[0].status)
    charging = samples[samples.index(GunStatus.CHARGING) :]
    assert charging.count(GunStatus.FAULTED) == 1
    i = charging.index(GunStatus.FAULTED)
    assert charging[i + 1] == GunStatus.CHARGING
    assert not any(m.status == GunStatus.FAULTED for m in d.of(StatusChange))


def test_never_sends_bill_and_old_firmware_lose_bills() -> None:
    for name, params in (("never_sends_bill", {}), ("old_firmware", {"bill_loss_rate": 1.0})):
        d = _drive(name, **params)
        assert len(d.of(Logout)) == 1 and d.of(Bill) == []
        assert len(d.pile.store) == 0 and d.pile.counters.bills_lost == 1
    d = _drive("old_firmware", bill_loss_rate=0.0)
    assert len(d.of(Bill)) == 1


def test_unauthorised_charge_has_no_auth_no_transaction_no_bill() -> None:
    d = _drive("unauthorised_charge", stop_after_min=30, hours=2)
    assert d.of(AuthRequest) == [] and d.of(StartResult) == [] and d.of(Bill) == []
    charging = [m for m in d.of(StatusChange) if m.status == GunStatus.CHARGING]
    assert charging and charging[0].transaction_id == ""
    meters = d.of(MeterValues)
    assert meters and all(m.transaction_id == "" for m in meters)
    assert meters[-1].energy_dwh > 0


def test_late_start_answers_after_the_gateways_timeout_even_if_stopped() -> None:
    pile = make_pile(time_scale=1.0)
    pile.force_fault("late_start", gun=1, late_start_s=330.0)
    d = Driver(pile)
    pile.plug_in(1, d.now, car=big_car())
    d.run_until(d.now + 2 * MIN)
    assert d.of(StartResult) == []
    txid = f"{1:032x}"
    assert d.send(StopCharge(1, txid, StopReason.TIMEOUT)).result == Result.OK
    d.run_until(d.now + 6 * MIN)
    (start,) = d.of(StartResult)
    authorised = d.sent[[type(m) for _, m in d.sent].index(AuthRequest)][0]
    assert start.result == Result.OK and start.time_ms - authorised >= 330_000


def test_offline_with_bills_requests_a_disconnect_and_holds_the_bill() -> None:
    d = _drive("offline_with_bills", offline_s=2.5)
    assert d.pile.offline_request_s == 2.5
    (bill,) = d.of(Bill)
    assert d.pile.pending_bills() == [bill]


def test_garbage_and_truncated_frames_resynchronise_onto_the_real_frame() -> None:
    rng = random.Random(1)
    decoder = FrameDecoder()
    hb = EXAMPLES[MsgType.HEARTBEAT][1]
    for seq in range(1, 50):
        frame = encode(hb, seq)
        junk = garbage(rng)
        assert 0x68 not in junk
        cut = truncated(encode(hb, seq ^ 0x5A5A))
        assert len(cut) < len(frame)
        items = decoder.feed(junk + cut + frame)
        frames = [i for i in items if not isinstance(i, DecodeError)]
        assert [f.seq for f in frames] == [seq]
        assert any(isinstance(i, DecodeError) for i in items)


def test_faults_named_random_and_per_gun_override() -> None:
    assert Faults.named("late_start", late_start_s=6.0).active() == ["late_start"]
    picked = {tuple(Faults.random(random.Random(i), 1.0).active()) for i in range(200)}
    assert {p[0] for p in picked} == set(FAULT_FLAGS)
    assert Faults.random(random.Random(0), 0.0).active() == []
    pile = make_pile()
    pile.force_fault("ignores_stop", gun=2)
    assert pile.faults_for(2).ignores_stop and not pile.faults_for(1).ignores_stop
    assert isinstance(pile.heartbeat(0), Heartbeat)
