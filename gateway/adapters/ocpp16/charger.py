"""One connected OCPP 1.6J charge point: its calls mapped onto the core, the core's commands
mapped onto OCPP calls.

``OcppCharger`` owns the sans-I/O ``OcppConnection`` (framing, schemas, one outstanding CALL,
timeouts) and is the core's ``PileLink`` for this charger. The charger's calls are handled in
arrival order: those that need no database (Heartbeat, StatusNotification, MeterValues, the
status notifications) synchronously in the transport's callback, the others (Authorize,
Start/StopTransaction, ...) by a worker task, with everything after them queued behind. The
connection logs in to the core first, so calls arriving before that wait for it. Every call
is answered: a handler that fails answers InternalError.

Transactions (``transactions.py`` has the rules) are the charger's own; what the session
machine sees is neutral: StartConfirmed / StopConfirmed, gun reports and meter samples
through the ``PilePort``, and a bill built by the gateway once the connector is free.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway.adapters.ocpp16 import transactions
from gateway.adapters.ocpp16.mapping import FAULT_CODE, GUN_STATUS, WH_TO_DWH, redacted
from gateway.dialect import (
    NOT_SUPPORTED,
    Command,
    GunReport,
    PilePort,
    Reboot,
    Reply,
    SetAvailability,
    StartService,
    StopService,
)
from gateway.storage.areas.ocpp import ChargerAuth
from protocol.ocpp16 import messages as m
from protocol.ocpp16.connection import (
    CallAnswered,
    CallFailed,
    DuplicateCall,
    IncomingCall,
    InvalidReply,
    OcppConnection,
    ProtocolViolation,
    UnmatchedReply,
)
from protocol.ocpp16.errors import ErrorCode
from protocol.ocpp16.framing import CALL, CALLRESULT

if TYPE_CHECKING:
    from gateway.adapters.ocpp16.server import OcppServer
    from gateway.adapters.ocpp16.transport import OcppWsProtocol

Outcome = m.Response | CallFailed | InvalidReply | None
SYNC_ACTIONS = frozenset(
    {
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
        "SignedFirmwareStatusNotification",
        "LogStatusNotification",
    }
)
QUIET = frozenset({"Heartbeat"})  # not journaled (hot path), unless journal_heartbeats = all


def outcome_status(outcome: Outcome) -> str:
    """The charger's own word for a call's result, as the operator sees it."""
    if outcome is None:
        return "timed_out"
    if isinstance(outcome, CallFailed):
        return f"call_error:{outcome.code_text}"
    if isinstance(outcome, InvalidReply):
        return f"invalid_reply:{outcome.error.code}"
    return str(getattr(outcome, "status", "Accepted"))


class OcppCharger:
    """One charge point's connection; the core's PileLink for it."""

    dialect = "ocpp16"

    def __init__(
        self,
        server: OcppServer,
        link: OcppWsProtocol,
        charger_id: str,
        profile: int,
        known: ChargerAuth,
    ) -> None:
        self.server = server
        self.link = link
        self.charger_id = charger_id
        self.profile = profile
        self.known = known  # its row as the handshake read it (vendor, model, connectors)
        self.log = server.log.bind(pile=charger_id, dialect="ocpp16")
        self.conn = OcppConnection(call_timeout=server.call_timeout_s)
        self.port: PilePort | None = None
        self.refused = False
        self.state = transactions.ChargerState()
        self._waiters: dict[str, asyncio.Future[Outcome]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._inbox: deque[IncomingCall] | None = deque()
        self._worker: asyncio.Task[None] | None = server.spawn(self._drain(first=self._login()))
        self._closed = False

    # --- PileLink ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed or self.link.closed

    def supports(self, command: type[Command]) -> bool:
        return command in (StartService, StopService, SetAvailability, Reboot)

    async def command(self, command: Command, timeout_s: float) -> Reply | None:
        if isinstance(command, StartService):
            return await self._remote_start(command, timeout_s)
        if isinstance(command, StopService):
            return await self._remote_stop(command, timeout_s)
        request: m.Request
        if isinstance(command, SetAvailability):
            kind = "Operative" if command.enabled else "Inoperative"
            request = m.ChangeAvailability(connector_id=command.gun, type=kind)
        elif isinstance(command, Reboot):
            request = m.Reset(type="Hard" if command.hard else "Soft")
        else:
            return NOT_SUPPORTED  # tariffs, idle fees, bill queries, clock: the gateway's own
        return self._reply(await self.call(request, timeout_s), ("Accepted", "Scheduled"))

    def close(self, reason: str) -> None:
        self.log.info("ocpp_close", reason=reason)
        self.link.close(reason)

    @staticmethod
    def _reply(outcome: Outcome, good: tuple[str, ...] = ("Accepted",)) -> Reply | None:
        if outcome is None:
            return None
        status = outcome_status(outcome)
        return Reply(status in good, status)

    async def _remote_start(self, command: StartService, timeout_s: float) -> Reply | None:
        id_tag = transactions.id_tag_for(command.account)
        self.state.remote_starts[command.gun] = transactions.RemoteStart(
            command.transaction_id, id_tag, command.account, command.channel
        )
        request = m.RemoteStartTransaction(id_tag=id_tag, connector_id=command.gun)
        reply = self._reply(await self.call(request, timeout_s))
        if reply is None or not reply.accepted:
            self.state.remote_starts.pop(command.gun, None)
        return reply

    async def _remote_stop(self, command: StopService, timeout_s: float) -> Reply | None:
        tx = self.state.open_tx.get(command.gun)
        named = command.transaction_id
        if tx is None or (named is not None and tx.session_tx != named):
            # Not started at the charger (no StartTransaction yet): nothing to stop there.
            self.state.remote_starts.pop(command.gun, None)
            return Reply(False, "no_charger_transaction", command.gun)
        request = m.RemoteStopTransaction(transaction_id=tx.id)
        return self._reply(await self.call(request, timeout_s))

    # --- calls to the charger ---------------------------------------------------------------

    async def call(self, request: m.Request, timeout_s: float | None = None) -> Outcome:
        """Send one CALL (queued behind the outstanding one) and await the charger's answer;
        None when none came in time or the connection closed."""
        if self.closed:
            return None
        loop = self.server.loop
        out = self.conn.send(request, loop.time())
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiters[out.unique_id] = future
        self._journal("out", CALL, request.action, redacted(request.action, out.payload))
        self._flush()
        try:
            # The connection's own timeout starts when the CALL is written (after the queue);
            # this bound only guards against a charger that never answers anything.
            limit = (timeout_s or self.server.call_timeout_s) * (2 + len(self.conn.queued))
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(out.unique_id, None)

    def _resolve(self, unique_id: str, outcome: Outcome) -> None:
        future = self._waiters.get(unique_id)
        if future is not None and not future.done():
            future.set_result(outcome)

    # --- input ------------------------------------------------------------------------------

    def text_received(self, data: bytes) -> None:
        if self._closed:
            return
        self.conn.receive_text(data, self.server.loop.time())
        for event in self.conn.events_received():
            if isinstance(event, IncomingCall):
                self._incoming(event)
            elif isinstance(event, CallAnswered):
                payload = transactions.payload_of(event.response)
                self._journal("in", CALLRESULT, event.call.action, payload)
                self._resolve(event.call.unique_id, event.response)
            elif isinstance(event, CallFailed | InvalidReply):
                self.log.warning("ocpp_call_failed", action=event.call.action,
                                 status=outcome_status(event))  # fmt: skip
                self._resolve(event.call.unique_id, event)
            elif isinstance(event, ProtocolViolation):
                self.log.warning(
                    "ocpp_bad_message",
                    code=str(event.error.code),
                    detail=event.error.description,
                    action=event.error.action,
                    answered=event.answered,
                )
            elif isinstance(event, DuplicateCall | UnmatchedReply):
                self.log.warning("ocpp_unexpected", what=type(event).__name__,
                                 unique_id=event.unique_id)  # fmt: skip
        self._flush()

    def _incoming(self, call: IncomingCall) -> None:
        if call.action not in QUIET or self.server.journal_heartbeats:
            self._journal("in", CALL, call.action, transactions.payload_of(call.message))
        if self._inbox is not None:
            self._inbox.append(call)
        elif call.action in SYNC_ACTIONS:
            self._handle_sync(call)
        else:
            self._inbox = deque((call,))
            self._worker = self.server.spawn(self._drain())

    async def _drain(self, first: Awaitable[None] | None = None) -> None:
        try:
            if first is not None:
                await first
            inbox = self._inbox
            while inbox:
                call = inbox.popleft()
                if call.action in SYNC_ACTIONS:
                    self._handle_sync(call)
                else:
                    await self._handle_async(call)
                self._flush()
        finally:
            self._inbox = None
            self._worker = None

    def _handle_sync(self, call: IncomingCall) -> None:
        handler = transactions.SYNC_HANDLERS[call.action]
        try:
            self._answer(call, handler(self, call.message))
        except Exception:
            self._failed(call)

    async def _handle_async(self, call: IncomingCall) -> None:
        handler = transactions.ASYNC_HANDLERS.get(call.action)
        try:
            if handler is None:
                self._error(call, ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported")
                return
            if self.port is None:
                self._error(call, ErrorCode.GENERIC_ERROR, "charge point not accepted")
                return
            self._answer(call, await handler(self, call.message))
        except Exception:
            self._failed(call)

    def _answer(self, call: IncomingCall, response: m.Response) -> None:
        if self._closed:
            return
        error = self.conn.reply(call, response)
        if error is not None:
            self.log.error("ocpp_answer_invalid", action=call.action, detail=error.description)
        elif call.action not in QUIET or self.server.journal_heartbeats:
            self._journal("out", CALLRESULT, call.action, transactions.payload_of(response))
        self._flush()

    def _error(self, call: IncomingCall, code: ErrorCode, why: str) -> None:
        if not self._closed:
            self.conn.error(call, code, why)
            self._flush()

    def _failed(self, call: IncomingCall) -> None:
        self.log.exception("ocpp_call_handling_failed", action=call.action)
        if any(c is call for c in self.conn.awaiting_answer):
            self._error(call, ErrorCode.INTERNAL_ERROR, "the central system could not handle it")

    # --- output -----------------------------------------------------------------------------

    def _flush(self) -> None:
        for text in self.conn.data_to_send():
            self.link.send_text(text)
        deadline = self.conn.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None and not self._closed:
            delay = max(0.0, deadline - self.server.loop.time())
            self._timer = self.server.loop.call_later(delay, self._call_timed_out)

    def _call_timed_out(self) -> None:
        self._timer = None
        for timed_out in self.conn.timeouts(self.server.loop.time()):
            self.log.warning("ocpp_call_timed_out", action=timed_out.call.action)
            self._resolve(timed_out.call.unique_id, None)
        self._flush()

    def _journal(self, direction: str, kind: int, action: str, payload: dict[str, Any]) -> None:
        self.server.journal(self.charger_id, direction, kind, action, payload)

    # --- lifecycle --------------------------------------------------------------------------

    async def _login(self) -> None:
        try:
            port = await self.server.login(self)
        except Exception:
            # The charger reconnects; a connection that never got its sessions is no use.
            self.log.exception("ocpp_login_failed")
            port = None
        if port is None:
            self.refused = True
            self.close("refused by the gateway")
            return
        self.port = port
        await transactions.restore(self)

    def connection_lost(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for call in self.conn.abandon():
            self._resolve(call.unique_id, None)
        self.server.disconnected(self)

    def spawn(self, what: str, coro: Awaitable[Any]) -> None:
        """Background work of a handler (a bill, a flag), logged if it fails."""

        async def run() -> None:
            try:
                await coro
            except Exception:
                self.log.exception("ocpp_background_failed", what=what)

        self.server.spawn(run())

    def report(self, connector: int) -> None:
        """The connector's latest status (and meter) to the core, as one gun report."""
        known = self.state.statuses.get(connector)
        if known is None or self.port is None:
            return
        status, error_code, _ = known
        gun_status = GUN_STATUS.get(status)
        if gun_status is None:
            return
        meter = self.state.meters.get(connector)
        self.port.reports(
            [
                GunReport(
                    connector,
                    gun_status,
                    FAULT_CODE.get(error_code, FAULT_CODE["OtherError"]),
                    None if meter is None else meter * WH_TO_DWH,
                )
            ]
        )

    def after(self, delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.server.loop.call_later(delay_s, callback)
