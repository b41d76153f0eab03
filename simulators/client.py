"""The connection of one simulated pile: TCP (port 2406) or WebSocket (``/pile/{id}``).

One task per pile, nothing per gun: the task connects, logs in, then sleeps until the
earliest of its next heartbeat, the pile model's next due event and an ack check, woken early
by incoming frames. Inbound frames are handled in the transport callback (TCP) or the
WebSocket reader. Requests carry the pile's own u16 sequence number and are tracked until
their reply (ack latency goes into the shared histogram); commands are answered with a
COMMAND_ACK echoing the command's seq. The link is re-established with jittered exponential
back-off, and pending bills are re-sent after every login, on QUERY_BILLS and periodically
while unacknowledged or rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from protocol.pilegate import Frame, FrameDecoder, decode_frame, encode
from protocol.pilegate.codes import BillAckStatus, MsgType, Result
from protocol.pilegate.errors import DecodeError
from protocol.pilegate.login_auth import sign_login
from protocol.pilegate.messages import (
    AuthResult,
    Bill,
    BillAck,
    CommandAck,
    LoginAck,
    Message,
    QueryBills,
    TimeSync,
)
from simulators.clock import SimClock
from simulators.credentials import Credentials, client_tls
from simulators.faults import garbage, truncated
from simulators.pile import COMMAND_TYPES, Pile
from simulators.stats import FleetStats

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

WS_SUBPROTOCOL = "pilegate.v1"
_FORGET = (BillAckStatus.ACCEPTED, BillAckStatus.DUPLICATE, BillAckStatus.FLAGGED)


def parse_gateway(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of tcp://, tls:// (TCP with TLS), ws:// or wss://HOST:PORT[/...]."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    scheme = parts.scheme or "tcp"
    if scheme not in ("tcp", "tls", "ws", "wss"):
        raise ValueError(f"gateway URL must be tcp://, tls://, ws:// or wss://, got {url!r}")
    default = 2406 if scheme in ("tcp", "tls") else 2407
    return scheme, parts.hostname or "127.0.0.1", parts.port or default


def ws_url(gateway: str, pile_id: str) -> str:
    if "{pile_id}" in gateway:
        return gateway.format(pile_id=pile_id)
    parts = urlsplit(gateway)
    path = parts.path.rstrip("/")
    if not path.endswith("/pile"):
        path += "/pile"
    return f"{parts.scheme}://{parts.netloc}{path}/{pile_id}"


class _Link:
    """Byte writer shared by both transports, with the slow-drip mode.

    Writes leave in the order they were sent: while a frame is being dripped, later writes
    queue behind it even when they are not dripped themselves. Writing them at once would
    splice them into the middle of the frame being dripped and corrupt both (a heartbeat's
    garbage cut a dripped BILL in two, and the bill then waited for the next retry)."""

    def __init__(self, client: PileClient) -> None:
        self.client = client
        self.closed = False
        self._drip: deque[tuple[bytes, float]] = deque()
        self._drip_task: asyncio.Task[None] | None = None

    def send(self, data: bytes, drip_s: float = 0.0) -> None:
        if self.closed:
            return
        if drip_s > 0 or self._drip or self.dripping:
            self._drip.append((data, drip_s))
            if not self.dripping:
                self._drip_task = asyncio.get_running_loop().create_task(self._dripper())
        else:
            self._write(data)

    @property
    def dripping(self) -> bool:
        """True while the dripper owns the wire (a frame may be half written)."""
        return self._drip_task is not None and not self._drip_task.done()

    async def _dripper(self) -> None:
        while self._drip and not self.closed:
            data, interval = self._drip.popleft()
            if interval <= 0:
                self._write(data)
            elif self.byte_stream:
                for i in range(len(data)):
                    if self.closed:
                        return
                    self._write(data[i : i + 1])
                    await asyncio.sleep(interval)
            else:  # one message per frame (WebSocket): the whole frame arrives late instead
                await asyncio.sleep(interval * len(data))
                self._write(data)

    byte_stream = True

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True
        if self._drip_task is not None:
            self._drip_task.cancel()


class _TcpLink(_Link, asyncio.Protocol):
    def __init__(self, client: PileClient) -> None:
        super().__init__(client)
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream's transport

    def data_received(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            self.client._on_item(item)

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed, self.closed = self.closed, True
        if not was_closed:
            self.client._on_lost(self)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        super().close()
        if self.transport is not None:
            self.transport.close()


class _WsLink(_Link):
    byte_stream = False

    def __init__(self, client: PileClient, ws: ClientConnection) -> None:
        super().__init__(client)
        self.ws = ws
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read())
        self._writer = loop.create_task(self._write_loop())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.client._on_item(decode_frame(message))
        except Exception:  # connection closed or broken: the pile reconnects
            pass
        finally:
            self._writer.cancel()  # else it waits forever and is destroyed pending
            if not self.closed:
                self.closed = True
                self.client._on_lost(self)

    async def _write_loop(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.ws.send(await self._queue.get())

    def _write(self, data: bytes) -> None:
        self._queue.put_nowait(data)

    def close(self) -> None:
        super().close()
        self._writer.cancel()
        loop = asyncio.get_running_loop()
        task = loop.create_task(self.ws.close())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


class PileClient:
    """Runs one ``Pile`` against a gateway until ``stop()``."""

    def __init__(
        self,
        pile: Pile,
        gateway: str,
        *,
        clock: SimClock,
        stats: FleetStats | None = None,
        seed: int | str = 0,
        ack_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        bill_retry_s: float = 60.0,
        connect_gate: asyncio.Semaphore | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.pile = pile
        credentials = credentials or Credentials()
        self.secret = credentials.secret_for(pile.pile_id)  # None: logins are not signed
        self.tls = credentials.tls
        self.gateway = gateway
        self.scheme, self.host, self.port = parse_gateway(gateway)
        self.clock = clock
        self.stats = stats or FleetStats()
        self.rng = random.Random(f"client:{seed}:{pile.pile_id}")
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.bill_retry_s = bill_retry_s
        self.connect_gate = connect_gate
        self.heartbeat_interval_s = 30.0
        self.offset_ms = 0  # TIME_SYNC at scale 1
        self.logged_in = False
        self.wire_faults = 0
        self.logins = 0
        self._link: _Link | None = None
        self._seq = 0
        self._outstanding: dict[int, tuple[int, float, str]] = {}  # seq -> (type, sent, txid)
        self._bills_in_flight: dict[str, float] = {}  # txid -> when sent
        self._duplicated: set[str] = set()
        self._hb_misses = 0
        self._attempt = 0
        self._stopping = False
        self._wake = asyncio.Event()
        self._login_fut: asyncio.Future[LoginAck | None] | None = None
        #: Called with ("in", seq, message) for every frame decoded from the gateway, before
        #: it is handled, and ("out", seq, message) for every frame sent (scenarios record
        #: the conversation).
        self.on_frame: Callable[[str, int, Message], None] | None = None

    # --- public -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms() + self.offset_ms

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def disconnect(self) -> None:
        """Drop the link now (the pile reconnects after back-off)."""
        if self._link is not None:
            self._link.close()
            self._on_lost(self._link)

    def poke(self) -> None:
        """Wake the connection task now (after driving the pile model from outside)."""
        self._wake.set()

    @property
    def bills_held(self) -> int:
        """Bills the pile keeps until the gateway acknowledges them."""
        return len(self.pile.store)

    def heartbeat_now(self) -> bool:
        """Send a heartbeat at once (and what the pile has queued); False when offline."""
        if not self.logged_in:
            return False
        now_ms = self.now_ms()
        self.pile.tick(now_ms)
        self._flush()
        self._send(self.pile.heartbeat(now_ms))
        self._flush()
        return True

    def resend_bills(self, gun: int = 0) -> int:
        if not self.logged_in:
            return 0
        bills = self.pile.pending_bills(gun)
        for bill in bills:
            self._send(bill)
        self.stats.bills_resent += len(bills)
        return len(bills)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                link = await self._connect()
            except Exception:  # refused, timed out, handshake failed: back off and retry
                self.stats.connect_errors += 1
                await self._sleep(self._backoff())
                continue
            self._link = link
            try:
                if await self._login():
                    self._attempt = 0
                    await self._serve(loop)
            finally:
                self._close_link()
            if self._stopping:
                break
            self.stats.reconnects += 1
            offline = self.pile.offline_request_s
            if offline is not None:
                self.pile.offline_request_s = None
                await self._sleep(offline)
            else:
                await self._sleep(self._backoff())

    # --- connection -----------------------------------------------------------------------

    async def _connect(self) -> _Link:
        gate = self.connect_gate or contextlib.nullcontext()
        async with gate:
            if self.scheme in ("tcp", "tls"):
                loop = asyncio.get_running_loop()
                tls = (self.tls or client_tls(None)) if self.scheme == "tls" else None
                _, proto = await asyncio.wait_for(
                    loop.create_connection(lambda: _TcpLink(self), self.host, self.port, ssl=tls),
                    self.connect_timeout_s,
                )
                return proto
            from websockets.asyncio.client import connect
            from websockets.typing import Subprotocol

            ws = await connect(
                ws_url(self.gateway, self.pile.pile_id),
                subprotocols=[Subprotocol(WS_SUBPROTOCOL)],
                open_timeout=self.connect_timeout_s,
                ping_interval=None,
                max_size=4096,
                compression=None,
                ssl=(self.tls or client_tls(None)) if self.scheme == "wss" else None,
            )
            return _WsLink(self, ws)

    def _backoff(self) -> float:
        """Full-jitter exponential back-off: uniform(0.5, 1) x base x 2^attempt, capped."""
        delay = min(self.backoff_max_s, self.backoff_base_s * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 16)
        return delay * self.rng.uniform(0.5, 1.0)

    async def _login(self) -> bool:
        loop = asyncio.get_running_loop()
        self._login_fut = loop.create_future()
        login = self.pile.login(self.now_ms())
        self._send(login if self.secret is None else sign_login(login, self.secret))
        try:
            ack = await asyncio.wait_for(self._login_fut, self.ack_timeout_s)
        except TimeoutError:
            self.stats.missed_acks += 1
            return False
        if ack is None:
            return False
        if ack.result != Result.OK:
            self.stats.login_rejected += 1
            if ack.result == Result.CLOCK_SKEW and self.clock.scale == 1:
                # Signed, but our clock is off: take the gateway's, as firmware does (§6.1.1).
                self.offset_ms += ack.server_time_ms - self.now_ms()
            try:
                why = Result(ack.result).name
            except ValueError:
                why = f"result {ack.result}"
            self.stats.login_rejected_why[why] = self.stats.login_rejected_why.get(why, 0) + 1
            return False
        self.heartbeat_interval_s = float(ack.heartbeat_interval_s or 30)
        self.logged_in = True
        self.logins += 1
        self.stats.logins += 1
        self.stats.piles_online += 1
        self._hb_misses = 0
        self.resend_bills()
        return True

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        next_hb = loop.time() + self.heartbeat_interval_s
        next_retry = loop.time() + self.bill_retry_s
        check_every = max(0.5, self.ack_timeout_s / 4)
        while not self._stopping and self._link is not None and not self._link.closed:
            now_ms = self.now_ms()
            self.pile.tick(now_ms)
            if self.pile.offline_request_s is not None:  # offline_with_bills: drop the link
                self.pile.drain()
                return
            self._flush()
            t = loop.time()
            if t >= next_hb:
                self._send(self.pile.heartbeat(now_ms))
                self._flush()
                next_hb = t + self.heartbeat_interval_s
            if not self._expire(t):
                return
            if t >= next_retry:
                self._retry_bills(t)
                next_retry = t + self.bill_retry_s
            wake = min(next_hb, next_retry, t + check_every)
            due = self.pile.next_due_ms()
            if due is not None:
                wake = min(wake, t + (due - now_ms) / 1000 / self.clock.scale)
            await self._wait_until(loop, max(wake, t + 0.001))

    async def _wait_until(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        handle = loop.call_at(when, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            handle.cancel()
            self._wake.clear()

    async def _sleep(self, seconds: float) -> None:
        if not self._stopping:
            loop = asyncio.get_running_loop()
            await self._wait_until(loop, loop.time() + seconds)

    def _close_link(self) -> None:
        link, self._link = self._link, None
        if link is not None and not link.closed:
            link.close()
        self._on_offline()

    def _on_lost(self, link: _Link) -> None:
        if link is not self._link:
            return
        if self._login_fut is not None and not self._login_fut.done():
            self._login_fut.set_result(None)
        self.stats.disconnects += 1
        self._on_offline()
        self._wake.set()

    def _on_offline(self) -> None:
        if self.logged_in:
            self.logged_in = False
            self.stats.piles_online -= 1
        self._outstanding.clear()
        self._bills_in_flight.clear()

    # --- sending ------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF or 1
        return self._seq

    def _send(self, msg: Message, reply_to: int | None = None) -> int:
        link = self._link
        if link is None or link.closed:
            return -1
        loop_time = asyncio.get_running_loop().time()
        if reply_to is None:
            seq = self._next_seq()
            txid = msg.transaction_id if isinstance(msg, Bill) else ""
            self._outstanding[seq] = (msg.TYPE, loop_time, txid)
            if isinstance(msg, Bill):
                self._bills_in_flight[txid] = loop_time
                self.stats.bills_sent += 1
        else:
            seq = reply_to
        frame = encode(msg, seq)
        if self.on_frame is not None:
            self.on_frame("out", seq, msg)
        faults = self.pile.faults
        if faults.garbage_bytes and self.rng.random() < faults.garbage_rate:
            self.wire_faults += 1
            link.send(garbage(self.rng))
            link.send(truncated(encode(msg, seq ^ 0x5A5A)))
        link.send(frame, faults.drip_interval_s if faults.slow_drip else 0.0)
        self.stats.frames_sent += 1
        return seq

    def _flush(self) -> None:
        for msg in self.pile.drain():
            self._send(msg)

    def _expire(self, t: float) -> bool:
        """Forget requests unanswered for ack_timeout; False when the link looks dead."""
        limit = t - self.ack_timeout_s
        for seq, (typ, sent, txid) in list(self._outstanding.items()):
            if sent < limit:
                del self._outstanding[seq]
                self.stats.missed_acks += 1
                if typ == MsgType.HEARTBEAT:
                    self._hb_misses += 1
                if txid:
                    self._bills_in_flight.pop(txid, None)
        return self._hb_misses < 3

    def _retry_bills(self, t: float) -> None:
        for bill in self.pile.pending_bills():
            if bill.transaction_id not in self._bills_in_flight:
                self._send(bill)
                self.stats.bills_resent += 1

    # --- receiving ----------------------------------------------------------------------

    def _on_item(self, item: Frame | DecodeError) -> None:
        if isinstance(item, DecodeError):
            self.stats.decode_errors += 1
            return
        self.stats.frames_received += 1
        seq, msg = item.seq, item.message
        if self.on_frame is not None:
            self.on_frame("in", seq, msg)
        typ = msg.TYPE
        if typ in COMMAND_TYPES:
            self._on_command(seq, msg)
            return
        entry = self._outstanding.pop(seq, None)
        if entry is not None:
            self.stats.latency.add((asyncio.get_running_loop().time() - entry[1]) * 1000)
        if isinstance(msg, LoginAck):
            if self._login_fut is not None and not self._login_fut.done():
                self._login_fut.set_result(msg)
        elif typ == MsgType.HEARTBEAT_ACK:
            self._hb_misses = 0
        elif typ == MsgType.NACK:
            self.stats.nacks += 1
            if entry is not None and entry[2]:
                self._bills_in_flight.pop(entry[2], None)
        elif isinstance(msg, BillAck):
            self._on_bill_ack(msg)
        elif isinstance(msg, AuthResult):
            self.pile.on_message(msg, self.now_ms())
            self._flush()
            self._wake.set()

    def _on_bill_ack(self, ack: BillAck) -> None:
        self._bills_in_flight.pop(ack.transaction_id, None)
        bill = self.pile.store.get(ack.transaction_id)
        self.pile.on_bill_ack(ack)
        if ack.status in _FORGET:
            self.stats.bills_acked += 1
            if ack.status == BillAckStatus.FLAGGED:
                self.stats.bills_flagged += 1
            elif ack.status == BillAckStatus.DUPLICATE:
                self.stats.bills_duplicate += 1
            if (
                bill is not None
                and self.pile.faults_for(bill.gun).duplicate_bill
                and bill.transaction_id not in self._duplicated
            ):
                self._duplicated.add(bill.transaction_id)
                self.wire_faults += 1
                self._send(bill)  # the faulty pile sends the acknowledged bill once more
        else:
            self.stats.bills_rejected += 1

    def _on_command(self, seq: int, msg: Message) -> None:
        self.stats.commands += 1
        if msg.TYPE == MsgType.START_CHARGE:
            self.stats.remote_starts += 1
        elif msg.TYPE == MsgType.STOP_CHARGE:
            self.stats.remote_stops += 1
        ack = self.pile.on_message(msg, self.now_ms())
        if ack is None:  # pragma: no cover - every command type has a handler
            ack = CommandAck(msg.TYPE, getattr(msg, "gun", 0), Result.NOT_SUPPORTED)
        if isinstance(msg, TimeSync) and self.clock.scale == 1:
            self.offset_ms += msg.server_time_ms - self.now_ms()
        self._send(ack, reply_to=seq)
        if isinstance(msg, QueryBills) and ack.result == Result.OK:
            self.resend_bills(msg.gun)
        self._flush()
        self._wake.set()
