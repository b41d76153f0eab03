"""The main job (`make demo`): the gateway on the embedded SQLite default, simulated piles of
the three dialects charging against it for about a minute, then the bills as a table.

Each dialect's piles run as their own simulator process (`pilegate-sim run --protocol ...`), as
they would in a real trial: protocol v1 and YKC piles on the gateway's TCP port (the gateway
tells them apart by their first bytes), OCPP 1.6J chargers on its WebSocket port. Every pile is
registered beforehand the way its dialect needs (v1 by its 20-digit id, YKC by its 14-digit
number, OCPP by its charge point id); nothing is auto-registered. All clocks run an hour per
wall minute, so a minute shows whole services (arrive, authorise by card or password, charge,
unplug, bill); the gateway's session timers are scaled the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from billing.tariff import ScopeKind
from gateway.adapters.pilegate.showcase import example_tariff
from gateway.app import Gateway
from gateway.config import GatewayConfig, load_config
from gateway.logs import configure_logging
from gateway.storage import Storage
from gateway.storage.schema import anomalies, bills, sessions

if TYPE_CHECKING:
    from rich.console import JustifyMethod

DEMO_DIR = Path("var/demo")
DEMO_URL = f"sqlite+aiosqlite:///{DEMO_DIR / 'pilegate.sqlite3'}"
TIME_SCALE = 120.0
ADMIN_PORT = 8406
PILE_ID_PREFIX = "4403060003"  # the simulator's default prefix of its 20-digit pile ids


@dataclass(frozen=True, slots=True)
class DialectRun:
    """One simulator process: the piles of one dialect, numbered apart from the others."""

    label: str  # as the bills table shows it
    protocol: str  # pilegate-sim run --protocol
    piles: int
    id_offset: int  # the piles are numbered from id_offset + 1
    extra: tuple[str, ...] = ()

    def pile_ids(self) -> list[str]:
        """The ids the gateway knows these piles by (what they log in with)."""
        full = [
            f"{PILE_ID_PREFIX}{self.id_offset + i + 1:0{20 - len(PILE_ID_PREFIX)}d}"
            for i in range(self.piles)
        ]
        return [p[-14:] for p in full] if self.protocol == "ykc" else full


def _dialect_runs(v1_piles: int) -> tuple[DialectRun, ...]:
    return (
        DialectRun(
            "v1", "pilegate", v1_piles, 0,
            # Two field cases on purpose: energy nobody authorised (case 4) and a start that
            # fails with fault 98 and no logout (case 1). The failed start's bill comes half an
            # hour later (pile clock) instead of ten hours, so that the minute shows pilegate
            # flag it and refuse its idle fee.
            ("--fault", "unauthorised_charge@2:1", "--fault", "start_fails@3:1",
             "--late-bill-after", "25"),
        ),
        DialectRun("OCPP 1.6J", "ocpp16", 2, 100),
        DialectRun("YKC", "ykc", 2, 200),
    )  # fmt: skip


def _sim_command() -> list[str]:
    script = Path(sys.executable).with_name("pilegate-sim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "simulators.cli"]


def _free_loopback_port() -> int:
    """A port nothing listens on now, for the OCPP listener (its config wants a number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_config(base: GatewayConfig, ocpp_port: int) -> GatewayConfig:
    return replace(
        base,
        server=replace(base.server, host="127.0.0.1", tcp_port=0, ws_enabled=False),
        piles=replace(base.piles, auto_register=False),
        database=replace(base.database, url=""),
        mqtt=replace(base.mqtt, url=""),
        ocpp=replace(base.ocpp, enabled=True, port=ocpp_port),
    )


async def _register_piles(storage: Storage, runs: tuple[DialectRun, ...], at_ms: int) -> None:
    for run in runs:
        for pile_id in run.pile_ids():
            if run.protocol == "ocpp16":
                await storage.register_charger(pile_id, gun_count=2, at_ms=at_ms)
            else:
                await storage.register_pile(pile_id, gun_count=2, at_ms=at_ms)


def _drivers() -> list[dict[str, Any]]:
    """The simulator's driver accounts, as it prints them."""
    out = subprocess.run(
        [*_sim_command(), "accounts", "--pool", "64"], capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout))


