"""OCPP 1.6J Firmware Management, Local Auth List, Reservation, Smart Charging and Remote
Trigger profiles: central-system cases of the checklist (TC ids as in SteVe's mirror). The
operator sends each command as an OCPP payload; the result is the charger's own answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from gateway.adapters.ocpp16 import operator
from gateway.app import Gateway
from tests.ocpp.conftest import CARD, CP
from tests.ocpp.support import TestChargePoint, connected, iso, now


async def send(gateway: Gateway, action: str, payload: dict[str, Any]) -> operator.CommandAnswer:
    assert gateway.ocpp is not None
    charger = gateway.ocpp.chargers[CP]
    return await operator.send(charger, gateway.storage, action, payload, gateway.now_ms())


async def booted(cp: TestChargePoint) -> TestChargePoint:
    await cp.cold_boot()
    return cp


# --- firmware management ------------------------------------------------------------------------

UPDATE = {"location": "ftp://127.0.0.1/firmware.bin", "retrieveDate": "2026-01-01T00:00:00Z",
          "retries": 1, "retryInterval": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("tc", "statuses"),
    [("044_1", ["Downloading", "Downloaded", "Installing", "Installed"]),
     ("044_2", ["Downloading", "DownloadFailed"]),
     ("044_3", ["Downloading", "Downloaded", "Installing", "InstallationFailed"])],
)  # fmt: skip
async def test_tc_044_firmware_update(
    gateway: Gateway, port: int, tc: str, statuses: list[str]
) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        answer = await send(gateway, "UpdateFirmware", UPDATE)
        assert answer.status == "Accepted" and answer.response == {}  # an empty conf
        for status in statuses:
            if status == "Installing":
                for connector in (0, 1, 2):
                    await cp.status(connector, "Unavailable")
            assert await cp.call(call.FirmwareStatusNotification(status=status)) is not None
        if tc != "044_2":
            assert (await cp.boot()).status == "Accepted"  # the reboot after installing
            for connector in (0, 1, 2):
                await cp.status(connector, "Available")


@pytest.mark.parametrize(("tc", "last"), [("045_1", "Uploaded"), ("045_2", "UploadFailed")])
async def test_tc_045_get_diagnostics(gateway: Gateway, port: int, tc: str, last: str) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        answer = await send(
            gateway, "GetDiagnostics",
            {"location": "ftp://127.0.0.1/diag", "retries": 1, "retryInterval": 1,
             "startTime": iso(now() - timedelta(hours=1)), "stopTime": iso(now())},
        )  # fmt: skip
        assert answer.response == {"fileName": "diagnostics.log"}
        for status in ("Uploading", last):
            assert await cp.call(call.DiagnosticsStatusNotification(status=status)) is not None


# --- local auth list management -------------------------------------------------------------------


@pytest.mark.parametrize(("tc", "version"), [("042_1", -1), ("042_2", 0)])
async def test_tc_042_get_local_list_version(
    gateway: Gateway, port: int, tc: str, version: int
) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        cp.answers["GetLocalListVersion"] = {"list_version": version}
        answer = await send(gateway, "GetLocalListVersion", {})
        assert answer.response == {"listVersion": version}  # -1: not supported, as said


ENTRY = {"idTag": CARD, "idTagInfo": {"status": "Accepted"}}
LOCAL_LIST = {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [ENTRY]}


@pytest.mark.parametrize(
    ("tc", "status"), [("043_1", "NotSupported"), ("043_3", "Failed"), ("043_4", "Accepted")]
)
async def test_tc_043_send_local_list(gateway: Gateway, port: int, tc: str, status: str) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        cp.answers["SendLocalList"] = {"status": status}
        assert (await send(gateway, "SendLocalList", LOCAL_LIST)).status == status


async def test_tc_043_5_send_local_list_differential(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        cp.answers["GetLocalListVersion"] = {"list_version": 1}
        assert (await send(gateway, "GetLocalListVersion", {})).response == {"listVersion": 1}
        entry = {**ENTRY, "idTag": "NEWTAG"}
        diff = {"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [entry]}
        assert (await send(gateway, "SendLocalList", diff)).status == "Accepted"
        assert (await cp.wait_for("SendLocalList"))["update_type"] == "Differential"


# --- reservation --------------------------------------------------------------------------------


def reserve(connector: int = 1, **extra: Any) -> dict[str, Any]:
    return {"connectorId": connector, "expiryDate": iso(now() + timedelta(hours=1)),
            "idTag": CARD, **extra}  # fmt: skip


async def test_tc_046_reserve_a_connector_then_use_it(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        assert (await send(gateway, "ReserveNow", reserve())).status == "Accepted"
        reservation_id = (await cp.wait_for("ReserveNow"))["reservation_id"]  # the database's
        await cp.status(1, "Reserved")
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        await cp.status(1, "Preparing")
        started = await cp.start_tx(CARD, reservation_id=reservation_id)
        assert started.id_tag_info["status"] == "Accepted"
        kept = await gateway.storage.reservations(CP)
        assert [(r["status"], r["transaction_id"]) for r in kept] == [
            ("used", started.transaction_id)
        ]


async def test_tc_047_reservation_expires(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        assert (await send(gateway, "ReserveNow", reserve())).status == "Accepted"
        await cp.status(1, "Reserved")
        await cp.status(1, "Available")  # expired at the charger
        assert [r["status"] for r in await gateway.storage.reservations(CP)] == ["accepted"]


@pytest.mark.parametrize(
    ("tc", "status"),
    [("048_1", "Faulted"), ("048_2", "Occupied"), ("048_3", "Unavailable"),
     ("048_4", "Rejected")],
)  # fmt: skip
async def test_tc_048_reservation_refused(
    gateway: Gateway, port: int, tc: str, status: str
) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        if tc == "048_3":
            answer = await send(gateway, "ChangeAvailability",
                                {"connectorId": 1, "type": "Inoperative"})  # fmt: skip
            assert answer.status == "Accepted"
            await cp.status(1, "Unavailable")
        cp.answers["ReserveNow"] = {"status": status}
        assert (await send(gateway, "ReserveNow", reserve())).status == status
        assert await gateway.storage.reservations(CP) == []  # nothing kept


async def test_tc_049_reserve_the_whole_charge_point(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        assert (await send(gateway, "ReserveNow", reserve(0))).status == "Accepted"
        assert await cp.status(1, "Reserved") is not None


async def test_tc_051_cancel_reservation(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        await send(gateway, "ReserveNow", reserve())
        reservation_id = (await cp.wait_for("ReserveNow"))["reservation_id"]
        await cp.status(1, "Reserved")
        answer = await send(gateway, "CancelReservation", {"reservationId": reservation_id})
        assert answer.status == "Accepted"
        await cp.status(1, "Available")
        assert [r["status"] for r in await gateway.storage.reservations(CP)] == ["cancelled"]


async def test_tc_052_cancel_reservation_rejected(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        await send(gateway, "ReserveNow", reserve())
        reservation_id = (await cp.wait_for("ReserveNow"))["reservation_id"]
        cp.answers["CancelReservation"] = {"status": "Rejected"}
        answer = await send(gateway, "CancelReservation", {"reservationId": reservation_id})
        assert answer.status == "Rejected"
        assert [r["status"] for r in await gateway.storage.reservations(CP)] == ["accepted"]


async def test_tc_053_reservation_with_parent_id_tag(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        answer = await send(gateway, "ReserveNow", reserve(parentIdTag="PARENT"))
        assert answer.status == "Accepted"
        request = await cp.wait_for("ReserveNow")
        assert request["parent_id_tag"] == "PARENT"
        await cp.status(1, "Reserved")
        started = await cp.start_tx(CARD, reservation_id=request["reservation_id"])
        assert started.id_tag_info["status"] == "Accepted"
        assert [r["status"] for r in await gateway.storage.reservations(CP)] == ["used"]


# --- smart charging -----------------------------------------------------------------------------


def profile(purpose: str, profile_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id, "stackLevel": 0, "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute", **extra,
        "chargingSchedule": {"startSchedule": iso(now()), "duration": 3600,
                             "chargingRateUnit": "W",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0,
                                                         "numberPhases": 3}]},
    }  # fmt: skip


async def running(cp: TestChargePoint) -> int:
    await cp.status(1, "Preparing")
    started = await cp.start_tx(CARD)
    await cp.status(1, "Charging")
    return int(started.transaction_id)


async def test_tc_056_tx_default_profile(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        payload = {"connectorId": 1, "csChargingProfiles": profile("TxDefaultProfile")}
        assert (await send(gateway, "SetChargingProfile", payload)).status == "Accepted"


async def test_tc_057_tx_profile(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        tx = await running(cp)
        payload = {"connectorId": 1, "csChargingProfiles": profile("TxProfile", transactionId=tx)}
        assert (await send(gateway, "SetChargingProfile", payload)).status == "Accepted"
        sent = await cp.wait_for("SetChargingProfile")
        assert sent["cs_charging_profiles"]["transaction_id"] == tx


async def test_tc_059_remote_start_with_charging_profile(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        payload = {"idTag": CARD, "connectorId": 1, "chargingProfile": profile("TxProfile")}
        assert (await send(gateway, "RemoteStartTransaction", payload)).status == "Accepted"
        assert (await cp.call(call.Authorize(id_tag=CARD))).id_tag_info["status"] == "Accepted"
        await running(cp)
        assert gateway.piles[CP].guns[1].session is not None


async def test_tc_066_get_composite_schedule(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        schedule = {"charging_rate_unit": "W", "duration": 300,
                    "charging_schedule_period": [{"start_period": 0, "limit": 6.0}]}  # fmt: skip
        cp.answers["GetCompositeSchedule"] = {
            "status": "Accepted", "connector_id": 1, "schedule_start": iso(now()),
            "charging_schedule": schedule,
        }  # fmt: skip
        payload = {"connectorId": 1, "duration": 300, "chargingRateUnit": "W"}
        answer = await send(gateway, "GetCompositeSchedule", payload)
        assert answer.status == "Accepted" and answer.response is not None
        assert answer.response["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 6.0
        assert "scheduleStart" in answer.response


async def test_tc_067_clear_charging_profile(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        tx = await running(cp)
        for connector, prof in (
            (0, profile("ChargePointMaxProfile", 1)),
            (1, profile("TxDefaultProfile", 2)),
            (1, profile("TxProfile", 3, transactionId=tx)),
        ):
            payload = {"connectorId": connector, "csChargingProfiles": prof}
            assert (await send(gateway, "SetChargingProfile", payload)).status == "Accepted"
        for criteria in (
            {"id": 1},
            {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0},
            {},
        ):
            assert (await send(gateway, "ClearChargingProfile", criteria)).status == "Accepted"


# --- remote trigger -----------------------------------------------------------------------------


async def test_tc_054_trigger_message(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        for requested, connector in (
            ("MeterValues", 1), ("Heartbeat", None), ("StatusNotification", 1),
            ("DiagnosticsStatusNotification", None), ("FirmwareStatusNotification", None),
        ):  # fmt: skip
            payload = {"requestedMessage": requested}
            if connector is not None:
                payload["connectorId"] = connector  # type: ignore[assignment]
            assert (await send(gateway, "TriggerMessage", payload)).status == "Accepted"
        sample = {"timestamp": iso(now()), "sampled_value": [{"value": "0"}]}
        assert await cp.call(call.MeterValues(connector_id=1, meter_value=[sample])) is not None
        assert await cp.call(call.Heartbeat()) is not None
        assert await cp.status(1, "Available") is not None
        assert await cp.call(call.DiagnosticsStatusNotification(status="Idle")) is not None
        assert await cp.call(call.FirmwareStatusNotification(status="Idle")) is not None


async def test_tc_055_trigger_message_rejected(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        cp.answers["TriggerMessage"] = {"status": "Rejected"}
        payload = {"requestedMessage": "MeterValues", "connectorId": 1}
        assert (await send(gateway, "TriggerMessage", payload)).status == "Rejected"


async def test_operator_payload_is_checked_before_anything_is_sent(
    gateway: Gateway, port: int
) -> None:
    async with connected(port, CP) as cp:
        await booted(cp)
        with pytest.raises(operator.BadCommand, match="Reset"):
            await send(gateway, "Reset", {"type": "Sideways"})
        with pytest.raises(operator.BadCommand, match="central-system"):
            await send(gateway, "BootNotification", {})
        assert [a for a, _ in cp.received if a == "Reset"] == []
