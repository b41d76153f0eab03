"""The simulator's OCPP 1.6J charge point against a central system built on the `ocpp` package
(tests/simulators/fake_central.py): what it sends must pass that package's schema validation
and handlers, and its answers to central-system calls must parse as that package's types."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call, enums

from protocol.pilegate.codes import BillAckStatus, StopReason
from protocol.pilegate.messages import BillAck, StartResult, StopCharge
from simulators.charge import Car
from simulators.fleet import Fleet, FleetConfig
from tests.simulators.fake_central import FakeCentral


def _car(**kw: Any) -> Car:
    args: dict[str, Any] = dict(capacity_dwh=10_000_000, soc_start=10.0, soc_target=100,
                                vin="LTEST000000000001", max_power_w=60_000)  # fmt: skip
    args.update(kw)
    return Car(**args)


@contextlib.asynccontextmanager
async def _fleet(cs: FakeCentral, tmp: Path, **kw: Any) -> AsyncIterator[Fleet]:
    base: dict[str, Any] = dict(
        gateway=cs.url, protocol="ocpp16", piles=1, guns=2, duration_s=None,
        time_scale=60.0, state_dir=tmp, auto=False, durable=False, backoff_base_s=0.05,
        backoff_max_s=0.2, ack_timeout_s=3.0,
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


def _cp(fleet: Fleet) -> str:
    return fleet.piles[0].spec.pile_id


def _statuses(cs: FakeCentral, gun: int) -> list[str]:
    return [p["status"] for p in cs.payloads("StatusNotification") if p["connector_id"] == gun]


async def _booted(cs: FakeCentral, fleet: Fleet) -> str:
    cp = _cp(fleet)
    await cs.wait_for(lambda: cs.actions(cp).count("StatusNotification") >= 3)
    return cp


async def test_boot_statuses_and_heartbeats(tmp_path: Path) -> None:
    async with FakeCentral(heartbeat_interval=1) as cs, _fleet(cs, tmp_path) as fleet:
        cp = _cp(fleet)
        await cs.wait_for(lambda: cs.actions(cp).count("Heartbeat") >= 2)
        (boot,) = cs.payloads("BootNotification")
        spec = fleet.piles[0].spec
        assert (boot["charge_point_vendor"], boot["charge_point_model"]) == (
            spec.vendor,
            spec.model,
        )
        assert boot["firmware_version"] == spec.firmware
        statuses = {(p["connector_id"], p["status"]) for p in cs.payloads("StatusNotification")}
        assert statuses == {(0, "Available"), (1, "Available"), (2, "Available")}
        assert fleet.client(0).heartbeat_interval_s == 1.0  # the interval the boot answer gave
        assert fleet.stats.logins == 1 and fleet.stats.nacks == 0


async def test_card_session_remote_stop_and_transaction_data(tmp_path: Path) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        pile = fleet.piles[0]
        said: list[tuple[str, Any]] = []  # the conversation in the pile model's words
        fleet.client(0).on_frame = lambda way, seq, msg: said.append((way, msg))
        cp = await _booted(cs, fleet)
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car())
        fleet.client(0).poke()
        await cs.wait_for(lambda: len(cs.payloads("MeterValues")) >= 2)
        (auth,) = cs.payloads("Authorize")
        (start,) = cs.payloads("StartTransaction")
        assert start["id_tag"] == auth["id_tag"] and start["connector_id"] == 1
        meter = cs.payloads("MeterValues")[0]
        assert meter["transaction_id"] == 1001  # the id the central system gave
        measurands = {v.get("measurand") for v in meter["meter_value"][0]["sampled_value"]}
        assert {"Energy.Active.Import.Register", "Power.Active.Import", "SoC"} <= measurands

        answer = await cs.call(cp, call.RemoteStopTransaction(transaction_id=1001))
        assert answer.status == enums.RemoteStartStopStatus.accepted
        await cs.wait_for(lambda: cs.payloads("StopTransaction"))
        (stop,) = cs.payloads("StopTransaction")
        assert stop["transaction_id"] == 1001 and stop["reason"] == "Remote"
        assert stop["meter_stop"] > start["meter_start"]
        data = stop["transaction_data"]
        assert data[0]["sampled_value"][0]["context"] == "Transaction.Begin"
        assert data[-1]["sampled_value"][0]["context"] == "Transaction.End"
        assert data[-1]["sampled_value"][0]["value"] == str(stop["meter_stop"])
        await cs.wait_for(
            lambda: _statuses(cs, 1)[-1:] == ["Available"] and len(_statuses(cs, 1)) > 1
        )
        assert _statuses(cs, 1) == ["Available", "Preparing", "Charging", "Finishing", "Available"]
        await cs.wait_for(lambda: len(pile.store) == 0)  # its stop answered: the bill is gone
        assert fleet.stats.bills_sent == fleet.stats.bills_acked == 1
        heard = [m for way, m in said if way == "in"]
        assert StopCharge(0, "1001", StopReason.REMOTE) in heard
        assert BillAck("1001", BillAckStatus.ACCEPTED) in heard
        assert any(isinstance(m, StartResult) for way, m in said if way == "out")


async def test_remote_start_uses_the_central_systems_id_tag(tmp_path: Path) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        cp = await _booted(cs, fleet)
        answer = await cs.call(cp, call.RemoteStartTransaction(id_tag="APP-USER-7", connector_id=2))
        assert answer.status == enums.RemoteStartStopStatus.accepted
        await cs.wait_for(lambda: cs.payloads("StartTransaction"))
        (start,) = cs.payloads("StartTransaction")
        assert (start["id_tag"], start["connector_id"]) == ("APP-USER-7", 2)
        assert "Authorize" not in cs.actions(cp)  # AuthorizeRemoteTxRequests is false
        busy = await cs.call(cp, call.RemoteStartTransaction(id_tag="OTHER", connector_id=2))
        assert busy.status == enums.RemoteStartStopStatus.rejected


async def test_refused_tag_starts_nothing(tmp_path: Path) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        cs.authorize = lambda tag: enums.AuthorizationStatus.invalid
        pile = fleet.piles[0]
        cp = await _booted(cs, fleet)
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car())
        fleet.client(0).poke()
        await cs.wait_for(lambda: cs.payloads("Authorize"))
        await asyncio.sleep(0.5)  # the handshake would take 1 pile second = 17 ms
        assert "StartTransaction" not in cs.actions(cp)


async def test_configuration_availability_reset_and_unknown_calls(tmp_path: Path) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        cp = await _booted(cs, fleet)
        conf = await cs.call(cp, call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
        assert conf.configuration_key == [
            {"key": "HeartbeatInterval", "readonly": False, "value": "30"}
        ]
        assert conf.unknown_key == ["Nope"]
        ro = await cs.call(cp, call.ChangeConfiguration(key="NumberOfConnectors", value="4"))
        assert ro.status == enums.ConfigurationStatus.rejected
        unknown = await cs.call(cp, call.ChangeConfiguration(key="Nope", value="1"))
        assert unknown.status == enums.ConfigurationStatus.not_supported
        ok = await cs.call(cp, call.ChangeConfiguration(key="HeartbeatInterval", value="7"))
        assert ok.status == enums.ConfigurationStatus.accepted
        assert fleet.client(0).heartbeat_interval_s == 7.0

        off = await cs.call(
            cp, call.ChangeAvailability(connector_id=2, type=enums.AvailabilityType.inoperative)
        )
        assert off.status == enums.AvailabilityStatus.accepted
        await cs.wait_for(lambda: _statuses(cs, 2)[-1:] == ["Unavailable"])

        with pytest.raises(OCPPError) as refused:
            await cs.call(
                cp,
                call.ReserveNow(
                    connector_id=1, expiry_date="2030-01-01T00:00:00Z", id_tag="X", reservation_id=1
                ),
            )
        assert type(refused.value).__name__ == "NotImplementedError"

        reset = await cs.call(cp, call.Reset(type=enums.ResetType.soft))
        assert reset.status == enums.ResetStatus.accepted
        await cs.wait_for(lambda: cs.actions(cp).count("BootNotification") == 2)


async def test_basic_auth_password(tmp_path: Path) -> None:
    async with FakeCentral(password="s3cret-pass") as cs:
        async with _fleet(cs, tmp_path, ocpp_password="s3cret-pass") as fleet:
            await cs.wait_for(lambda: cs.payloads("BootNotification"))
        async with _fleet(cs, tmp_path, ocpp_password="wrong", pile_id_offset=1) as fleet:
            await cs.wait_for(lambda: cs.refused)
            assert fleet.stats.logins == 0 and fleet.stats.connect_errors >= 1
        assert len(cs.payloads("BootNotification")) == 1


async def test_offline_charger_loses_the_link_as_its_stop_goes_out_and_sends_it_again(
    tmp_path: Path,
) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        pile, client = fleet.piles[0], fleet.client(0)
        pile.force_fault("offline_with_bills", gun=1, offline_s=1.0)
        cp = await _booted(cs, fleet)
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car(user_stop_after_ms=120_000))
        client.poke()

        def stop_after_the_reboot() -> bool:
            actions = cs.actions(cp)
            boots = [i for i, a in enumerate(actions) if a == "BootNotification"]
            return len(boots) >= 2 and "StopTransaction" in actions[boots[1] :]

        await cs.wait_for(stop_after_the_reboot, timeout=15)
        # The first copy went out as the link died: its answer never reached the charger.
        assert fleet.stats.bills_sent == 1 and fleet.stats.bills_resent == 1
        stops = cs.payloads("StopTransaction")
        assert all(stop == stops[-1] for stop in stops)  # the same message each time
        (start,) = cs.payloads("StartTransaction")
        stopped = datetime.fromisoformat(stops[-1]["timestamp"])
        started = datetime.fromisoformat(start["timestamp"])
        assert stopped - started == timedelta(minutes=2)  # the charger's own times, kept
        await cs.wait_for(lambda: client.bills_held == 0 and fleet.stats.bills_acked == 1)
        assert fleet.stats.logins == 2  # offline once, at the stop; not again at the unplug


async def test_a_duplicate_stops_answer_is_reported_too(tmp_path: Path) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        pile, client = fleet.piles[0], fleet.client(0)
        acks: list[BillAck] = []
        client.on_frame = lambda way, seq, msg: isinstance(msg, BillAck) and acks.append(msg)
        pile.force_fault("duplicate_bill", gun=1)
        await _booted(cs, fleet)
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car(user_stop_after_ms=60_000))
        client.poke()
        await cs.wait_for(lambda: len(cs.payloads("StopTransaction")) == 2, timeout=15)
        first, again = cs.payloads("StopTransaction")
        assert first == again
        await cs.wait_for(lambda: len(acks) == 2)  # each copy's answer, as a BILL_ACK
        assert {a.transaction_id for a in acks} == {str(first["transaction_id"])}
        assert fleet.stats.bills_acked == 1 and fleet.stats.bills_duplicate == 1
        assert client.bills_held == 0


async def test_a_stop_whose_answer_was_lost_is_sent_again_after_the_next_boot(
    tmp_path: Path,
) -> None:
    async with FakeCentral() as cs, _fleet(cs, tmp_path) as fleet:
        cs.drop_before_answering_stop = True
        pile = fleet.piles[0]
        cp = await _booted(cs, fleet)
        pile.plug_in(1, fleet.now_ms(), auth="card", car=_car(user_stop_after_ms=60_000))
        fleet.client(0).poke()
        await cs.wait_for(lambda: len(cs.payloads("StopTransaction")) == 2, timeout=15)
        first, again = cs.payloads("StopTransaction")
        assert first == again  # the same message, its original times
        actions = cs.actions(cp)
        assert actions.index("BootNotification", 1) < len(actions) - actions[::-1].index(
            "StopTransaction"
        )
        await cs.wait_for(lambda: len(pile.store) == 0)
        assert fleet.stats.bills_acked == 1
