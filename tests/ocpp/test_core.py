"""OCPP 1.6J Core profile, central-system cases of the OCA compliance checklist (TC ids as in
SteVe's mirror), plus the transaction pitfalls seen in the field. The charge point is the
`ocpp` package's ChargePoint over a real WebSocket; assertions are on what the gateway
answered, what the operator gets and what the database keeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import websockets
from ocpp.v16 import call

from gateway.adapters.ocpp16 import operator
from gateway.app import Gateway
from sessions import Phase
from tests.gateway.conftest import FakeClock
from tests.ocpp.conftest import ACCOUNT, BLOCKED_CARD, CARD, CP
from tests.ocpp.reads import anomalies_of, bill_of, bills_of, eventually, session_row
from tests.ocpp.support import TestChargePoint, connected, hours_ago, iso, now, url


def phase(gateway: Gateway, connector: int) -> Phase | None:
    state = gateway.piles[CP].guns[connector]
    return None if state.session is None else state.session.phase


async def operator_call(gateway: Gateway, action: str, payload: dict[str, object]) -> str:
    assert gateway.ocpp is not None
    charger = gateway.ocpp.chargers[CP]
    answer = await operator.send(charger, gateway.storage, action, payload, gateway.now_ms())
    return answer.status


async def charging(cp: TestChargePoint, id_tag: str = CARD, meter: int = 1000) -> int:
    """TC_003's steps: Preparing, Authorize, StartTransaction, Charging; the transaction id."""
    await cp.status(1, "Preparing")
    assert (await cp.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"] == "Accepted"
    started = await cp.start_tx(id_tag, meter=meter)
    assert started.id_tag_info["status"] == "Accepted"
    await cp.status(1, "Charging")
    return int(started.transaction_id)


async def test_tc_001_cold_boot(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted" and boot.interval > 0 and boot.current_time
        for connector in (0, 1, 2):
            assert await cp.status(connector, "Available") is not None  # {} is a CALLRESULT
        heartbeat = await cp.call(call.Heartbeat())
        assert heartbeat.current_time
        assert gateway.piles[CP].online


async def test_tc_003_regular_session_plug_in_first(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp)
        assert tx > 0
        assert phase(gateway, 1) is Phase.CHARGING


async def test_tc_004_1_identification_first(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        started = await cp.start_tx(CARD)
        assert started.id_tag_info["status"] == "Accepted" and started.transaction_id > 0
        await cp.status(1, "Charging")
        assert phase(gateway, 1) is Phase.CHARGING


async def test_tc_004_2_identification_first_connection_timeout(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing")
        await cp.status(1, "Available")
        assert await gateway.storage.count_ocpp_transactions(CP) == 0
        assert phase(gateway, 1) is None


async def test_tc_005_1_ev_side_disconnected_and_billed(
    gateway: Gateway, port: int, clock: FakeClock
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        tx = (await cp.start_tx(CARD, meter=1000, at=at_ms(clock.ms))).transaction_id
        await cp.status(1, "Charging")
        await clock.advance(gateway, 3600)  # an hour of charging
        await cp.status(1, "SuspendedEV")
        stopped = await cp.stop_tx(
            tx, 11_000, reason="EVDisconnected", id_tag=CARD, at=at_ms(clock.ms)
        )
        assert stopped.id_tag_info["status"] == "Accepted"
        await cp.status(1, "Finishing")
        await cp.status(1, "Available")
        row = await gateway.storage.ocpp_transaction(CP, tx)
        assert row is not None and row.session_tx is not None
        bill = await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx), what="bill")
        # The gateway's own bill: 10 kWh from the charger's meter, priced by tariff; the
        # charger reported no amounts, so no amount finding and no anomaly code.
        assert bill["energy_dwh"] == 100_000 and bill["our_total_fen"] > 0
        assert bill["anomaly_codes"] == "" and bill["account"] == ACCOUNT
        assert bill["stop_reason"] > 0


async def test_tc_007_start_with_cached_id_without_authorize(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        started = await cp.start_tx(CARD)
        assert started.id_tag_info["status"] == "Accepted" and started.transaction_id > 0
        await cp.status(1, "Charging")
        assert phase(gateway, 1) is Phase.CHARGING


async def remote_start(gateway: Gateway, connector: int = 1) -> asyncio.Task[object]:
    pile = gateway.piles[CP]
    return asyncio.create_task(pile.start(connector, ACCOUNT, "operator"))


async def test_tc_010_remote_start_cable_plugged_first(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        result = await (await remote_start(gateway))
        request = await cp.wait_for("RemoteStartTransaction")
        assert result.outcome.value == "accepted" and request["connector_id"] == 1  # type: ignore[attr-defined]
        id_tag = request["id_tag"]
        assert (await cp.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"] == "Accepted"
        started = await cp.start_tx(id_tag)
        assert started.id_tag_info["status"] == "Accepted"
        await cp.status(1, "Charging")
        session = gateway.piles[CP].guns[1].session
        assert session is not None and session.phase is Phase.CHARGING
        assert session.transaction_id == result.transaction_id  # type: ignore[attr-defined]


async def test_tc_011_1_remote_start_first(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        result = await (await remote_start(gateway))
        assert result.outcome.value == "accepted"  # type: ignore[attr-defined]
        id_tag = (await cp.wait_for("RemoteStartTransaction"))["id_tag"]
        assert (await cp.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing")
        assert (await cp.start_tx(id_tag)).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Charging")
        assert phase(gateway, 1) is Phase.CHARGING


async def test_tc_011_2_remote_start_connection_timeout(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await (await remote_start(gateway))
        id_tag = (await cp.wait_for("RemoteStartTransaction"))["id_tag"]
        assert (await cp.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing")
        await cp.status(1, "Available")
        assert await gateway.storage.count_ocpp_transactions(CP) == 0  # none invented


async def test_tc_012_remote_stop(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp)
        result = await gateway.piles[CP].stop(1)
        assert result.outcome.value == "accepted"
        assert (await cp.wait_for("RemoteStopTransaction"))["transaction_id"] == tx
        assert await cp.stop_tx(tx, 5000, reason="Remote") is not None
        await cp.status(1, "Finishing")
        await cp.status(1, "Available")
        assert phase(gateway, 1) in (Phase.SETTLED, Phase.CLOSED)


@pytest.mark.parametrize("kind", ["Hard", "Soft"])
async def test_tc_013_014_reset(gateway: Gateway, port: int, kind: str) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert await operator_call(gateway, "Reset", {"type": kind}) == "Accepted"
        assert (await cp.wait_for("Reset"))["type"] == kind
    async with connected(port, CP) as cp:  # rebooted
        await cp.cold_boot()
        assert gateway.piles[CP].online


@pytest.mark.parametrize(
    ("tc", "answer"),
    [("017_1", "Unlocked"), ("017_2", "NotSupported"), ("030", "UnlockFailed"),
     ("031", "NotSupported")],
)  # fmt: skip
async def test_tc_017_030_031_unlock_connector(
    gateway: Gateway, port: int, tc: str, answer: str
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["UnlockConnector"] = {"status": answer}
        assert await operator_call(gateway, "UnlockConnector", {"connectorId": 1}) == answer


async def test_tc_018_1_unlock_during_a_session(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp)
        assert await operator_call(gateway, "UnlockConnector", {"connectorId": 1}) == "Unlocked"
        await cp.status(1, "Finishing")
        assert await cp.stop_tx(tx, 3000, reason="UnlockCommand") is not None
        await cp.status(1, "Available")
        row = await gateway.storage.ocpp_transaction(CP, tx)
        assert row is not None and row.stop_reason == "UnlockCommand"


CONFIGURATION = [
    {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "30"},
    {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging"},
    {"key": "AuthorizationKey", "readonly": False, "value": "00112233445566778899"},
]


async def test_tc_019_1_retrieve_all_configuration_keys(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["GetConfiguration"] = {"configuration_key": CONFIGURATION, "unknown_key": []}
        assert await operator_call(gateway, "GetConfiguration", {}) == "Accepted"
        kept = {k["key"]: k for k in await gateway.storage.config_keys(CP)}
        assert set(kept) == {k["key"] for k in CONFIGURATION}
        assert kept["NumberOfConnectors"]["readonly"] is True
        assert kept["HeartbeatInterval"]["readonly"] is False
        assert kept["HeartbeatInterval"]["value"] == "60"
        assert kept["AuthorizationKey"]["value"] is None  # write-only: never kept in clear


async def test_tc_019_2_retrieve_one_key(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["GetConfiguration"] = {"configuration_key": CONFIGURATION[3:4]}
        payload = {"key": ["SupportedFeatureProfiles"]}
        assert await operator_call(gateway, "GetConfiguration", payload) == "Accepted"
        assert (await cp.wait_for("GetConfiguration"))["key"] == ["SupportedFeatureProfiles"]
        assert [k["key"] for k in await gateway.storage.config_keys(CP)] == [
            "SupportedFeatureProfiles"
        ]


@pytest.mark.parametrize(
    ("tc", "key", "value", "answer"),
    [("021", "MeterValueSampleInterval", "60", "Accepted"),
     ("040_1", "VendorCustomKey", "1", "NotSupported"),
     ("040_2", "MeterValueSampleInterval", "INVALID_VALUE", "Rejected")],
)  # fmt: skip
async def test_tc_021_040_change_configuration(
    gateway: Gateway, port: int, tc: str, key: str, value: str, answer: str
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["ChangeConfiguration"] = {"status": answer}
        payload = {"key": key, "value": value}
        assert await operator_call(gateway, "ChangeConfiguration", payload) == answer


async def test_tc_023_1_authorize_invalid_tag(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        answer = await cp.call(call.Authorize(id_tag="UNKNOWN-TAG"))
        assert answer.id_tag_info["status"] == "Invalid"


async def test_tc_023_3_authorize_blocked_tag(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        answer = await cp.call(call.Authorize(id_tag=BLOCKED_CARD))
        assert answer.id_tag_info["status"] == "Blocked"


async def test_tc_024_connector_lock_failure(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing")
        assert await cp.status(1, "Faulted", error="ConnectorLockFailure") is not None
        assert gateway.piles[CP].guns[1].reported.value == "faulted"


async def test_tc_026_remote_start_rejected(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["RemoteStartTransaction"] = {"status": "Rejected"}
        result = await (await remote_start(gateway))
        assert result.outcome.value == "rejected" and result.reason == "Rejected"  # type: ignore[attr-defined]
        assert await gateway.storage.count_ocpp_transactions(CP) == 0


async def test_tc_028_remote_stop_rejected_not_prefiltered(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["RemoteStopTransaction"] = {"status": "Rejected"}
        status = await operator_call(gateway, "RemoteStopTransaction", {"transactionId": 987654})
        assert status == "Rejected"  # the charger's word: the id was not refused before it
        assert (await cp.wait_for("RemoteStopTransaction"))["transaction_id"] == 987654


async def test_tc_032_1_power_failure_during_a_transaction(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp, meter=0)
    async with connected(port, CP) as cp:  # power back: boots again
        await cp.boot()
        await cp.status(0, "Available")
        await cp.status(1, "Finishing")
        await cp.status(2, "Available")
        assert await cp.stop_tx(tx, 4000, reason="PowerLoss") is not None
        await cp.status(1, "Available")
        row = await gateway.storage.ocpp_transaction(CP, tx)
        assert row is not None and row.stop_reason == "PowerLoss"
        bill = await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx or ""))
        assert bill["energy_dwh"] == 40_000


async def test_tc_037_1_offline_start_valid_tag(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        at = hours_ago(4)
        started = await cp.start_tx(CARD, at=at)
        assert started.id_tag_info["status"] == "Accepted" and started.transaction_id > 0
        await cp.status(1, "Charging", timestamp=at.isoformat())
        row = await gateway.storage.ocpp_transaction(CP, started.transaction_id)
        assert row is not None and abs(row.start_ms - at.timestamp() * 1000) < 1000


async def test_tc_037_3_offline_start_invalid_tag(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        started = await cp.start_tx("UNKNOWN-TAG", at=hours_ago(4))
        assert started.transaction_id > 0  # a real id, whatever the tag
        assert started.id_tag_info["status"] == "Invalid"
        await cp.status(1, "Charging")
        assert await cp.stop_tx(started.transaction_id, 500, reason="DeAuthorized") is not None
        await cp.status(1, "Finishing")
        assert await bills_of(gateway.storage, CP) == []  # no account, no bill


async def test_tc_039_offline_transaction_keeps_charger_times(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        started_at, stopped_at = hours_ago(4), hours_ago(3)
        started = await cp.start_tx(CARD, at=started_at, meter=0)
        assert started.id_tag_info["status"] == "Accepted" and started.transaction_id > 0
        assert await cp.stop_tx(started.transaction_id, 7000, reason="Local", at=stopped_at)
        await cp.status(1, "Available")
        row = await gateway.storage.ocpp_transaction(CP, started.transaction_id)
        assert row is not None and row.stop_ms is not None
        assert abs(row.start_ms - started_at.timestamp() * 1000) < 1000
        assert abs(row.stop_ms - stopped_at.timestamp() * 1000) < 1000
        bill = await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx or ""))
        assert bill["charge_start_ms"] == row.start_ms and bill["charge_end_ms"] == row.stop_ms


async def test_tc_061_clear_cache(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert await operator_call(gateway, "ClearCache", {}) == "Accepted"


async def test_tc_064_data_transfer_from_the_charge_point(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        answer = await cp.call(
            call.DataTransfer(vendor_id="specific-vendor-id", message_id="x", data="y")
        )
        assert answer.status in ("Rejected", "UnknownMessageId", "UnknownVendorId")


async def test_tc_088_websocket_subprotocol_negotiation(gateway: Gateway, port: int) -> None:
    # Only an unknown subprotocol offered: no Sec-WebSocket-Protocol, closed at once.
    async with websockets.connect(url(port, CP), subprotocols=["ocpp0.1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    async with connected(port, CP, subprotocols=("ocpp0.1", "ocpp1.6")) as cp:
        assert cp._connection.subprotocol == "ocpp1.6"
        assert (await cp.boot()).status == "Accepted"


# --- transaction pitfalls seen in the field (docs/ocpp.md) ----------------------------------


async def test_retried_start_transaction_gets_the_same_id(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        at = now()
        first = await cp.start_tx(CARD, at=at, meter=100)
        again = await cp.start_tx(CARD, at=at, meter=100)
        assert again.transaction_id == first.transaction_id
        assert await gateway.storage.count_ocpp_transactions(CP) == 1


async def test_retried_stop_transaction_is_counted_once(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp, meter=0)
        at = now()
        assert await cp.stop_tx(tx, 2000, at=at) is not None
        await cp.status(1, "Available")
        assert await cp.stop_tx(tx, 2000, at=at) is not None  # the retry is answered too
        row = await gateway.storage.ocpp_transaction(CP, tx)
        assert row is not None
        await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx or ""))
        await asyncio.sleep(0.1)
        assert len(await bills_of(gateway.storage, CP)) == 1


@pytest.mark.parametrize("transaction_id", [-1, 0, 424242])
async def test_stop_for_an_unknown_transaction_is_answered_and_kept(
    gateway: Gateway, port: int, transaction_id: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        assert await cp.stop_tx(transaction_id, 1234, id_tag=CARD) is not None  # not a CALLERROR
        orphans = await gateway.storage.orphan_stops(CP)
        assert [o["transaction_id"] for o in orphans] == [transaction_id]
        assert orphans[0]["meter_stop_wh"] == 1234


async def test_available_without_stop_is_a_lost_bill_resolved_by_a_late_stop(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp, meter=0)
        await cp.status(1, "Available")  # unplugged, no StopTransaction
        row = await eventually(
            lambda: _flagged(gateway, tx), what="the transaction flagged as ended by the gateway"
        )
        assert phase(gateway, 1) is Phase.CLOSED  # ended by the gateway, waiting for the bill
        assert await cp.stop_tx(tx, 3000, reason="EVDisconnected") is not None  # arrives late
        bill = await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx or ""))
        assert bill["energy_dwh"] == 30_000
        assert phase(gateway, 1) in (None, Phase.SETTLED)
        assert not [a for a in await anomalies_of(gateway.storage, CP) if a["code"] == 1]


async def _flagged(gateway: Gateway, tx: int) -> object:
    row = await gateway.storage.ocpp_transaction(CP, tx)
    return row if row is not None and row.ended_by_gateway_ms is not None else None


async def test_meter_values_feed_the_time_of_use_split(
    gateway: Gateway, port: int, clock: FakeClock
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        started = await cp.start_tx(CARD, at=at_ms(clock.ms), meter=0)
        tx = started.transaction_id
        await cp.status(1, "Charging")
        for wh in (2000, 4000, 6000):
            await clock.advance(gateway, 1800)
            sample = {"timestamp": iso(at_ms(clock.ms)),
                      "sampled_value": [{"value": str(wh), "unit": "Wh"}]}  # fmt: skip
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[sample]))
        await clock.advance(gateway, 1800)
        assert await cp.stop_tx(tx, 8000, at=at_ms(clock.ms)) is not None
        await cp.status(1, "Finishing")
        await cp.status(1, "Available")
        row = await gateway.storage.ocpp_transaction(CP, tx)
        assert row is not None
        bill = await eventually(lambda: bill_of(gateway.storage, CP, row.session_tx or ""))
        assert bill["our_energy_dwh"] == 80_000 and bill["anomaly_codes"] == ""
        assert await session_row(gateway.storage, row.session_tx or "") is not None


def at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def test_a_remote_stop_the_charger_does_not_honour_raises_the_alarm(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        tx = await charging(cp)
        assert (await gateway.piles[CP].stop(1)).outcome.value == "accepted"
        assert (await cp.wait_for("RemoteStopTransaction"))["transaction_id"] == tx
        for _ in range(3):  # accepted, yet still charging: its heartbeats say so
            await cp.call(call.Heartbeat())

        async def alarmed() -> object:
            found = await anomalies_of(gateway.storage, CP)
            return [a for a in found if a["kind"] == "alarm:stop_not_honoured"]

        await eventually(alarmed, what="the stop-not-honoured alarm")


async def test_charging_on_a_refused_tag_is_stopped_by_the_gateway(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        started = await cp.start_tx("UNKNOWN-TAG")
        assert started.id_tag_info["status"] == "Invalid"
        await cp.status(1, "Charging")  # a charger that ignores the answer
        for _ in range(3):
            await cp.call(call.Heartbeat())
        request = await cp.wait_for("RemoteStopTransaction")
        assert request["transaction_id"] == started.transaction_id


async def rogue_alarms(gateway: Gateway) -> list[dict[str, object]]:
    found = await anomalies_of(gateway.storage, CP)
    return [a for a in found if a["kind"] == "alarm:charging_without_session"]


async def test_charging_reported_around_a_refused_start_the_charger_stops_is_no_alarm(
    gateway: Gateway, port: int
) -> None:
    """The charger started before it heard the refusal (the card's account already charges
    on connector 1: ConcurrentTx), reports Charging, then stops the transaction itself
    (StopTransactionOnInvalidId)."""
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await charging(cp)
        await cp.status(2, "Preparing")
        started = await cp.start_tx(CARD, connector=2, meter=1000)
        assert started.id_tag_info["status"] == "ConcurrentTx"
        await cp.status(2, "Charging")  # sent before the answer arrived
        await cp.stop_tx(started.transaction_id, meter=1001, reason="DeAuthorized")
        await cp.status(2, "Finishing")
        await cp.status(2, "Available")
        for _ in range(3):
            await cp.call(call.Heartbeat())
        await gateway.storage.flush()
        assert await rogue_alarms(gateway) == []
        assert [a for a, _ in cp.received if a == "RemoteStopTransaction"] == []


async def test_charging_reported_before_the_start_transaction_is_no_alarm(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Charging")  # energy flows, StartTransaction.req not yet sent
        started = await cp.start_tx(CARD, meter=1000)
        assert started.id_tag_info["status"] == "Accepted"
        await cp.call(call.Heartbeat())
        await cp.status(1, "Finishing")
        await cp.stop_tx(started.transaction_id, meter=2000)
        await cp.status(1, "Charging")  # a late status of the ended charge, then Finishing
        await cp.status(1, "Finishing")
        await cp.status(1, "Available")
        await gateway.storage.flush()
        assert await rogue_alarms(gateway) == []
        assert [a for a, _ in cp.received if a == "RemoteStopTransaction"] == []


async def test_charging_with_no_transaction_at_all_raises_the_alarm(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        await cp.status(1, "Preparing")
        await cp.status(1, "Charging")  # nobody authorised, no StartTransaction

        async def alarmed() -> object:
            return await rogue_alarms(gateway)

        await eventually(alarmed, what="the charging-without-session alarm")
