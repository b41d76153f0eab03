"""Many piles in one process: the Python API behind ``pilegate-sim run``.

    summary = await run_fleet(FleetConfig(gateway="tcp://127.0.0.1:2406", piles=5))

or, to drive piles from a demo or test while they run::

    fleet = Fleet(FleetConfig(piles=3, auto=False, state_dir=tmp))
    await fleet.start()
    fleet.pile(0).force_fault("ignores_stop", gun=1)
    fleet.pile(0).plug_in(1, fleet.now_ms(), auth="card")
    ...
    summary = await fleet.stop()
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.pilegate import normalize_pile_id
from simulators.bill_store import BillStore
from simulators.client import PileClient, parse_gateway
from simulators.clock import SimClock
from simulators.credentials import Credentials
from simulators.faults import Faults
from simulators.limits import raise_nofile
from simulators.pile import MINUTE, Pile, PileSpec
from simulators.speaker import Speaker
from simulators.stats import FleetStats

#: A pile's connection: protocol v1's own client, or a dialect speaker (OCPP 1.6J, YKC).
AnyClient = PileClient | Speaker

DEFAULT_FIRMWARE_MIX = {"V2.3.7": 1.0}


def parse_firmware_mix(text: str) -> dict[str, float]:
    """ "V2.3.7:0.9,V2.1.0:0.1" -> {"V2.3.7": 0.9, "V2.1.0": 0.1} (weights need not sum to 1)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition(":")
        mix[name.strip()] = float(weight) if weight else 1.0
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"bad firmware mix {text!r}")
    return mix


def pile_id_for(prefix: str, index: int) -> str:
    """The index-th pile id under a prefix; refused unless it is a valid pile id (§3.2)."""
    return normalize_pile_id(f"{prefix}{index + 1:0{20 - len(prefix)}d}")


@dataclass(slots=True)
class FleetConfig:
    gateway: str = "tcp://127.0.0.1:2406"
    piles: int = 1
    guns: int = 2
    duration_s: float | None = 60.0
    transport: str | None = None  # tcp | ws; None: from the gateway URL
    firmware_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FIRMWARE_MIX))
    #: Firmware versions that lose bills (case 5), with their loss rate.
    lossy_firmware: dict[str, float] = field(default_factory=lambda: {"V2.1.0": 0.116})
    seed: int = 0
    time_scale: float = 1.0
    state_dir: Path | str | None = None
    fault_rate: float = 0.0
    fault_params: dict[str, float] = field(default_factory=dict)
    auto: bool = True  # cars arrive at random; False: only plug_in() and remote starts
    mean_arrival_s: float = 20 * 60  # pile-clock seconds between cars per gun
    pile_id_prefix: str = "4403060003"
    #: The first pile is number offset+1 under the prefix: two simulators given different
    #: offsets run different piles instead of logging each other off.
    pile_id_offset: int = 0
    vendor: str = "ACME"
    model: str | None = None  # default DC120-2 (AC7-1 when ac)
    ac: bool = False
    sim_start_ms: int | None = None  # None: see SimClock.for_run
    connect_batch: int = 500  # concurrent connection attempts
    ack_timeout_s: float = 30.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    bill_retry_s: float = 60.0
    durable: bool = True  # fsync the bill store
    credentials: Credentials | None = None  # login secrets and TLS (simulators/credentials.py)
    #: The dialect the piles speak: pilegate (protocol v1), ocpp16 or ykc.
    protocol: str = "pilegate"
    ocpp_password: str | None = None  # OCPP Basic Auth password (security profile 1/2)
    ykc_version: int = 16  # YKC protocol version in the login: 15, 16 or 17 (0x3D bill)


@dataclass(slots=True)
class Summary:
    stats: FleetStats
    wall_s: float
    sim_span_ms: int
    by_firmware: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        d = self.stats.to_dict()
        d["wall_s"] = round(self.wall_s, 3)
        d["sim_minutes"] = round(self.sim_span_ms / MINUTE, 1)
        d["piles_by_firmware"] = self.by_firmware
        return d


PROTOCOLS = ("pilegate", "ocpp16", "ykc")


