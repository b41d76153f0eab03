"""The soak: a fleet of simulated piles against a real `pilegate serve` with churn and faults,
then invariants checked from the database and the admin API.

    python bench/soak.py --piles 1000 --duration 600 --kills 2 --db-outage 10 --mqtt
    python bench/soak.py --piles 60 --duration 45 --kills 1 --json      # the suite's version

It starts everything it needs on 127.0.0.1: the gateway as a subprocess (PostgreSQL from
PILEGATE_DATABASE_URL, or a fresh database on the local server that is dropped afterwards),
a TCP fault proxy between gateway and PostgreSQL when a database outage is asked for, and its
own mosquitto on a spare port with --mqtt. Half the piles (--ws-share) use WebSocket.

During --duration: cars arrive and authorise at the piles (card, password), the admin API
starts and stops charges remotely, drivers stop at the pile, links are dropped at random with
and without bills pending, --fault-rate of the piles carry one field-case fault, and the
gateway is killed with SIGKILL and restarted --kills times, the database link cut for
--db-outage seconds and the broker restarted (--broker-restart). Then the churn stops, every
charge is ended at the pile and the run settles (piles idle with no bill pending, no session
running at the gateway; --settle seconds at most). A check that fails is taken again, with a
fresh report from every pile in between, for up to --check-wait seconds: only what stays
wrong counts. The checks are:

- services: every session in the database has ended, waits for its bill (closed), or is live
  in the gateway (its timers run); none is stuck live in the database only;
- claims: every account claim belongs to a live session of that account (or a gun still
  delivering energy);
- availability: every online gun's status at the gateway equals what its pile last reported,
  and an idle gun is available;
- bills: every bill a pile generated is stored exactly once, and nothing else is stored;
- outbox: every outbox event was published (with --mqtt);
- error_log: no error line in the gateway's log other than ones explained by an injected fault.

One JSON summary goes to stdout; the exit status is 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sys
import tempfile
import time
import urllib.error
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.faultproxy import FaultProxy  # noqa: E402
from bench.soak_checks import CHECK_WAIT_S, Window, check_invariants  # noqa: E402
from bench.soak_services import (  # noqa: E402
    HOST,
    Admin,
    Broker,
    GatewayProcess,
    free_port,
    python_env,
    register_accounts,
    soak_database,
)
from protocol.pilegate.codes import GunStatus  # noqa: E402
from protocol.pilegate.messages import Bill  # noqa: E402
from simulators import accounts  # noqa: E402
from simulators.bill_store import BillStore  # noqa: E402
from simulators.fleet import Fleet, FleetConfig  # noqa: E402
from simulators.pile import CHARGING, FINISHING, IDLE, Pile  # noqa: E402

TOKEN = "soak-token"
#: Session phases still going on at the gateway, which the settle waits out ("closed" is not
#: one: a service whose bill the pile lost waits for it, by design, for bill_wait_s).
RUNNING = {"authorised", "starting", "charging", "stopping", "finished"}


@dataclass(slots=True)
class SoakConfig:
    piles: int = 1000
    duration_s: float = 300.0
    guns: int = 2
    ws_share: float = 0.5
    seed: int = 1
    time_scale: float = 60.0
    mean_arrival_s: float = 15 * 60.0  # pile-clock seconds between cars per gun
    fault_rate: float = 0.05
    remote_starts_per_pile_min: float = 0.3
    remote_stops_per_pile_min: float = 0.2
    disconnects_per_pile_min: float = 0.1
    kills: int = 0
    kill_down_s: float = 2.0
    db_outage_s: float = 0.0
    broker_restart: bool = False
    mqtt: bool = False
    database_url: str | None = None
    heartbeat_s: int = 10
    start_timeout_s: float = 20.0
    settle_s: float = 90.0
    check_wait_s: float = CHECK_WAIT_S
    work_dir: str | None = None
    keep: bool = False


# --- the run ----------------------------------------------------------------------------------


class RecordingStore(BillStore):
    """A pile's bill store that tells the soak about every bill the pile generates."""

    __slots__ = ("on_add",)

    def add(self, bill: Bill) -> None:
        self.on_add(bill)
        super().add(bill)


@dataclass(slots=True)
class Counts:
    remote_starts: int = 0
    remote_starts_ok: int = 0
    remote_stops: int = 0
    remote_stops_ok: int = 0
    admin_errors: int = 0
    disconnects_with_bills: int = 0
    disconnects_without_bills: int = 0
    gateway_kills: int = 0
    db_outages: int = 0
    broker_restarts: int = 0
    bills_generated: int = 0


