"""The charge point side of the OCPP tests: the `ocpp` package's own ChargePoint (a client
nobody here wrote) over a real WebSocket to a gateway on 127.0.0.1.

`TestChargePoint` answers every central-system call with what the test told it
(`answers[action]`: the response payload, snake_case) and records what it received, so a test
plays the charge point's side of a checklist case and asserts what the gateway answered and
what the operator got.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result

# Central-system -> charge point actions, with the answer a willing charger gives.
DEFAULT_ANSWERS: dict[str, dict[str, Any]] = {
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "GetConfiguration": {"configuration_key": [], "unknown_key": []},
    "ChangeConfiguration": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "GetLocalListVersion": {"list_version": 0},
    "SendLocalList": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "CancelReservation": {"status": "Accepted"},
    "UpdateFirmware": {},
    "GetDiagnostics": {"file_name": "diagnostics.log"},
    "SetChargingProfile": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "GetCompositeSchedule": {"status": "Accepted"},
}


def _handler(action: str) -> Any:
    async def handle(self: TestChargePoint, **request: Any) -> Any:
        self.received.append((action, request))
        self.got.set()
        answer = self.answers.get(action, DEFAULT_ANSWERS[action])
        return getattr(call_result, action)(**answer)

    # ocpp's route map finds handlers by the name they had when decorated: one name each.
    handle.__name__ = f"on_{action}"
    return on(action)(handle)


class TestChargePoint(ChargePoint):  # type: ignore[misc]  # the ocpp package has no types
    __test__ = False  # not a pytest class

    def __init__(self, cp_id: str, ws: Any) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.got = asyncio.Event()
        super().__init__(cp_id, ws, response_timeout=10)

    async def wait_for(self, action: str, timeout: float = 5.0) -> dict[str, Any]:
        """The request of the first `action` the gateway sent (waiting for it)."""
        async with asyncio.timeout(timeout):
            while True:
                for name, request in self.received:
                    if name == action:
                        return request
                self.got.clear()
                await self.got.wait()

    # --- the charge point's own messages, with the default station's values ----------------

    async def boot(self) -> Any:
        return await self.call(
            call.BootNotification(
                charge_point_vendor="ACME", charge_point_model="AC22",
                charge_point_serial_number="SN-1", firmware_version="1.0",
            )
        )  # fmt: skip

    async def status(self, connector: int, status: str, error: str = "NoError", **kw: Any) -> Any:
        return await self.call(
            call.StatusNotification(connector_id=connector, error_code=error, status=status, **kw)
        )

    async def cold_boot(self) -> None:
        await self.boot()
        for connector in (0, 1, 2):
            await self.status(connector, "Available")

    async def start_tx(
        self, id_tag: str, connector: int = 1, meter: int = 0, at: datetime | None = None, **kw: Any
    ) -> Any:
        return await self.call(
            call.StartTransaction(
                connector_id=connector, id_tag=id_tag, meter_start=meter,
                timestamp=iso(at or now()), **kw,
            )
        )  # fmt: skip

    async def stop_tx(
        self, transaction_id: int, meter: int, reason: str = "Local", at: datetime | None = None,
        **kw: Any,
    ) -> Any:  # fmt: skip
        return await self.call(
            call.StopTransaction(
                transaction_id=transaction_id, meter_stop=meter, timestamp=iso(at or now()),
                reason=reason, **kw,
            )
        )  # fmt: skip


for _action in DEFAULT_ANSWERS:
    setattr(TestChargePoint, f"on_{_action}", _handler(_action))


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hours_ago(hours: float) -> datetime:
    return now() - timedelta(hours=hours)


def basic_auth(cp_id: str, password: bytes) -> dict[str, str]:
    token = base64.b64encode(cp_id.encode() + b":" + password).decode()
    return {"Authorization": f"Basic {token}"}


def url(port: int, cp_id: str, scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{port}/ocpp/{cp_id}"


@contextlib.asynccontextmanager
async def connected(
    port: int,
    cp_id: str,
    *,
    password: bytes | None = None,
    tls: ssl.SSLContext | None = None,
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
) -> AsyncIterator[TestChargePoint]:
    headers = basic_auth(cp_id, password) if password is not None else None
    ws = await websockets.connect(
        url(port, cp_id, "wss" if tls else "ws"),
        subprotocols=list(subprotocols),  # type: ignore[arg-type]
        additional_headers=headers,
        ssl=tls,
        open_timeout=5,
    )
    cp = TestChargePoint(cp_id, ws)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await ws.close()