class Fleet:
    def __init__(self, config: FleetConfig) -> None:
        self.config = c = config
        if c.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {c.protocol!r}")
        if c.protocol == "ocpp16" and not c.gateway.startswith(("ws://", "wss://")):
            raise ValueError(f"OCPP chargers need a ws:// or wss:// gateway URL, got {c.gateway!r}")
        if c.protocol == "ykc" and not c.gateway.startswith(("tcp://", "tls://")):
            raise ValueError(f"YKC piles need a tcp:// or tls:// gateway URL, got {c.gateway!r}")
        scheme, host, port = parse_gateway(c.gateway)
        transport = c.transport or ("ws" if scheme in ("ws", "wss") else "tcp")
        if c.protocol != "pilegate":
            transport = "ws" if c.protocol == "ocpp16" else "tcp"  # each dialect has one
        secure = scheme in ("tls", "wss")  # --transport keeps TLS on
        if transport == "ws" and scheme in ("tcp", "tls"):
            ws = "wss" if secure else "ws"
            self.gateway = f"{ws}://{host}:{2407 if port == 2406 else port}"
        elif transport == "tcp" and scheme in ("ws", "wss"):
            tcp = "tls" if secure else "tcp"
            self.gateway = f"{tcp}://{host}:{2406 if port == 2407 else port}"
        else:
            self.gateway = c.gateway
        if c.sim_start_ms is not None:
            self.clock = SimClock(c.time_scale, c.sim_start_ms)
        else:
            self.clock = SimClock.for_run(c.time_scale, c.duration_s)
        self.stats = FleetStats(piles=c.piles)
        rng = random.Random(c.seed)
        names, weights = zip(*c.firmware_mix.items(), strict=True)
        self.piles: list[Pile] = []
        self.clients: list[AnyClient] = []
        self._by_id: dict[str, AnyClient] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._gate: asyncio.Semaphore | None = None
        self._t0 = 0.0
        self._sim0 = 0
        for i in range(c.piles):
            pile_id = pile_id_for(c.pile_id_prefix, c.pile_id_offset + i)
            firmware = rng.choices(names, weights)[0]
            faults = Faults.random(rng, c.fault_rate, **c.fault_params)
            if firmware in c.lossy_firmware:
                faults.old_firmware = True
                faults.bill_loss_rate = c.lossy_firmware[firmware]
            spec = PileSpec(
                pile_id,
                vendor=c.vendor,
                model=c.model or ("AC7-1" if c.ac else "DC120-2"),
                firmware=firmware,
                guns=c.guns,
                dc=not c.ac,
                max_power_w=7_000 if c.ac else 60_000,
            )
            pile = Pile(
                spec,
                store=BillStore(c.state_dir, pile_id, durable=c.durable),
                faults=faults,
                seed=c.seed,
                auto=c.auto,
                mean_arrival_ms=int(c.mean_arrival_s * 1000),
                time_scale=c.time_scale,
            )
            self.piles.append(pile)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        raise_nofile(len(self.piles))
        self._gate = asyncio.Semaphore(max(1, self.config.connect_batch))
        self._t0, self._sim0 = loop.time(), self.clock.now_ms()
        for pile in self.piles:
            client = self._client(pile)
            self.clients.append(client)
            self._by_id[pile.pile_id] = client
            self._tasks.append(loop.create_task(client.run(), name=f"pile-{pile.pile_id}"))

    def _client(self, pile: Pile) -> AnyClient:
        """The pile's speaker: the same pile behaviour in the configured dialect."""
        c = self.config
        common: dict[str, Any] = dict(
            clock=self.clock,
            stats=self.stats,
            seed=c.seed,
            ack_timeout_s=c.ack_timeout_s,
            backoff_base_s=c.backoff_base_s,
            backoff_max_s=c.backoff_max_s,
            bill_retry_s=c.bill_retry_s,
            connect_gate=self._gate,
            credentials=c.credentials,
        )
        if c.protocol == "ocpp16":
            from simulators.ocpp_client import OcppPileClient

            return OcppPileClient(pile, self.gateway, password=c.ocpp_password, **common)
        if c.protocol == "ykc":
            from simulators.ykc_client import YkcPileClient

            return YkcPileClient(pile, self.gateway, version=c.ykc_version, **common)
        return PileClient(pile, self.gateway, **common)

    async def stop(self, timeout_s: float = 5.0) -> Summary:
        for client in self.clients:
            client.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        return self.summary()

    async def run(self) -> Summary:
        await self.start()
        try:
            await asyncio.sleep(self.config.duration_s or 0)
        finally:
            summary = await self.stop()
        return summary

    # --- access -----------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def pile(self, index_or_id: int | str) -> Pile:
        if isinstance(index_or_id, int):
            return self.piles[index_or_id]
        return self._by_id[index_or_id].pile

    def client(self, index_or_id: int | str) -> AnyClient:
        if isinstance(index_or_id, int):
            return self.clients[index_or_id]
        return self._by_id[index_or_id]

    def summary(self) -> Summary:
        s = self.stats
        s.sessions_started = sum(p.counters.sessions_started for p in self.piles)
        s.sessions_completed = sum(p.counters.sessions_completed for p in self.piles)
        s.start_failures = sum(p.counters.start_failures for p in self.piles)
        s.bills_lost = sum(p.counters.bills_lost for p in self.piles)
        s.bills_pending = sum(len(p.store) for p in self.piles)
        s.faults_injected = sum(p.counters.faults_injected for p in self.piles) + sum(
            c.wire_faults for c in self.clients
        )
        by_fw: dict[str, int] = {}
        for p in self.piles:
            by_fw[p.spec.firmware] = by_fw.get(p.spec.firmware, 0) + 1
        wall = asyncio.get_running_loop().time() - self._t0 if self._t0 else 0.0
        return Summary(s, wall, self.clock.now_ms() - self._sim0, by_fw)


async def run_fleet(config: FleetConfig) -> Summary:
    """Run config.piles piles for config.duration_s wall seconds and summarise."""
    return await Fleet(config).run()
