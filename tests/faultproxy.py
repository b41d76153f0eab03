"""A TCP fault proxy for tests: a database outage without touching the database server.

It listens on 127.0.0.1 (a port chosen by the OS) and forwards every connection to a target,
e.g. the shared PostgreSQL, until told to cut. Point the code under test at the proxy::

    from tests.faultproxy import FaultProxy

    async with FaultProxy.to_url(database_url) as proxy:
        storage = await Storage.open(proxy.url, ...)   # database_url, via the proxy
        ...
        proxy.cut()          # every open connection is reset, new ones are refused
        ...                  # the "outage": the code under test sees a dead server
        proxy.restore()      # connections are accepted and forwarded again
        # or, in one go: await proxy.outage(10.0)   (cut, wait 10 s, restore)

    proxy.port, proxy.url    # where it listens; the target URL rewritten to it
    proxy.is_cut             # True between cut() and restore()
    proxy.stats              # accepted, refused, cuts, bytes_up, bytes_down

`FaultProxy(host, port)` proxies any TCP service (MQTT, ...); `FaultProxy.to_url(url)` takes
a database URL and also offers `proxy.url`. It is bounded: at most `max_connections` open
pairs (more are refused), and after `lifetime_s` (default 300 s) it cuts everything and stops
by itself, so a forgotten proxy cannot outlive its test for long. It only ever listens on
127.0.0.1 and connects to the given target.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536


@dataclass(slots=True)
class ProxyStats:
    accepted: int = 0  # connections forwarded
    refused: int = 0  # connections reset at once (cut, over max_connections, target down)
    cuts: int = 0  # cut() calls
    bytes_up: int = 0  # client -> target
    bytes_down: int = 0  # target -> client


class FaultProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        lifetime_s: float = 300.0,
        max_connections: int = 200,
        target_url: str | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.lifetime_s = lifetime_s
        self.max_connections = max_connections
        self.stats = ProxyStats()
        self.port = 0
        self._target_url = target_url
        self._cut = False
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._expiry: asyncio.TimerHandle | None = None

    @classmethod
    def to_url(cls, url: str, **kw: float | int) -> FaultProxy:
        """A proxy to the host and port of a database URL (default port 5432)."""
        u = make_url(url)
        return cls(u.host or "127.0.0.1", u.port or 5432, target_url=url, **kw)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        """The target URL with the proxy's host and port (to_url proxies only)."""
        if self._target_url is None:
            raise ValueError("no target URL: create the proxy with FaultProxy.to_url()")
        u = make_url(self._target_url).set(host="127.0.0.1", port=self.port)
        return u.render_as_string(hide_password=False)

    @property
    def is_cut(self) -> bool:
        return self._cut

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(self.lifetime_s, self._expire)
        return self

    async def close(self) -> None:
        """Reset every connection and stop listening."""
        if self._expiry is not None:
            self._expiry.cancel()
        self._cut = True
        self._reset_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _expire(self) -> None:
        self._cut = True
        self._reset_all()
        if self._server is not None:
            self._server.close()

    # --- faults -------------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until restore()."""
        self._cut = True
        self.stats.cuts += 1
        self._reset_all()

    def restore(self) -> None:
        """Accept and forward connections again."""
        self._cut = False

    async def outage(self, seconds: float) -> None:
        """cut(), wait `seconds`, restore()."""
        self.cut()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.restore()

    def _reset_all(self) -> None:
        for client, upstream in list(self._pairs):
            client.transport.abort()
            upstream.transport.abort()
        self._pairs.clear()

    # --- forwarding -----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut or len(self._pairs) >= self.max_connections:
            self.stats.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            self.stats.refused += 1
            writer.transport.abort()
            return
        if self._cut:  # cut while we were connecting
            self.stats.refused += 1
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.stats.accepted += 1
        pair = (writer, up_writer)
        self._pairs.add(pair)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, up=True), self._pipe(up_reader, writer, up=False)
            )
        finally:
            self._pairs.discard(pair)
            writer.transport.abort()
            up_writer.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, up: bool
    ) -> None:
        try:
            while data := await src.read(CHUNK):
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One direction ended: end the pair, as a dead server or client would.
            dst.transport.abort()