async def _register_drivers(storage: Storage, drivers: list[dict[str, Any]]) -> int:
    for d in drivers:
        await storage.add_account(
            d["account"], balance_fen=100_000, card_token=d["card"], password=d["password"]
        )
    return len(drivers)


def _money(fen: int) -> str:
    return f"{fen / 100:.2f}"


FIGURES = (
    ("energy kWh", "energy_dwh", "our_energy_dwh"),
    ("energy CNY", "energy_amount_fen", "our_energy_amount_fen"),
    ("service CNY", "service_amount_fen", "our_service_amount_fen"),
    ("idle fee CNY", "idle_fee_fen", "our_idle_fee_fen"),
    ("total CNY", "total_amount_fen", "our_total_fen"),
)


def _figure(column: str, value: int) -> str:
    return f"{value / 10_000:.2f}" if column.endswith("_dwh") else _money(value)


def _print_flagged(rows: list[Any]) -> None:
    """One flagged bill in full: the pile's figures beside pilegate's, and why it is flagged."""
    from rich.console import Console
    from rich.table import Table

    from billing.anomalies import AnomalyCode

    flagged = [r for r in rows if r.anomaly_codes]
    if not flagged:
        print("no bill was flagged this time")
        return
    # The most telling one: the largest difference between the two totals.
    r = max(flagged, key=lambda b: abs(b.total_amount_fen - b.our_total_fen))
    codes = [int(c) for c in r.anomaly_codes.split(",") if c]
    names = ", ".join(f"{c} {AnomalyCode(c).name.lower()}" for c in codes)
    from gateway.reports import format_duration

    table = Table(title=f"A flagged bill: pile {r.pile_id[-6:]} gun {r.gun}, anomalies {names}")
    table.add_column("")
    table.add_column("the pile says", justify="right")
    table.add_column("pilegate computed", justify="right")
    for label, theirs, ours in FIGURES:
        a, b = getattr(r, theirs), getattr(r, ours)
        mark = "" if a == b else "  <"
        table.add_row(label, _figure(theirs, a), _figure(ours, b) + mark)
    # The pile's idle time is from its own times; pilegate bills idle only up to the end it
    # knows (and none after a failed start).
    pile_idle = max(0, int(r.service_end_ms) - int(r.charge_end_ms))
    billable = f"{r.idle_billable_minutes} min billable"
    if r.idle_waived:
        billable += f" ({r.idle_waived})"
    elif r.idle_capped:
        billable += " (capped at the end pilegate knows)"
    table.add_row("idle time", format_duration(pile_idle), billable + "  <")
    Console(width=120).print(table)
    print(f"  see it whole: pilegate bills show {r.id} --database {DEMO_URL}")


def _print_alarms(alarms: list[Any]) -> None:
    if not alarms:
        print("alarms: none")
        return
    print(f"alarms ({len(alarms)}):")
    seen: dict[tuple[str, str], list[Any]] = {}
    for a in alarms:
        seen.setdefault((a.pile_id or "", a.kind), []).append(a)
    for (pile_id, kind), group in list(seen.items())[:8]:
        times = f" (x{len(group)})" if len(group) > 1 else ""
        print(f"  pile {pile_id[-6:]}  {kind.removeprefix('alarm:'):<26} {group[0].reason}{times}")
    rogue = [a for a in alarms if a.kind == "alarm:charging_without_session"]
    if rogue:
        print(
            f"  -> pile {(rogue[0].pile_id or '')[-6:]} charged with nobody's authorisation "
            "(field case 4): pilegate raised the alarm and sent STOP at the first report"
        )


