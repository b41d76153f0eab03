"""The two ways a pile reaches the gateway on port 2406 and its WebSocket port.

A WebSocket link feeds protocol v1's PileConnection; a TCP link feeds what its opening makes
(v1's connection, or the sniffer that hands over to v1's or YKC's).

Both are ``asyncio.Protocol``s: one callback per read, no task per pile. TCP carries a byte
stream (the connection's sans-I/O ``PilegateConnection`` decodes it). WebSocket carries one
frame per binary message on ``/pile/{pile_id}`` with the subprotocol ``pilegate.v1``; it
drives the sans-I/O protocol of the ``websockets`` library directly, because its asyncio
layer (a task and locks per message) cost more CPU than the whole gateway behind it
(bench/peer_ocpp.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from gateway.adapters.pilegate.connection import PileConnection
from gateway.adapters.pilegate.host import PilegateAdapter
from gateway.websocket_out import flush
from protocol.pile_ids import normalize_pile_id

#: What a new TCP link starts with: (link, peer) -> its connection (v1's, or a dialect sniffer).
Opening = Callable[[Any, str], Any]

SUBPROTOCOL = "pilegate.v1"
WS_PATH = re.compile(r"^/pile/(\d{16}|\d{20})/?$")


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

    def __init__(self, adapter: PilegateAdapter) -> None:
        self.adapter = adapter
        self.core = adapter.core

    def _start(self, transport: Any) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        transport.set_write_buffer_limits(high=self.core.config.server.write_buffer_high)

    def pause_writing(self) -> None:
        self._write_blocked = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_blocked = False
        self._update_reading()

    def hold_reading(self, held: bool) -> None:
        """Storage back-pressure (the gateway's Connection.hold_reading)."""
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
    connection: Any = None  # v1's PileConnection, a dialect sniffer, or what it handed over to

    def __init__(self, adapter: PilegateAdapter, opening: Opening | None = None) -> None:
        super().__init__(adapter)
        self.opening = opening or (lambda link, peer: PileConnection(adapter, link, peer))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._start(transport)
        # YKC's one hook on the shared port: the opening may be a sniffer that stands in until
        # the first valid frame says v1 or YKC (gateway/adapters/sniffing.py).
        self.connection = self.opening(self, _peer(transport, "tcp"))
        self.core.connection_made(self.connection)

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
            max_size=self.core.config.server.max_frame_size,
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
        self.connection = PileConnection(self.adapter, self, peer, url_pile_id=pile_id)
        self.core.connection_made(self.connection)

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self._flush()
        return False

    def _flush(self) -> None:
        self._close_timer = flush(self.ws, self.transport, self.core.loop, self._close_timer)

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
