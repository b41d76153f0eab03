"""The OCPP 1.6J WebSocket listener: ``ws[s]://HOST:PORT/<prefix>/{chargePointId}``.

OCPP has its own port (``ocpp.port``), beside the v1 ones: a charge point is configured with a
URL anyway, the handshake differs (Basic Auth, checked against the database before the
upgrade is answered; text messages), and operators can expose or firewall it on its own. The
listener uses the server's TLS certificate when one is set (wss://, security profile 2).

Like the v1 transport this drives the sans-I/O protocol of the ``websockets`` library from an
``asyncio.Protocol``: one callback per read, no task per charger. The handshake:

1. the path must be ``/<prefix>/<id>`` with an id of 1..32 characters ``[A-Za-z0-9._:-]``
   (piles.id is 32 wide) -- else HTTP 404;
2. authentication (``auth.admit``): a refused charger gets 401/403/404 and changes nothing; in
   particular it never replaces a connected charger with the same id;
3. subprotocol: ``ocpp1.6`` if the charger offers it; if it does not, the handshake completes
   without a ``Sec-WebSocket-Protocol`` header and the connection is closed at once
   (OCPP-J 1.6 §3.2).

The gateway pings each charger every heartbeat interval it has gone quiet, and drops one
that has sent nothing (no frame, no pong) for three intervals.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from gateway.adapters.ocpp16.auth import admit
from gateway.config import OcppConfig
from gateway.storage import Storage
from gateway.storage.areas.ocpp import ChargerAuth
from gateway.websocket_out import flush

SUBPROTOCOL = Subprotocol("ocpp1.6")
CHARGER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,32}$")
MAX_MESSAGE = 64 * 1024  # an OCPP message; GetConfiguration answers are the largest


def _select(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


class Receiver(Protocol):
    """The charger connection a WebSocket feeds once admitted (`charger.OcppCharger`)."""

    def text_received(self, data: bytes) -> None: ...
    def connection_lost(self) -> None: ...


class Admission(Protocol):
    """What the WebSocket needs of the OCPP side (`server.OcppServer`) to admit a charger."""

    log: Any  # a structlog logger
    loop: asyncio.AbstractEventLoop
    storage: Storage
    config: OcppConfig
    auto_register: bool

    def now_ms(self) -> int: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def connected(
        self, link: OcppWsProtocol, charger_id: str, profile: int, known: ChargerAuth
    ) -> Receiver: ...


class OcppWsProtocol(asyncio.Protocol):
    transport: Any = None
    charger: Receiver | None = None
    # Reading stops while the handshake's check runs and while the gateway holds reading
    # (storage back-pressure); it resumes when neither holds.
    _admitting = False
    _storage_held = False

    def __init__(self, server: Admission, tls: bool) -> None:
        self.server = server
        self.tls = tls
        self.ws = ServerProtocol(
            subprotocols=[SUBPROTOCOL], select_subprotocol=_select, max_size=MAX_MESSAGE
        )
        self._close_timer: asyncio.TimerHandle | None = None
        self._fragments: list[bytes] = []
        self.last_rx = server.loop.time()

    @property
    def peer(self) -> str:
        name = self.transport.get_extra_info("peername") if self.transport else None
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}:{name[0]}:{name[1]}" if name else f"{scheme}:?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_rx = self.server.loop.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._admitting = True  # nothing more until the charger is admitted
                self._update_reading()
                self.server.spawn(self._handshake(event))
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self._fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            data, self._fragments = b"".join(self._fragments), []
            if self.charger is not None:
                self.charger.text_received(data)
        # PING is answered and CLOSE echoed by the sans-I/O protocol; a PONG only counts as rx.

    async def _handshake(self, request: Request) -> None:
        try:
            await self._admit(request)
        except Exception:
            self.server.log.exception("ocpp_handshake_failed", peer=self.peer)
            if self.ws.state is State.CONNECTING:
                self.ws.send_response(self.ws.reject(500, "internal error\n"))
        finally:
            self._admitting = False
            self._update_reading()
            self._flush()

    def hold_reading(self, held: bool) -> None:
        """Storage back-pressure (the gateway's Connection.hold_reading)."""
        self._storage_held = held
        self._update_reading()

    def _update_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self._admitting or self._storage_held:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    async def _admit(self, request: Request) -> None:
        path = request.path.split("?", 1)[0]
        prefix = (
            f"/{self.server.config.path_prefix.strip('/')}/"
            if self.server.config.path_prefix.strip("/")
            else "/"
        )
        charger_id = unquote(path[len(prefix) :].rstrip("/")) if path.startswith(prefix) else ""
        if not CHARGER_ID.match(charger_id):
            self.ws.send_response(self.ws.reject(404, f"use {prefix}{{chargePointId}}\n"))
            return
        known = await self.server.storage.charger_auth(charger_id)
        verdict = admit(
            charger_id,
            known,
            request.headers.get("Authorization"),
            tls=self.tls,
            config=self.server.config,
            auto_register=self.server.auto_register,
        )
        if not verdict.allowed:
            self.server.log.warning(
                "ocpp_connection_refused",
                charger=charger_id,
                peer=self.peer,
                status=verdict.status,
                reason=verdict.reason,
            )
            response = self.ws.reject(verdict.status, verdict.reason + "\n")
            if verdict.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="pilegate OCPP"'
            self.ws.send_response(response)
            return
        if self.transport.is_closing():
            return
        response = self.ws.accept(request)
        self.ws.send_response(response)
        if self.ws.state is not State.OPEN:
            return
        if self.ws.subprotocol != SUBPROTOCOL:
            self.server.log.warning("ocpp_no_subprotocol", charger=charger_id, peer=self.peer)
            self.ws.send_close(CloseCode.PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
            return
        if not known.registered:
            await self.server.storage.register_charger(charger_id, at_ms=self.server.now_ms())
        self.charger = self.server.connected(self, charger_id, verdict.profile, known)

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self._flush()
        return False

    def _flush(self) -> None:
        self._close_timer = flush(self.ws, self.transport, self.server.loop, self._close_timer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.charger is not None:
            self.charger.connection_lost()

    # --- what a charger writes through -------------------------------------------------------

    def send_text(self, text: str) -> None:
        if self.ws.state is State.OPEN and not self.transport.is_closing():
            self.ws.send_text(text.encode())
            self._flush()

    def ping(self) -> None:
        if self.ws.state is State.OPEN and not self.transport.is_closing():
            self.ws.send_ping(b"")
            self._flush()

    def close(self, reason: str = "") -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_close(CloseCode.NORMAL_CLOSURE, reason[:120])
            self._flush()
        elif self.ws.state is not State.CLOSING and self.transport is not None:
            self.transport.close()

    @property
    def closed(self) -> bool:
        return self.ws.state is not State.OPEN or self.transport.is_closing()
