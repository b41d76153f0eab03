"""``pilegate-sim load``: many piles that only log in and heartbeat, lock-step.

Each pile sends a heartbeat, waits for its HEARTBEAT_ACK (or ack_timeout_s: a missed ack),
then waits out the interval from the send (interval 0: the next heartbeat at once, for a
throughput benchmark). Connections are opened ``connect_batch`` at a time after raising
RLIMIT_NOFILE. The heartbeat phase is measured from when the last pile finished connecting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import cast

from protocol.pilegate import Frame, FrameDecoder, encode
from protocol.pilegate.codes import COMMANDS, FaultCode, GunStatus, MsgType, Result
from protocol.pilegate.messages import SOC_UNKNOWN, CommandAck, GunReport, Heartbeat, Login
from simulators.client import parse_gateway
from simulators.fleet import pile_id_for
from simulators.limits import raise_nofile
from simulators.stats import LatencyHistogram


@dataclass(slots=True)
class LoadConfig:
    gateway: str = "tcp://127.0.0.1:2406"
    piles: int = 1_000
    heartbeat_interval_s: float = 30.0
    duration_s: float = 60.0
    connect_batch: int = 500
    ack_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    guns: int = 2
    seed: int = 0
    pile_id_prefix: str = "4403060009"


@dataclass(slots=True)
class LoadSummary:
    piles: int
    piles_online: int
    connect_errors: int
    login_failures: int
    heartbeats_sent: int
    acks: int
    missed_acks: int
    acks_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    ack_mean_ms: float
    connect_s: float
    measure_s: float
    nofile_limit: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _LoadPile(asyncio.Protocol):
    __slots__ = ("closed", "decoder", "seq", "transport", "waiter", "waiting_seq")

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.waiting_seq = -1
        self.seq = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream's transport

    def data_received(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            if not isinstance(item, Frame):
                continue
            frame_seq, message = item.seq, item.message
            if message.TYPE in COMMANDS:  # the login's configuration, a time sync: accept
                gun = getattr(message, "gun", 0)
                assert self.transport is not None
                self.transport.write(encode(CommandAck(message.TYPE, gun, Result.OK), frame_seq))
                continue
            if frame_seq != self.waiting_seq:
                continue
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                result = getattr(message, "result", Result.OK)
                waiter.set_result(result if message.TYPE == MsgType.LOGIN_ACK else 0)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    def request(self, frame_for_seq: Callable[[int], bytes]) -> asyncio.Future[int]:
        self.seq = (self.seq + 1) & 0xFFFF or 1
        self.waiting_seq = self.seq
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(frame_for_seq(self.seq))
        return self.waiter


class _Run:
    def __init__(self, config: LoadConfig) -> None:
        self.c = config
        self.hist = LatencyHistogram()
        self.connect_errors = 0
        self.login_failures = 0
        self.sent = 0
        self.missed = 0
        self.online = 0
        self.measuring = False
        _, self.host, self.port = parse_gateway(config.gateway)
        reports = tuple(
            GunReport(g, GunStatus.AVAILABLE, FaultCode.NONE, 10_000_000, 0, 0, 0, SOC_UNKNOWN)
            for g in range(1, config.guns + 1)
        )
        self.heartbeat = Heartbeat(reports)

    async def connect(self, index: int, gate: asyncio.Semaphore) -> _LoadPile | None:
        loop = asyncio.get_running_loop()
        pile_id = pile_id_for(self.c.pile_id_prefix, index)
        async with gate:
            try:
                _, proto = await asyncio.wait_for(
                    loop.create_connection(_LoadPile, self.host, self.port),
                    self.c.connect_timeout_s,
                )
            except (OSError, TimeoutError):
                self.connect_errors += 1
                return None
            login = Login(
                pile_id, "ACME", "LOAD-1", "V2.3.7", 1, self.c.guns, int(time.time() * 1000)
            )
            try:
                result = await asyncio.wait_for(
                    proto.request(lambda seq: encode(login, seq)), self.c.ack_timeout_s
                )
            except (OSError, TimeoutError, ConnectionError):
                result = -1
            if result != Result.OK:
                self.login_failures += 1
                if proto.transport is not None:
                    proto.transport.close()
                return None
            self.online += 1
            return proto

    async def beat(self, pile: _LoadPile, start: float, end: float, rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        interval = self.c.heartbeat_interval_s
        hb = self.heartbeat
        next_at = start + (rng.uniform(0, interval) if interval > 0 else 0.0)
        while not pile.closed and next_at < end:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = loop.time()
            if sent >= end:
                return
            self.sent += 1
            try:
                await asyncio.wait_for(
                    pile.request(lambda seq: encode(hb, seq)),
                    min(self.c.ack_timeout_s, max(0.001, end - sent)),
                )
            except TimeoutError:
                if loop.time() >= end and loop.time() - sent < self.c.ack_timeout_s:
                    self.sent -= 1  # cut off by the end of the run, not missed
                    return
                self.missed += 1
            except ConnectionError:
                self.missed += 1
                return
            else:
                self.hist.add((loop.time() - sent) * 1000)
            next_at = sent + interval


async def run_load(config: LoadConfig) -> LoadSummary:
    loop = asyncio.get_running_loop()
    nofile = raise_nofile(config.piles)
    run = _Run(config)
    gate = asyncio.Semaphore(max(1, config.connect_batch))
    t0 = loop.time()
    piles = await asyncio.gather(*(run.connect(i, gate) for i in range(config.piles)))
    live = [p for p in piles if p is not None]
    start = loop.time()
    end = start + config.duration_s
    rng = random.Random(config.seed)
    await asyncio.gather(*(run.beat(p, start, end, rng) for p in live))
    measured = max(1e-9, loop.time() - start)
    online = sum(1 for p in live if not p.closed)
    for p in live:
        if p.transport is not None:
            p.transport.close()
    await asyncio.sleep(0)
    h = run.hist
    return LoadSummary(
        piles=config.piles,
        piles_online=online,
        connect_errors=run.connect_errors,
        login_failures=run.login_failures,
        heartbeats_sent=run.sent,
        acks=h.count,
        missed_acks=run.missed,
        acks_per_s=round(h.count / measured, 1),
        ack_p50_ms=round(h.percentile(50), 3),
        ack_p99_ms=round(h.percentile(99), 3),
        ack_max_ms=round(h.max_ms, 3),
        ack_mean_ms=round(h.mean_ms, 3),
        connect_s=round(start - t0, 3),
        measure_s=round(measured, 3),
        nofile_limit=nofile,
    )
