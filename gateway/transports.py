"""The two ways a pile reaches the gateway, both feeding one PileConnection.

Both are ``asyncio.Protocol``s: one callback per read, no task per pile. TCP carries a byte
stream for the streaming FrameDecoder. WebSocket carries one frame per binary message on
``/pile/{pile_id}`` with the subprotocol ``pilegate.v1``; it drives the sans-I/O protocol of
the ``websockets`` library directly, because its asyncio layer (a task and locks per message)
cost more CPU than the whole gateway behind it (bench/peer_ocpp.py).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from gateway.adapters.pilegate.connection import PileConnection
from gateway.adapters.sniffing import tcp_connection
from protocol.pile_ids import normalize_pile_id

if TYPE_CHECKING:
    from gateway.app import Gateway

SUBPROTOCOL = "pilegate.v1"
WS_PATH = re.compile(r"^/pile/(\d{16}|\d{20})/?$")
CLOSE_TIMEOUT_S = 5.0


def _peer(transport: Any, scheme: str) -> str:
    peername = transport.get_extra_info("peername")
    return f"{scheme}:{peername[0]}:{peername[1]}" if peername else f"{scheme}:?"


class _StreamProtocol(asyncio.Protocol):
    """Back-pressure shared by both transports: above the write buffer's high-water mark
    asyncio calls pause_writing, and we stop reading this pile until it reads our replies;
    the gateway also holds reading while the database writer's backlog is at its bound.
    Reading resumes when neither holds."""

    transport: Any = None
    connection: PileConnection | None = None
    _write_blocked = False
    _storage_held = False
    _reading_paused = False

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def _start(self, transport: Any) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        transport.set_write_buffer_limits(high=self.gateway.config.server.write_buffer_high)

    def pause_writing(self) -> None:
        self._write_blocked = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_blocked = False
        self._update_reading()

    def hold_reading(self, held: bool) -> None:
        """Storage back-pressure (Gateway._storage_backlog)."""
        self._storage_held = held
        self._update_reading()

    def _update_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        pause = self._write_blocked or self._storage_held
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.connection.connection_lost(exc)


class TcpPileProtocol(_StreamProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._start(transport)
        # The one hook of YKC on the shared port: a sniffer stands in until the first valid
        # frame says v1 or YKC (gateway/adapters/sniffing.py; off with ykc.enabled = false).
        self.connection = tcp_connection(self.gateway, self, _peer(transport, "tcp"))
        self.gateway.connection_made(self.connection)

    def data_received(self, data: bytes) -> None:
        if self.connection is not None:
            self.connection.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    # Link
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class WsPileProtocol(_StreamProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._start(transport)
        self.ws = ServerProtocol(
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            max_size=self.gateway.config.server.max_frame_size,
        )
        self._close_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif self.connection is None or not isinstance(event, Frame):
                continue
            elif event.opcode is Opcode.BINARY:
                self.connection.frame_received(bytes(event.data))  # already bytes: no copy
            elif event.opcode is Opcode.TEXT:
                self.connection.log.warning("ws_text_message", size=len(event.data))
                self.connection.close("text message on a binary protocol")
            # PING is answered and CLOSE echoed by the sans-I/O protocol itself.
        self._flush()

    def _handshake(self, request: Request) -> None:
        match = WS_PATH.match(request.path.split("?", 1)[0])
        url_pile_id = match.group(1) if match is not None else None
        if url_pile_id is None:
            response = self.ws.reject(404, "use /pile/{pile_id}\n")
        else:
            response = self.ws.accept(request)
        self.ws.send_response(response)
        if self.ws.state is not State.OPEN:
            return  # rejected: data_to_send ends with the end of the stream
        if self.ws.subprotocol != SUBPROTOCOL:
            self.ws.send_close(CloseCode.PROTOCOL_ERROR, f"subprotocol {SUBPROTOCOL} required")
            return
        pile_id = normalize_pile_id(url_pile_id)
        peer = _peer(self.transport, "ws")
        self.connection = PileConnection(self.gateway, self, peer, url_pile_id=pile_id)
        self.gateway.connection_made(self.connection)

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self._flush()
        return False

    def _flush(self) -> None:
        transport = self.transport
        for data in self.ws.data_to_send():
            if data:
                transport.write(data)
            else:  # the end of the stream: the WebSocket is closed
                transport.close()
                return
        if self.ws.close_expected() and self._close_timer is None:
            # We sent a close frame: give the pile a moment to answer, then drop it.
            loop = self.gateway.loop
            self._close_timer = loop.call_later(CLOSE_TIMEOUT_S, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        super().connection_lost(exc)

    # Link
    def write(self, data: bytes) -> None:
        if self.ws.state is State.OPEN and not self.transport.is_closing():
            self.ws.send_binary(data)
            self._flush()

    def close(self) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_close(CloseCode.NORMAL_CLOSURE)
            self._flush()
        elif self.ws.state is not State.CLOSING:
            self.transport.close()
