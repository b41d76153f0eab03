"""Port 2406 serves protocol v1 and YKC: the first valid frame says which a pile speaks.

A TCP connection starts with a `DialectSniffer` in place of its pile connection. It buffers
what the pile sends until `protocol.sniff.sniff` recognises a whole, CRC-valid first frame of
one protocol, then hands the connection — with every byte received so far — to that dialect's
connection, which takes over as if it had been there from the start. The wait is bounded by
the login timeout (`piles.login_timeout_s`) and the buffer by `protocol.sniff.SNIFF_LIMIT`:
a pile that sends nothing recognisable within either is disconnected, as one that never logs
in would be. WebSocket piles never come here (their URL and subprotocol say what they speak).

`ykc.enabled = false` in the configuration turns sniffing off: every TCP connection is then
protocol v1 from the first byte, as before YKC support.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from protocol.sniff import SNIFF_LIMIT, Dialect, sniff

if TYPE_CHECKING:
    from gateway.app import Gateway


class SwappableLink(Protocol):
    """The transport side: it writes, closes, and holds the connection it feeds."""

    connection: Any

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def write_buffer_size(self) -> int: ...


#: Makes the dialect's connection for a link: (link, peer) -> connection with data_received.
Factory = Callable[[SwappableLink, str], Any]


class DialectSniffer:
    """Stands in for a TCP connection's pile connection until its dialect is known."""

    pile = None  # not logged in: what the gateway's sweeps look at
    _worker = None
    authenticated = False

    def __init__(
        self,
        link: SwappableLink,
        peer: str,
        factories: dict[Dialect, Factory],
        *,
        loop: asyncio.AbstractEventLoop,
        timeout_s: float,
        log: Any,
        registered: Callable[[Any], None],
        forgotten: Callable[[Any], None],
    ) -> None:
        self.link = link
        self.peer = peer
        self.closed = False
        self.close_reason = ""
        self.log = log.bind(peer=peer)
        self.last_rx = loop.time()
        self._loop = loop
        self._buffer = bytearray()
        self._factories = factories
        self._registered = registered  # gateway.connection_made
        self._forgotten = forgotten  # gateway.connection_lost
        self._timer: asyncio.TimerHandle | None = loop.call_later(timeout_s, self._timed_out)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_rx = self._loop.time()
        self._buffer += data
        dialect = sniff(self._buffer)
        if dialect is not None:
            self._hand_over(dialect)
        elif len(self._buffer) > SNIFF_LIMIT:
            self.log.warning("dialect_unknown", buffered=len(self._buffer), head=self._head())
            self.close(f"no frame of a known protocol in the first {SNIFF_LIMIT} bytes")

    def _hand_over(self, dialect: Dialect) -> None:
        self._cancel_timer()
        connection = self._factories[dialect](self.link, self.peer)
        self._forgotten(self)
        self.link.connection = connection
        self._registered(connection)
        self.log.debug("dialect_sniffed", dialect=dialect)
        data, self._buffer = bytes(self._buffer), bytearray()
        connection.data_received(data)

    def _head(self) -> str:
        return bytes(self._buffer[:32]).hex()

    def _timed_out(self) -> None:
        self._timer = None
        if not self.closed:
            self.log.warning("dialect_unknown", buffered=len(self._buffer), head=self._head())
            self.close("no login in time")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.log.info("connection_closing", reason=reason)
        self.link.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self._cancel_timer()
        self._forgotten(self)

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "pile": None, "closed": self.closed, "dialect": None}


def tcp_connection(gateway: Gateway, link: SwappableLink, peer: str) -> Any:
    """The connection a new TCP link starts with: a sniffer while YKC is enabled (it hands
    over to the v1 or YKC connection), else protocol v1's connection itself."""
    from gateway.adapters.pilegate.connection import PileConnection
    from gateway.adapters.ykc.gateway_host import host_of

    if not gateway.config.ykc.enabled:
        return PileConnection(gateway, link, peer)
    ykc = host_of(gateway)
    return DialectSniffer(
        link,
        peer,
        {
            "pilegate": lambda link_, peer_: PileConnection(gateway, link_, peer_),
            "ykc": ykc.connection,
        },
        loop=gateway.loop,
        timeout_s=gateway.config.piles.login_timeout_s,
        log=gateway.log,
        registered=gateway.connection_made,
        forgotten=gateway.connection_lost,
    )