@dataclass(slots=True)
class Soak:
    config: SoakConfig
    rng: random.Random
    fleets: list[Fleet] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    windows: list[Window] = field(default_factory=list)
    generated: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    app_accounts: list[str] = field(default_factory=list)
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    admin: Admin | None = None
    gateway: GatewayProcess | None = None
    proxy: FaultProxy | None = None
    broker: Broker | None = None
    churning: bool = True
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # --- piles ------------------------------------------------------------------------------

    @property
    def guns(self) -> int:
        return self.config.guns

    def piles(self) -> list[tuple[Fleet, int]]:
        return [(f, i) for f in self.fleets for i in range(len(f.piles))]

    def record_bills(self, pile: Pile) -> None:
        """Count every bill the pile generates (it goes into the pile's store first)."""
        old = pile.store
        pile.store = RecordingStore(old.path.parent if old.path else None, pile.pile_id,
                                    durable=old.durable)  # fmt: skip
        pile.store.on_add = lambda bill: self.generated.update(
            [(pile.pile_id, bill.transaction_id)]
        )

    def spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- churn ------------------------------------------------------------------------------

    def _how_many(self, per_pile_min: float, dt: float) -> int:
        mean = per_pile_min * self.config.piles * dt / 60.0
        n = int(mean)
        return n + (1 if self.rng.random() < mean - n else 0)

    async def churn(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        c, dt = self.config, 0.25
        everyone = self.piles()
        while self.churning and loop.time() < until:
            for _ in range(self._how_many(c.remote_starts_per_pile_min, dt)):
                fleet, i = self.rng.choice(everyone)
                self.spawn(self.remote_start(fleet, i))
            for _ in range(self._how_many(c.remote_stops_per_pile_min, dt)):
                fleet, i = self.rng.choice(everyone)
                self.spawn(self.remote_stop(fleet, i))
            for _ in range(self._how_many(c.disconnects_per_pile_min, dt)):
                fleet, i = self.rng.choice(everyone)
                client = fleet.client(i)
                if client.logged_in:
                    busy = bool(fleet.pile(i).pending_bills()) or any(
                        g.session is not None for g in fleet.pile(i).guns
                    )
                    if busy:
                        self.counts.disconnects_with_bills += 1
                    else:
                        self.counts.disconnects_without_bills += 1
                    client.disconnect()
            await asyncio.sleep(dt)

    async def remote_start(self, fleet: Fleet, i: int) -> None:
        pile, client = fleet.pile(i), fleet.client(i)
        free = [g.no for g in pile.guns if g.phase == IDLE and g.status == GunStatus.AVAILABLE]
        if not client.logged_in or not free or not pile.enabled:
            return
        gun = self.rng.choice(free)
        account = self.rng.choice(self.app_accounts)
        self.counts.remote_starts += 1
        body = {"gun": gun, "account": account, "channel": "own_app"}
        result = await self._admin("POST", f"/piles/{pile.pile_id}/start", body, "start")
        if result is not None and result.get("outcome") == "accepted":
            self.counts.remote_starts_ok += 1

    async def remote_stop(self, fleet: Fleet, i: int) -> None:
        pile, client = fleet.pile(i), fleet.client(i)
        charging = [g.no for g in pile.guns if g.phase == CHARGING]
        if not client.logged_in or not charging:
            return
        self.counts.remote_stops += 1
        body = {"gun": self.rng.choice(charging)}
        result = await self._admin("POST", f"/piles/{pile.pile_id}/stop", body, "stop")
        if result is not None and result.get("outcome") == "accepted":
            self.counts.remote_stops_ok += 1

    async def _admin(self, method: str, path: str, body: Any, what: str) -> Any:
        assert self.admin is not None
        try:
            result = await self.admin.call(method, path, body)
        except urllib.error.HTTPError as exc:
            self.counts.admin_errors += 1
            self.outcomes[f"{what}:http_{exc.code}"] += 1
            return None
        except (OSError, ValueError) as exc:  # the gateway may be down (killed) right now
            self.counts.admin_errors += 1
            self.outcomes[f"{what}:{type(exc).__name__}"] += 1
            return None
        if isinstance(result, dict):
            reason = result.get("reason") or ""
            self.outcomes[f"{what}:{result.get('outcome')}" + (f":{reason}" if reason else "")] += 1
        return result

    # --- injected faults ----------------------------------------------------------------------

    async def kill_and_restart(self) -> None:
        assert self.gateway is not None
        w = Window("gateway_kill", time.time())
        self.windows.append(w)
        self.gateway.kill9()
        self.counts.gateway_kills += 1
        await asyncio.sleep(self.config.kill_down_s)
        await self.gateway.start()
        w.end = time.time()

    async def db_outage(self) -> None:
        assert self.proxy is not None
        w = Window("db_outage", time.time())
        self.windows.append(w)
        self.proxy.cut()
        self.counts.db_outages += 1
        await asyncio.sleep(self.config.db_outage_s)
        self.proxy.restore()
        w.end = time.time()

    async def broker_restart(self) -> None:
        assert self.broker is not None
        w = Window("broker_restart", time.time())
        self.windows.append(w)
        await self.broker.stop()
        self.counts.broker_restarts += 1
        await asyncio.sleep(2.0)
        await self.broker.start()
        w.end = time.time()

    async def injections(self, t0: float) -> None:
        """Kills, the outage and the broker restart spread over the run, one at a time."""
        c = self.config
        plan: list[tuple[float, str]] = [
            (c.duration_s * (k + 1) / (c.kills + 1), "kill") for k in range(c.kills)
        ]
        if c.db_outage_s > 0:
            plan.append((c.duration_s * 0.3, "db"))
        if c.broker_restart and self.broker is not None:
            plan.append((c.duration_s * 0.6, "broker"))
        loop = asyncio.get_running_loop()
        for at, what in sorted(plan):
            await asyncio.sleep(max(0.0, t0 + at - loop.time()))
            if what == "kill":
                await self.kill_and_restart()
            elif what == "db":
                await self.db_outage()
            else:
                await self.broker_restart()

    # --- the end: stop the churn and let everything settle -------------------------------------

    def _wind_down(self, fleet: Fleet, i: int, now_ms: int) -> None:
        pile = fleet.pile(i)
        pile.auto = False
        for g in pile.guns:
            if g.phase == CHARGING and g.session is not None:
                if g.session.user_stop_ms is None or g.session.user_stop_ms > now_ms:
                    g.session.user_stop_ms = now_ms  # the driver stops at the pile
            elif g.phase == FINISHING and g.due_ms is not None and g.due_ms > now_ms:
                g.due_ms = now_ms  # and unplugs
        late = pile._late_bills  # start_fails: the late bill comes now rather than hours on
        pile._late_bills = [(min(due, now_ms), bill) for due, bill in late]
        fleet.client(i).poke()

    def _quiet(self) -> bool:
        for fleet, i in self.piles():
            pile, client = fleet.pile(i), fleet.client(i)
            if not client.logged_in or len(pile.store) or pile._late_bills:
                return False
            if any(g.phase not in (IDLE, "disabled") for g in pile.guns):
                return False
        return not self._tasks

    async def _gateway_quiet(self) -> bool:
        """No session still running at the gateway (an authorisation the pile gave up on
        waits for the start timeout)."""
        assert self.admin is not None
        try:
            live = await self.admin.call("GET", "/sessions/live")
        except (OSError, ValueError):
            return False
        return not any(s["phase"] in RUNNING for s in live)

    async def settle(self) -> tuple[float, bool]:
        """Wind every pile down and wait until piles and gateway are quiet (at most
        settle_s); how long it took, and whether they got quiet."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        # Long enough for the gateway's start timeout to end sessions a pile never started.
        floor = start + self.config.start_timeout_s + 5
        deadline = start + max(self.config.settle_s, self.config.start_timeout_s + 10)
        quiet = False
        while loop.time() < deadline:
            for fleet, i in self.piles():
                self._wind_down(fleet, i, fleet.now_ms())
            if loop.time() >= floor and self._quiet() and await self._gateway_quiet():
                quiet = True
                break
            await asyncio.sleep(1.0)
        for fleet, i in self.piles():  # a fresh report of every gun (a transient fault
            fleet.client(i).heartbeat_now()  # sample may be the last one sent)
        await asyncio.sleep(3.0)
        return loop.time() - start, quiet


# --- putting it together ----------------------------------------------------------------------


def _fleets(c: SoakConfig, gateway_tcp: str, gateway_ws: str, state_dir: Path) -> list[Fleet]:
    run = random.Random(c.seed).randrange(1000)
    n_ws = round(c.piles * c.ws_share)
    params = {
        "late_start_s": c.start_timeout_s + 5,  # case 6: later than the gateway's start timeout
        "offline_s": 3.0,
        "late_bill_delay_ms": 30 * 60_000,
        "drip_interval_s": 0.002,
    }
    fleets = []
    for transport, count, url, tag in (
        ("tcp", c.piles - n_ws, gateway_tcp, 1),
        ("ws", n_ws, gateway_ws, 2),
    ):
        if count <= 0:
            continue
        fleets.append(
            Fleet(
                FleetConfig(
                    gateway=url, piles=count, guns=c.guns, duration_s=None, transport=transport,
                    seed=c.seed + tag, time_scale=c.time_scale, state_dir=state_dir,
                    fault_rate=c.fault_rate, fault_params=params, auto=True,
                    mean_arrival_s=c.mean_arrival_s, pile_id_prefix=f"44030688{run:03d}{tag}",
                    connect_batch=200, ack_timeout_s=30.0, backoff_base_s=0.5,
                    backoff_max_s=5.0, bill_retry_s=20.0, durable=False,
                )
            )
        )  # fmt: skip
    return fleets


def gateway_env(c: SoakConfig, db_url: str, mqtt_url: str | None) -> dict[str, str]:
    env = python_env()
    for key in [k for k in env if k.startswith("PILEGATE_")]:
        del env[key]  # nothing from the caller's gateway set-up leaks in
    env.update(
        PILEGATE_HOST=HOST,
        PILEGATE_TCP_PORT=str(free_port()),
        PILEGATE_WS_PORT=str(free_port()),
        PILEGATE_ADMIN_HOST=HOST,
        PILEGATE_ADMIN_PORT=str(free_port()),
        PILEGATE_ADMIN_TOKEN=TOKEN,
        PILEGATE_DATABASE_URL=db_url,
        PILEGATE_AUTO_REGISTER="true",
        PILEGATE_LOG_LEVEL="info",
        PILEGATE_HEARTBEAT_INTERVAL_S=str(c.heartbeat_s),
        PILEGATE_START_TIMEOUT_S=str(c.start_timeout_s),
        PILEGATE_LOGIN_TIMEOUT_S="30",
        PILEGATE_PILES_COMMAND_TIMEOUT_S="5",
    )
    if mqtt_url:
        env["PILEGATE_MQTT_URL"] = mqtt_url
    return env


async def run_soak(c: SoakConfig) -> dict[str, Any]:
    rng = random.Random(c.seed)
    work = Path(c.work_dir or tempfile.mkdtemp(prefix="pilegate-soak-"))
    os.makedirs(work, exist_ok=True)
    log_path = work / "gateway.log"
    soak = Soak(c, rng)
    soak.app_accounts = [f"APP{n:08d}" for n in range(max(16, c.piles // 2))]
    drivers = max(accounts.DEFAULT_POOL, c.piles)
    t_start = time.monotonic()
    async with soak_database(
        c.database_url or os.environ.get("PILEGATE_DATABASE_URL"), c.keep
    ) as url:
        await register_accounts(url, drivers, soak.app_accounts)
        gateway_url = url
        if c.db_outage_s > 0:
            from sqlalchemy.engine import make_url

            u = make_url(url)
            soak.proxy = FaultProxy(u.host or HOST, u.port or 5432)
            await soak.proxy.start()
            gateway_url = u.set(host=HOST, port=soak.proxy.port).render_as_string(
                hide_password=False
            )
        if c.mqtt:
            soak.broker = Broker(work)
            await soak.broker.start()
        env = gateway_env(c, gateway_url, soak.broker.url if soak.broker else None)
        soak.gateway = GatewayProcess(env, log_path, work)
        fleets_started = False
        try:
            await soak.gateway.start()
            soak.admin = Admin(f"http://{HOST}:{soak.gateway.admin}", TOKEN)
            soak.fleets = _fleets(
                c, f"tcp://{HOST}:{soak.gateway.tcp}", f"ws://{HOST}:{soak.gateway.ws}",
                work / "piles",
            )  # fmt: skip
            for fleet, i in soak.piles():
                fleet.pile(i).account_pool = drivers
                soak.record_bills(fleet.pile(i))
            for fleet in soak.fleets:
                await fleet.start()
            fleets_started = True
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            injections = loop.create_task(soak.injections(t0))
            await soak.churn(t0 + c.duration_s)
            soak.churning = False
            await injections
            settle_wall, settled = await soak.settle()
            invariants = await check_invariants(soak, url, log_path, c.check_wait_s)
        finally:
            if fleets_started:
                for fleet in soak.fleets:
                    await fleet.stop()
            gateway_rc = await soak.gateway.stop()
            if soak.broker is not None:
                await soak.broker.stop()
            if soak.proxy is not None:
                await soak.proxy.stop()
    stats: dict[str, Any] = collections.Counter()
    for fleet in soak.fleets:
        for key, value in fleet.summary().to_dict().items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                stats[key] += value
    failed = sorted(name for name, chk in invariants.items() if not chk["ok"])
    return {
        "ok": not failed,
        "failed": failed,
        "invariants": invariants,
        "churn": asdict(soak.counts) | {"bills_generated": len(soak.generated)},
        "admin_outcomes": dict(sorted(soak.outcomes.items())),
        "fleet": {
            k: stats[k]
            for k in (
                "logins",
                "reconnects",
                "disconnects",
                "sessions_started",
                "sessions_completed",
                "start_failures",
                "remote_starts",
                "remote_stops",
                "bills_sent",
                "bills_acked",
                "bills_resent",
                "bills_duplicate",
                "bills_lost",
                "faults_injected",
                "missed_acks",
                "decode_errors",
                "connect_errors",
            )
            if k in stats
        },
        "gateway": {
            "starts": soak.gateway.starts,
            "exit_status": gateway_rc,
            "log": str(log_path),
        },
        "config": asdict(c),
        "wall_s": round(time.monotonic() - t_start, 1),
        "settle_s": round(settle_wall, 1),
        "settled_quiet": settled,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/soak.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = SoakConfig()
    p.add_argument("--piles", type=int, default=d.piles)
    p.add_argument("--duration", type=float, default=d.duration_s, help="wall seconds of churn")
    p.add_argument("--guns", type=int, default=d.guns)
    p.add_argument("--ws-share", type=float, default=d.ws_share, help="share of WebSocket piles")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--time-scale", type=float, default=d.time_scale)
    p.add_argument("--fault-rate", type=float, default=d.fault_rate)
    p.add_argument("--remote-starts", type=float, default=d.remote_starts_per_pile_min,
                   help="per pile per wall minute")  # fmt: skip
    p.add_argument("--remote-stops", type=float, default=d.remote_stops_per_pile_min)
    p.add_argument("--disconnects", type=float, default=d.disconnects_per_pile_min)
    p.add_argument("--kills", type=int, default=d.kills, help="gateway kill -9 + restart count")
    p.add_argument("--db-outage", type=float, default=d.db_outage_s, help="seconds (0: none)")
    p.add_argument("--mqtt", action="store_true", help="start a mosquitto and publish events")
    p.add_argument("--broker-restart", action="store_true", help="restart it once (with --mqtt)")
    p.add_argument("--database", default=None, help="default: $PILEGATE_DATABASE_URL or fresh")
    p.add_argument("--heartbeat", type=int, default=d.heartbeat_s)
    p.add_argument("--start-timeout", type=float, default=d.start_timeout_s)
    p.add_argument("--settle", type=float, default=d.settle_s, help="max seconds to settle")
    p.add_argument("--check-wait", type=float, default=d.check_wait_s,
                   help="max seconds the checks are taken again until they hold")  # fmt: skip
    p.add_argument("--work-dir", default=None, help="gateway log and pile state (default: tmp)")
    p.add_argument("--keep", action="store_true", help="keep the fresh database")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    config = SoakConfig(
        piles=a.piles, duration_s=a.duration, guns=a.guns, ws_share=a.ws_share, seed=a.seed,
        time_scale=a.time_scale, fault_rate=a.fault_rate,
        remote_starts_per_pile_min=a.remote_starts, remote_stops_per_pile_min=a.remote_stops,
        disconnects_per_pile_min=a.disconnects, kills=a.kills, db_outage_s=a.db_outage,
        mqtt=a.mqtt or a.broker_restart, broker_restart=a.broker_restart,
        database_url=a.database, heartbeat_s=a.heartbeat, start_timeout_s=a.start_timeout,
        settle_s=a.settle, check_wait_s=a.check_wait, work_dir=a.work_dir, keep=a.keep,
    )  # fmt: skip
    from simulators.limits import raise_nofile

    raise_nofile(config.piles * 2 + 100)
    summary = asyncio.run(run_soak(config))
    print(json.dumps(summary, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
