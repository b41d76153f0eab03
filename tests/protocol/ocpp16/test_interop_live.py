"""A charge point built on the `ocpp` package's own v16 ChargePoint talks to OcppConnection over
an in-memory pipe: its calls get answers it accepts (its own response validation and parsing),
and our calls reach its ``@on`` handlers and come back as typed answers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result, datatypes, enums

from protocol.ocpp16 import messages as m
from protocol.ocpp16.connection import CallAnswered, IncomingCall, OcppConnection

NOW_MS = 1_767_225_600_000
NOW_ISO = "2026-01-01T00:00:00Z"

ANSWERS: dict[str, m.Response] = {
    "BootNotification": m.BootNotificationResponse(
        status="Accepted", current_time=NOW_MS, interval=300
    ),
    "Heartbeat": m.HeartbeatResponse(current_time=NOW_MS),
    "StatusNotification": m.StatusNotificationResponse(),
    "Authorize": m.AuthorizeResponse(id_tag_info=m.IdTagInfo(status="Accepted")),
    "StartTransaction": m.StartTransactionResponse(
        id_tag_info=m.IdTagInfo(status="Accepted"), transaction_id=42
    ),
    "StopTransaction": m.StopTransactionResponse(id_tag_info=m.IdTagInfo(status="Accepted")),
    "MeterValues": m.MeterValuesResponse(),
}


class Pipe:
    """Both directions of one WebSocket, in memory."""

    def __init__(self) -> None:
        self.to_central: asyncio.Queue[str] = asyncio.Queue()
        self.to_cp: asyncio.Queue[str] = asyncio.Queue()

    async def send(self, text: str) -> None:  # the charge point writes
        await self.to_central.put(text)

    async def recv(self) -> str:  # the charge point reads
        return await self.to_cp.get()


class TheirChargePoint(ChargePoint):
    @on(enums.Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, **_: Any) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(status=enums.RemoteStartStopStatus.accepted)

    @on(enums.Action.get_configuration)
    async def on_get_configuration(self, **_: Any) -> call_result.GetConfiguration:
        return call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )


class Central:
    """Our side: OcppConnection driven by the pipe; records what it saw."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.conn = OcppConnection()
        self.seen: list[Any] = []
        self.answers: asyncio.Queue[CallAnswered] = asyncio.Queue()

    def flush(self) -> None:
        for text in self.conn.data_to_send():
            self.pipe.to_cp.put_nowait(text)

    async def run(self) -> None:
        while True:
            self.conn.receive_text(await self.pipe.to_central.get(), 0.0)
            for event in self.conn.events_received():
                self.seen.append(event)
                if isinstance(event, CallAnswered):
                    self.answers.put_nowait(event)
                if isinstance(event, IncomingCall):
                    assert self.conn.reply(event, ANSWERS[event.action]) is None
            self.flush()


@contextlib.asynccontextmanager
async def wired():
    pipe = Pipe()
    cp, central = TheirChargePoint("CP1", pipe, response_timeout=60), Central(pipe)
    tasks = [asyncio.create_task(cp.start()), asyncio.create_task(central.run())]
    try:
        yield cp, central
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_their_charge_point_accepts_our_answers() -> None:
    async with wired() as (cp, central):
        boot = await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        assert boot.status == enums.RegistrationStatus.accepted and boot.interval == 300
        beat = await cp.call(call.Heartbeat())
        assert beat.current_time.startswith("2026-01-01T00:00:00")
        await cp.call(
            call.StatusNotification(
                connector_id=1,
                error_code=enums.ChargePointErrorCode.no_error,
                status=enums.ChargePointStatus.preparing,
            )
        )
        auth = await cp.call(call.Authorize(id_tag="TAG1"))
        assert auth.id_tag_info["status"] == enums.AuthorizationStatus.accepted
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=NOW_ISO)
        )
        assert start.transaction_id == 42
        stop = await cp.call(
            call.StopTransaction(
                meter_stop=7200,
                timestamp=NOW_ISO,
                transaction_id=42,
                reason=enums.Reason.local,
                transaction_data=[
                    datatypes.MeterValue(
                        timestamp=NOW_ISO,
                        sampled_value=[
                            datatypes.SampledValue(value="7.2", unit=enums.UnitOfMeasure.kwh)
                        ],
                    )
                ],
            )
        )
        assert stop.id_tag_info["status"] == enums.AuthorizationStatus.accepted
    actions = [e.action for e in central.seen if isinstance(e, IncomingCall)]
    assert actions == [
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "Authorize",
        "StartTransaction",
        "StopTransaction",
    ]
    assert central.seen[-1].message.transaction_data[0].import_register_wh() == 7200


async def test_our_calls_reach_their_handlers_and_come_back_typed() -> None:
    async with wired() as (_, central):
        start = central.conn.send(m.RemoteStartTransaction(id_tag="TAG1", connector_id=1), 0.0)
        config = central.conn.send(m.GetConfiguration(), 0.0)
        central.flush()  # only the first goes out; the second follows its answer
        # The library validates in an executor thread, so wait for the answers themselves
        # (bounded only as a safety net; nothing here depends on timing).
        answers = [await asyncio.wait_for(central.answers.get(), 60) for _ in range(2)]
        assert [a.call for a in answers] == [start, config]
        assert answers[0].response == m.RemoteStartTransactionResponse(status="Accepted")
        assert answers[1].response.configuration_key == [
            m.KeyValue(key="HeartbeatInterval", readonly=False, value="300")
        ]
