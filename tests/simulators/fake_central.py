"""A small OCPP 1.6J central system on 127.0.0.1 built on the `ocpp` package's ``ChargePoint``
(used as the central system's side of each connection) and ``websockets.serve``.

The `ocpp` package validates every CALL it receives and every answer it builds against the
official schemas and turns a handler's exception into a CALLERROR, so what the simulator's
charge point sends is checked by code nobody here wrote. Every charger's messages are recorded
(``seen``: (charge point id, action, snake_case payload)); ``call`` sends a central-system
request to one charger and returns the `ocpp` package's typed answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result, datatypes, enums
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CentralSide(ChargePoint):
    """One connected charger, seen from the central system."""

    def __init__(self, charge_point_id: str, ws: ServerConnection, central: FakeCentral) -> None:
        super().__init__(charge_point_id, ws, response_timeout=5)
        self.central = central

    def _seen(self, action: str, payload: dict[str, Any]) -> None:
        self.central.seen.append((self.id, action, payload))
        self.central.changed.set()

    @on(enums.Action.boot_notification)
    def on_boot(self, **payload: Any) -> call_result.BootNotification:
        self._seen("BootNotification", payload)
        return call_result.BootNotification(
            current_time=now_iso(),
            interval=self.central.heartbeat_interval,
            status=self.central.boot_status,
        )

    @on(enums.Action.heartbeat)
    def on_heartbeat(self, **payload: Any) -> call_result.Heartbeat:
        self._seen("Heartbeat", payload)
        return call_result.Heartbeat(current_time=now_iso())

    @on(enums.Action.status_notification)
    def on_status(self, **payload: Any) -> call_result.StatusNotification:
        self._seen("StatusNotification", payload)
        return call_result.StatusNotification()

    @on(enums.Action.authorize)
    def on_authorize(self, **payload: Any) -> call_result.Authorize:
        self._seen("Authorize", payload)
        status = self.central.authorize(payload["id_tag"])
        return call_result.Authorize(id_tag_info=datatypes.IdTagInfo(status=status))

    @on(enums.Action.start_transaction)
    def on_start(self, **payload: Any) -> call_result.StartTransaction:
        self._seen("StartTransaction", payload)
        return call_result.StartTransaction(
            transaction_id=next(self.central.transaction_ids),
            id_tag_info=datatypes.IdTagInfo(status=self.central.authorize(payload["id_tag"])),
        )

    @on(enums.Action.meter_values)
    def on_meter_values(self, **payload: Any) -> call_result.MeterValues:
        self._seen("MeterValues", payload)
        return call_result.MeterValues()

    @on(enums.Action.stop_transaction)
    async def on_stop(self, **payload: Any) -> call_result.StopTransaction:
        self._seen("StopTransaction", payload)
        if self.central.drop_before_answering_stop:  # the link fails before the answer
            self.central.drop_before_answering_stop = False
            await self._connection.close()
            raise ConnectionError("dropped on purpose")
        return call_result.StopTransaction(
            id_tag_info=datatypes.IdTagInfo(status=enums.AuthorizationStatus.accepted)
        )


class FakeCentral:
    """``async with FakeCentral() as cs:`` serves ``cs.url`` + ``/{chargePointId}``."""

    def __init__(self, *, password: str | None = None, heartbeat_interval: int = 30) -> None:
        self.password = password
        self.heartbeat_interval = heartbeat_interval
        self.boot_status = enums.RegistrationStatus.accepted
        self.authorize: Callable[[str], enums.AuthorizationStatus] = lambda tag: (
            enums.AuthorizationStatus.accepted
        )
        self.transaction_ids = itertools.count(1001)
        self.drop_before_answering_stop = False
        self.seen: list[tuple[str, str, dict[str, Any]]] = []
        self.refused: list[str] = []  # why connections were refused
        self.chargers: dict[str, CentralSide] = {}
        self.changed = asyncio.Event()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def __aenter__(self) -> FakeCentral:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("ocpp1.6")],
            process_request=self._check_auth,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def _check_auth(self, ws: ServerConnection, request: Request) -> Response | None:
        if self.password is None:
            return None
        cp_id = request.path.rsplit("/", 1)[-1]
        expected = base64.b64encode(f"{cp_id}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            self.refused.append(f"{cp_id}: bad or no Basic Auth")
            return ws.respond(401, "Unauthorized\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        cp_id = ws.request.path.rsplit("/", 1)[-1]
        charger = CentralSide(cp_id, ws, self)
        self.chargers[cp_id] = charger
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            await charger.start()

    # --- what a test asks -------------------------------------------------------------------

    def actions(self, charge_point_id: str | None = None) -> list[str]:
        return [a for cp, a, _ in self.seen if charge_point_id in (None, cp)]

    def payloads(self, action: str) -> list[dict[str, Any]]:
        return [p for _, a, p in self.seen if a == action]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Until ``predicate()`` holds; AssertionError with what was seen after ``timeout``."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(f"not seen in {timeout} s; seen: {self.actions()}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))

    async def call(self, charge_point_id: str, request: Any) -> Any:
        return await self.chargers[charge_point_id].call(request, suppress=False)
