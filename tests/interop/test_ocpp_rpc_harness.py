"""The ocpp-rpc charger harness works: against a central system built on the `ocpp` package
(tests/simulators/fake_central.py) it boots, heartbeats, authorises, runs a transaction with
meter values, answers a remote start and stop, and reports what it saw; a wrong password
gets it refused. The gateway-side tests use the same harness."""

from __future__ import annotations

import asyncio

from ocpp.v16 import call, enums

from tests.interop.ocpp_rpc_charger import require_ocpp_rpc, run_charger
from tests.simulators.fake_central import FakeCentral


async def test_charger_script_against_an_ocpp_package_central_system() -> None:
    require_ocpp_rpc()
    async with FakeCentral() as cs:
        charger = asyncio.create_task(run_charger(cs.url, "RPC-CP-1", remote_wait_s=10))
        await cs.wait_for(lambda: cs.payloads("StopTransaction"), timeout=15)
        started = await cs.call(
            "RPC-CP-1", call.RemoteStartTransaction(id_tag="APP-9", connector_id=1)
        )
        assert started.status == enums.RemoteStartStopStatus.accepted
        await cs.wait_for(lambda: len(cs.payloads("StartTransaction")) == 2, timeout=15)
        stopped = await cs.call("RPC-CP-1", call.RemoteStopTransaction(transaction_id=1002))
        assert stopped.status == enums.RemoteStartStopStatus.accepted
        run = await charger

    assert run.returncode == 0, run.output
    assert run.first("connected")["protocol"] == "ocpp1.6"
    assert run.first("boot")["status"] == "Accepted"
    assert run.first("authorize")["status"] == "Accepted"
    assert [e["transactionId"] for e in run.all("start_transaction")] == [1001, 1002]
    assert run.first("remote_start")["idTag"] == "APP-9"
    assert run.first("remote_stop_request")["transactionId"] == 1002
    assert len(run.all("meter_values")) == 4
    assert run.events[-1]["event"] == "done"

    first_stop, second_stop = cs.payloads("StopTransaction")
    assert (first_stop["reason"], second_stop["reason"]) == ("Local", "Remote")
    assert first_stop["meter_stop"] == 2100 and len(first_stop["transaction_data"]) == 4
    assert cs.payloads("StartTransaction")[1]["id_tag"] == "APP-9"


async def test_charger_with_a_wrong_password_is_refused() -> None:
    require_ocpp_rpc()
    async with FakeCentral(password="right-password") as cs:
        run = await run_charger(cs.url, "RPC-CP-2", password="wrong-password", timeout_s=10)
    assert run.returncode == 1, run.output
    assert run.first("error")["step"] == "connect"
    assert not cs.seen and cs.refused