def _print_bills(rows: list[Any], dialect_of: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Bills stored by pilegate ({len(rows)})")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("pile", "left"), ("dialect", "left"), ("gun", "right"), ("channel", "left"),
        ("account", "left"), ("charge", "left"), ("kWh", "right"), ("pile CNY", "right"),
        ("ours CNY", "right"), ("idle fee", "right"), ("anomalies", "left"),
    )  # fmt: skip
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for r in rows:
        start = time.strftime("%H:%M", time.gmtime(r.charge_start_ms / 1000 + 8 * 3600))
        end = time.strftime("%H:%M", time.gmtime(r.charge_end_ms / 1000 + 8 * 3600))
        table.add_row(
            r.pile_id[-6:],
            dialect_of.get(r.pile_id, "?"),
            str(r.gun),
            r.channel,
            r.account,
            f"{start}-{end}",
            f"{r.energy_dwh / 10_000:.2f}",
            _money(r.total_amount_fen),
            _money(r.our_total_fen),
            _money(r.our_idle_fee_fen),
            r.anomaly_codes or "-",
        )
    Console(width=130).print(table)


def _print_dialect_summaries(
    runs: tuple[DialectRun, ...], summaries: list[dict[str, Any]], rows: list[Any]
) -> list[str]:
    """One line per dialect: what its simulator says it did and what pilegate stored. Returns
    the dialects whose piles got no bill stored (the demo then failed)."""
    silent = []
    for run, summary in zip(runs, summaries, strict=True):
        ids = set(run.pile_ids())
        stored = sum(1 for r in rows if r.pile_id in ids)
        print(
            f"{run.label + ':':<11} {run.piles} piles, "
            f"{summary.get('sessions_started', '?')} services started, "
            f"{summary.get('bills_sent', '?')} bills sent, "
            f"{summary.get('bills_acked', '?')} acked, {stored} stored by pilegate"
        )
        if stored == 0:
            silent.append(run.label)
    for label in silent:
        print(f"  !! no bill from the {label} piles was stored: see the log")
    return silent


