"""The two ways a pile reaches the gateway, both feeding one PileConnection.

TCP uses an ``asyncio.Protocol`` (no streams: one callback per read, no task per pile) and the
streaming FrameDecoder. WebSocket carries one frame per binary message on
``/pile/{pile_id}`` with the subprotocol ``pilegate.v1``.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gateway.connection import PileConnection

if TYPE_CHECKING:
    from gateway.app import Gateway

SUBPROTOCOL = "pilegate.v1"
WS_PATH = re.compile(r"^/pile/(\d{16}|\d{20})/?$")


class TcpPileProtocol(asyncio.Protocol):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.connection: PileConnection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        server = self.gateway.config.server
        # Back-pressure: above the high-water mark asyncio calls pause_writing and we stop
        # reading this pile until it has read our replies.
        transport.set_write_buffer_limits(high=server.write_buffer_high)
        peername = transport.get_extra_info("peername")
        peer = f"tcp:{peername[0]}:{peername[1]}" if peername else "tcp:?"
        self.connection = PileConnection(self.gateway, self, peer)
        self.gateway.connection_made(self.connection)

    def data_received(self, data: bytes) -> None:
        if self.connection is not None:
            self.connection.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.connection.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # Link
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


class WsLink:
    """Writes go through a queue drained by one task, so order holds and send() can stay sync."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.wakeup = asyncio.Event()
        self.closing = False

    def write(self, data: bytes) -> None:
        if not self.closing:
            self.queue.append(data)
            self.queued_bytes += len(data)
            self.wakeup.set()

    def close(self) -> None:
        self.closing = True
        self.wakeup.set()

    def write_buffer_size(self) -> int:
        return self.queued_bytes

    async def pump(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                data = self.queue.popleft()
                self.queued_bytes -= len(data)
                await self.ws.send(data)
            if self.closing:
                await self.ws.close()
                return


def ws_check_request(connection: ServerConnection, request: Request) -> Response | None:
    if WS_PATH.match(request.path.split("?", 1)[0]) is None:
        return connection.respond(404, "use /pile/{pile_id}\n")
    return None


async def ws_handler(gateway: Gateway, ws: ServerConnection) -> None:
    match = WS_PATH.match(ws.request.path.split("?", 1)[0]) if ws.request else None
    if match is None or ws.subprotocol != SUBPROTOCOL:
        await ws.close(1002, f"subprotocol {SUBPROTOCOL} required")
        return
    pile_id = match.group(1).zfill(20)
    link = WsLink(ws)
    remote = ws.remote_address
    peer = f"ws:{remote[0]}:{remote[1]}" if remote else "ws:?"
    connection = PileConnection(gateway, link, peer, url_pile_id=pile_id)
    gateway.connection_made(connection)
    pump = asyncio.create_task(link.pump())
    error: BaseException | None = None
    try:
        async for message in ws:
            if isinstance(message, str):
                connection.log.warning("ws_text_message", size=len(message))
                connection.close("text message on a binary protocol")
                break
            connection.frame_received(message)
            if connection.closed:
                break
    except ConnectionClosed as exc:
        error = exc if exc.rcvd is None else None
    finally:
        link.close()
        try:
            await asyncio.wait_for(pump, 5)
        except (TimeoutError, ConnectionClosed):
            pump.cancel()
        connection.connection_lost(error)
