"""The main job (`make demo`): the gateway on the embedded SQLite default, simulated piles
charging against it for about a minute, then the bills as a table.

The simulator runs as its own process (`pilegate-sim run`), as it would in a real trial. Both
clocks run an hour per wall minute, so a minute shows whole services (arrive, authorise by card
or password, charge, unplug, bill); the gateway's session timers are scaled the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
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
TIME_SCALE = 60.0
ADMIN_PORT = 8406


def _sim_command() -> list[str]:
    script = Path(sys.executable).with_name("pilegate-sim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "simulators.cli"]


def _demo_config(base: GatewayConfig) -> GatewayConfig:
    return replace(
        base,
        server=replace(base.server, host="127.0.0.1", tcp_port=0, ws_enabled=False),
        piles=replace(base.piles, auto_register=True),
        database=replace(base.database, url=""),
        mqtt=replace(base.mqtt, url=""),
        ocpp=replace(base.ocpp, enabled=False),
    )


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


def _print_bills(rows: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Bills stored by pilegate ({len(rows)})")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("pile", "left"), ("gun", "right"), ("channel", "left"), ("account", "left"),
        ("charge", "left"), ("kWh", "right"), ("pile CNY", "right"), ("ours CNY", "right"),
        ("idle fee", "right"), ("anomalies", "left"),
    )  # fmt: skip
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for r in rows:
        start = time.strftime("%H:%M", time.gmtime(r.charge_start_ms / 1000 + 8 * 3600))
        end = time.strftime("%H:%M", time.gmtime(r.charge_end_ms / 1000 + 8 * 3600))
        table.add_row(
            r.pile_id[-6:],
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
    Console(width=120).print(table)


async def _main_job(piles: int, seconds: float, drivers: list[dict[str, Any]]) -> int:
    log_path = DEMO_DIR / "gateway.log"
    log_file = log_path.open("ab")
    configure_logging("info", log_file)
    config = _demo_config(load_config(environ={}))

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
    gateway = Gateway(config, storage, clock=clock, time_scale=TIME_SCALE)
    await gateway.start()
    admin = await _start_admin(gateway)
    print(f"pilegate gateway listening on tcp://127.0.0.1:{gateway.tcp_port}")
    if admin is not None:
        print(f"  web console, live while the demo runs: {admin.url}/console/")
    print(f"  database: {url} ({registered} driver accounts registered)")
    print(f"  log: {log_path} (JSON lines)")
    print(
        f"pilegate-sim: {piles} piles x 2 guns for {seconds:.0f} s, clocks at {TIME_SCALE:.0f}x "
        f"({seconds * TIME_SCALE / 3600:.1f} h of charging) ..."
    )
    sim = await asyncio.create_subprocess_exec(
        *_sim_command(), "run",
        "--gateway", f"tcp://127.0.0.1:{gateway.tcp_port}",
        "--piles", str(piles), "--guns", "2", "--duration", str(seconds),
        "--time-scale", str(TIME_SCALE), "--sim-start-ms", str(sim_start),
        "--mean-arrival", "300", "--seed", "7",
        # Two field cases on purpose: energy nobody authorised (case 4) and a start that
        # fails with fault 98 and no logout (case 1).
        "--fault", "unauthorised_charge@2:1", "--fault", "start_fails@3:1",
        # The failed start's bill comes half an hour later (pile clock) instead of ten hours,
        # so that the minute shows pilegate flag it and refuse its idle fee.
        "--late-bill-after", "25",
        "--state-dir", str(DEMO_DIR / "piles"), "--json",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out, _ = await sim.communicate()
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

    summary: dict[str, Any] = json.loads(out or b"{}") if sim.returncode == 0 else {}
    print()
    _print_bills(rows)
    print(
        f"simulator: {summary.get('sessions_started', '?')} services started, "
        f"{summary.get('bills_sent', '?')} bills sent, {summary.get('bills_acked', '?')} acked"
    )
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
    return 0 if sim.returncode == 0 else 1


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