async def _run_simulator(
    run: DialectRun, gateway_url: str, seconds: float, sim_start: int
) -> tuple[int, dict[str, Any]]:
    """One `pilegate-sim run` for one dialect's piles; its exit code and JSON summary."""
    sim = await asyncio.create_subprocess_exec(
        *_sim_command(), "run", "--protocol", run.protocol,
        "--gateway", gateway_url,
        "--piles", str(run.piles), "--guns", "2", "--duration", str(seconds),
        "--id-offset", str(run.id_offset),
        "--time-scale", str(TIME_SCALE), "--sim-start-ms", str(sim_start),
        "--mean-arrival", "300", "--seed", "7", *run.extra,
        "--state-dir", str(DEMO_DIR / "piles" / run.protocol), "--json",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out, _ = await sim.communicate()
    code = sim.returncode or 0
    return code, (json.loads(out or b"{}") if code == 0 else {})


async def _main_job(piles: int, seconds: float, drivers: list[dict[str, Any]]) -> int:
    log_path = DEMO_DIR / "gateway.log"
    log_file = log_path.open("ab")
    configure_logging("info", log_file)
    ocpp_port = _free_loopback_port()
    config = _demo_config(load_config(environ={}), ocpp_port)
    runs = _dialect_runs(piles)

    wall0 = time.time_ns() // 1_000_000
    sim_start = wall0 - int(seconds * TIME_SCALE * 1000)  # the run ends at real time

    def clock() -> int:
        return sim_start + int((time.time_ns() // 1_000_000 - wall0) * TIME_SCALE)

    url = DEMO_URL
    # The simulated piles bill with the example tariff: the gateway uses the same one, so
    # amounts that differ are real anomalies.
    tariff = example_tariff("demo", ScopeKind.STATION, "demo")
    storage = await Storage.open(url, upgrade=True, clock=clock, default_tariff=tariff)
    registered = await _register_drivers(storage, drivers)
    await _register_piles(storage, runs, clock())
    gateway = Gateway(config, storage, clock=clock, time_scale=TIME_SCALE)
    await gateway.start()
    admin = await _start_admin(gateway)
    tcp_url = f"tcp://127.0.0.1:{gateway.tcp_port}"
    ocpp_url = f"ws://127.0.0.1:{ocpp_port}/{config.ocpp.path_prefix}"
    print(f"pilegate gateway listening on {tcp_url} (v1 and YKC) and {ocpp_url}/<id> (OCPP)")
    if admin is not None:
        print(f"  web console, live while the demo runs: {admin.url}/console/")
    print(f"  database: {url} ({registered} driver accounts registered)")
    print(f"  log: {log_path} (JSON lines)")
    total = sum(r.piles for r in runs)
    kinds = ", ".join(f"{r.piles} {r.label}" for r in runs)
    print(
        f"pilegate-sim: {total} piles x 2 guns ({kinds}) for {seconds:.0f} s, clocks at "
        f"{TIME_SCALE:.0f}x ({seconds * TIME_SCALE / 3600:.1f} h of charging) ..."
    )
    results = await asyncio.gather(
        *(
            _run_simulator(r, ocpp_url if r.protocol == "ocpp16" else tcp_url, seconds, sim_start)
            for r in runs
        )
    )
    await asyncio.sleep(0.5)
    await storage.flush()
    async with storage.reader.connect() as conn:
        rows = list(await conn.execute(select(bills).order_by(bills.c.charge_start_ms)))
        phases: dict[str, int] = dict(
            (await conn.execute(select(sessions.c.state, func.count()).group_by(sessions.c.state)))
            .tuples()
            .all()
        )
        alarms = list(
            await conn.execute(
                select(anomalies)
                .where(anomalies.c.kind.like("alarm:%"))
                .order_by(anomalies.c.created_ms)
            )
        )
    metrics = gateway.metrics.snapshot()
    if admin is not None:
        await admin.stop()
    await gateway.stop()
    log_file.close()

    dialect_of = {pile_id: r.label for r in runs for pile_id in r.pile_ids()}
    print()
    _print_bills(rows, dialect_of)
    silent = _print_dialect_summaries(runs, [summary for _, summary in results], rows)
    print(
        f"gateway: {metrics['logins']} logins, bills {metrics['bills']}, "
        f"alarms {metrics['alarms'] or 'none'}, decode errors {metrics['decode_errors'] or 'none'}"
    )
    print(
        "services by how far they got: " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items()))
    )
    print()
    _print_flagged(rows)
    print()
    _print_alarms(alarms)
    print()
    print("anomaly codes and field cases: docs/field-cases.md; every event is in " + str(log_path))
    print(
        "browse these bills, alarms and frames in the web console:\n"
        f"  PILEGATE_DATABASE_URL={DEMO_URL} pilegate serve\n"
        f"  then open http://127.0.0.1:{ADMIN_PORT}/console/"
    )
    failed = [r.label for r, (code, _) in zip(runs, results, strict=True) if code != 0]
    for label in failed:
        print(f"  !! the {label} simulator failed")
    return 1 if failed or silent else 0


async def _start_admin(gateway: Gateway) -> Any:
    """The admin server (and its web console) on loopback: the usual port, else any free one;
    the demo goes on without it if neither works."""
    from gateway.admin import AdminServer, AdminStartError
    from gateway.config import AdminConfig

    for port in (ADMIN_PORT, 0):
        admin = AdminServer(gateway, AdminConfig(host="127.0.0.1", port=port))
        try:
            await admin.start()
            return admin
        except (AdminStartError, OSError, TimeoutError):
            await admin.stop()
    return None


def main_job(piles: int = 4, seconds: float = 60.0) -> int:
    from gateway.serve import run

    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(parents=True)
    return run(_main_job(piles, seconds, _drivers()))
