"""``pilegate-sim``: the pile simulator.

    pilegate-sim run --gateway tcp://127.0.0.1:2406 --piles 20 --guns 2 --duration 60 \\
        --time-scale 60 --state-dir var/sim --fault-rate 0.1
    pilegate-sim load --gateway tcp://127.0.0.1:2406 --piles 10000 --heartbeat-interval 30 \\
        --duration 120 --json
    pilegate-sim run --gateway tls://gw.example:2406 --ca gw-ca.pem --secrets secrets.csv

Authentication: ``--secret HEX`` signs every pile's LOGIN with one secret, ``--secrets FILE``
gives each pile its own (the CSV `pilegate piles add ... --secret generate --format csv`
prints, or lines ``PILE_ID HEX``); ``tls://`` and ``wss://`` gateways are verified against
``--ca FILE`` (default: the system's CAs).

Time scale: at ``--time-scale X`` the piles' clock runs X times faster than the wall clock
(X=60: a 20-minute charge takes 20 s), and every timestamp they send, bills included, is on
that one clock; for a run of known duration it starts duration*X in the past so it never runs
ahead of the gateway's real time. Heartbeats, ack time-outs and back-off stay in wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from simulators.faults import FAULT_FLAGS

PROTOCOLS = ("pilegate", "ocpp16", "ykc")  # as simulators.fleet.PROTOCOLS (imported lazily)

if TYPE_CHECKING:
    from rich.table import Table

    from simulators.fleet import Fleet, Summary
    from simulators.stats import FleetStats


def package_version() -> str:
    try:
        return version("pilegate")
    except PackageNotFoundError:
        return "0+unknown"


RUN_DESCRIPTION = """\
Simulated charging piles against a running gateway: each pile logs in, reports its guns,
takes cars (a charge, a bill, sometimes a fault) and keeps its unacknowledged bills in
--state-dir so that a re-run sends them again.

examples:
  pilegate-sim run --gateway tcp://127.0.0.1:2406 --piles 20 --duration 60 --time-scale 60
  pilegate-sim run --protocol ocpp16 --gateway ws://127.0.0.1:2408/ocpp --piles 5
  pilegate-sim run --protocol ykc --gateway tcp://127.0.0.1:2406 --piles 5

The same piles (cars, charges, faults, bills) speak protocol v1, OCPP 1.6J or YKC. An OCPP
charge point's id is the pile's 20-digit number; a YKC pile's number is its last 14 digits.

--time-scale 60 runs the piles' clock 60 times faster (a 20-minute charge takes 20 s);
heartbeats and time-outs stay in real time. The gateway must know the piles: register them
(`pilegate piles import FILE`) or start it with PILEGATE_AUTO_REGISTER=true.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pilegate-sim", description="Simulated charging piles.")
    parser.add_argument("--version", action="version", version=f"pilegate-sim {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run piles with cars, sessions, bills and faults",
        description=RUN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--gateway",
        default="tcp://127.0.0.1:2406",
        help="tcp://HOST:PORT, tls://HOST:PORT (TCP with TLS), ws://HOST:PORT or wss://HOST:PORT;"
        " for OCPP the WebSocket URL the charge point id is appended to (ws://HOST:PORT/PATH)",
    )
    run.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="pilegate",
        help="what the piles speak: pilegate (protocol v1, default), ocpp16 (OCPP 1.6J charge "
        "points over ws:// or wss://) or ykc (YKC piles over tcp:// or tls://)",
    )
    run.add_argument(
        "--ocpp-password",
        metavar="TEXT",
        default=None,
        help="OCPP: HTTP Basic Auth password of every charge point (security profile 1 or 2)",
    )
    run.add_argument(
        "--ykc-version",
        type=int,
        choices=(15, 16, 17),
        default=16,
        help="YKC: the protocol version the piles log in with (17: the V1.7 0x3D bill)",
    )
    run.add_argument("--piles", type=int, default=10, help="simulated piles (default 10)")
    run.add_argument("--guns", type=int, default=2, help="guns per pile (default 2)")
    run.add_argument("--duration", type=float, default=60.0, help="wall seconds (default 60)")
    run.add_argument(
        "--transport", choices=("tcp", "ws"), default=None, help="default: from --gateway"
    )
    run.add_argument("--firmware-mix", default="V2.3.7:1", help='e.g. "V2.3.7:0.9,V2.1.0:0.1"')
    run.add_argument("--seed", type=int, default=0, help="random seed: same seed, same run")
    run.add_argument("--time-scale", type=float, default=1.0, help="pile clock speed (60: 1 min/s)")
    run.add_argument("--state-dir", default="var/sim", help="pending bills, one file per pile")
    run.add_argument("--fault-rate", type=float, default=0.0, help="share of piles given one fault")
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[@PILE[:GUN]]",
        help="force a fault on every pile, or on pile index PILE (gun GUN); one of: "
        + ", ".join(FAULT_FLAGS),
    )
    run.add_argument(
        "--mean-arrival", type=float, default=20 * 60, help="pile-clock s between cars"
    )
    run.add_argument("--ac", action="store_true", help="7 kW AC piles instead of DC")
    run.add_argument(
        "--sim-start-ms",
        type=int,
        default=None,
        help="pile clock at start, UTC epoch ms (default: so that the run ends at real time)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object, no live display")
    run.add_argument(
        "--late-bill-after",
        type=float,
        default=None,
        metavar="MIN",
        help="start_fails: upload the failed start's bill this many pile-clock minutes later "
        "(default 600, as in field case 1)",
    )
    run.add_argument(
        "--id-offset",
        type=int,
        default=0,
        metavar="N",
        help="number the piles from N+1 (two simulators at once: give them different offsets)",
    )
    _credential_args(run)
    run.set_defaults(handler=_run)

    load = commands.add_parser("load", help="many piles: login + lock-step heartbeats only")
    load.add_argument(
        "--gateway", default="tcp://127.0.0.1:2406", help="tcp://HOST:PORT or ws://HOST:PORT"
    )
    load.add_argument("--piles", type=int, default=10_000, help="piles (default 10000)")
    load.add_argument(
        "--heartbeat-interval", type=float, default=30.0, help="0: as fast as lock-step allows"
    )
    load.add_argument("--duration", type=float, default=60.0, help="wall seconds (default 60)")
    load.add_argument("--batch", type=int, default=500, help="connections opened at a time")
    load.add_argument(
        "--ack-timeout", type=float, default=10.0, help="s to wait for a heartbeat's answer"
    )
    load.add_argument("--guns", type=int, default=2, help="guns per pile (default 2)")
    load.add_argument("--seed", type=int, default=0, help="random seed")
    load.add_argument("--json", action="store_true", help="print one JSON object")
    load.set_defaults(handler=_load)

    drivers = commands.add_parser(
        "accounts", help="print the simulated drivers' accounts (register them on the gateway)"
    )
    drivers.add_argument("--pool", type=int, default=64, help="how many accounts (default 64)")
    drivers.set_defaults(handler=_accounts)

    listing = commands.add_parser("scenarios", help="list the field-case scenarios")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_scenarios)

    one = commands.add_parser(
        "scenario",
        help="run one field-case scenario against a running gateway and check what it did",
        description=_scenario_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    one.add_argument("name", help="see `pilegate-sim scenarios`")
    one.add_argument(
        "--gateway",
        default="tcp://127.0.0.1:2406",
        help="tcp://HOST:PORT (ws://HOST:PORT/PATH for --protocol ocpp16)",
    )
    one.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="pilegate",
        help="the dialect the scenario's piles speak (see `pilegate-sim scenarios`)",
    )
    one.add_argument("--ocpp-password", metavar="TEXT", default=None, help="OCPP Basic Auth")
    one.add_argument("--admin", default="http://127.0.0.1:8406", help="the admin API's URL")
    one.add_argument(
        "--no-admin", action="store_true", help="pile-side checks only (few scenarios)"
    )
    one.add_argument("--token", default="", help="admin API bearer token")
    one.add_argument(
        "--start-timeout",
        type=float,
        default=300.0,
        help="the gateway's sessions.start_timeout_s (late_start waits past it; default 300)",
    )
    one.add_argument(
        "--bill-wait",
        type=float,
        default=1800.0,
        help="the gateway's sessions.bill_wait_s (old_firmware_lost_bill waits past it)",
    )
    one.add_argument(
        "--step-timeout", type=float, default=5.0, help="longest wait for any one reaction"
    )
    one.add_argument("--run-id", type=int, default=None, help="fixes the pile ids and accounts")
    one.add_argument("--json", action="store_true", help="print one JSON object")
    one.set_defaults(handler=_scenario)
    return parser


def _credential_args(p: argparse.ArgumentParser) -> None:
    """Pile authentication (docs/protocol.md §6.1.1) and TLS towards the gateway."""
    p.add_argument("--secret", metavar="HEX", help="sign every pile's LOGIN with this secret")
    p.add_argument(
        "--secrets",
        metavar="FILE",
        help="per-pile secrets: `pilegate piles add ... --secret generate --format csv` "
        "output, or lines PILE_ID HEX (overrides --secret for the piles it lists)",
    )
    p.add_argument(
        "--ca", metavar="FILE", help="CA certificate to verify a tls:// or wss:// gateway with"
    )


def _scenario_doc() -> str:
    from simulators import scenarios

    return scenarios.__doc__ or ""


def _scenarios(args: argparse.Namespace) -> int:
    from simulators.scenarios import catalogue

    rows = catalogue()
    if args.json:
        print(json.dumps(rows))
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'scenario':<{width}}  case  {'dialects':<21}  description")
    for r in rows:
        dialects = ",".join(r["dialects"])
        print(f"{r['name']:<{width}}  {r['case']:<4}  {dialects:<21}  {r['description']}")
    print("\nwhat differs per dialect: pilegate-sim scenarios --json (dialects)")
    return 0


def _scenario(args: argparse.Namespace) -> int:
    from simulators.scenarios import SCENARIOS, ScenarioOptions, run_scenario

    if args.name not in SCENARIOS:
        print(
            f"pilegate-sim: unknown scenario {args.name!r}; one of: {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    options = ScenarioOptions(
        gateway=args.gateway,
        admin=None if args.no_admin else args.admin,
        token=args.token,
        start_timeout_s=args.start_timeout,
        bill_wait_s=args.bill_wait,
        step_timeout_s=args.step_timeout,
        run_id=args.run_id,
        dialect=args.protocol,
        ocpp_password=args.ocpp_password,
    )
    try:
        result = asyncio.run(run_scenario(args.name, options))
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        for check in result.checks:
            mark = "PASS" if check.passed else "FAIL"
            print(f"{mark}  {check.name}" + (f"  ({check.detail})" if check.detail else ""))
        verdict = "passed" if result.passed else "FAILED"
        print(f"{result.scenario}: {verdict} in {result.wall_s:.1f} s, piles {result.piles}")
    return 0 if result.passed else 1


def _accounts(args: argparse.Namespace) -> int:
    from simulators.accounts import pool

    rows = [{"account": a, "card": c or None, "password": p or None} for a, c, p in pool(args.pool)]
    print(json.dumps(rows))
    return 0


def _apply_forced(fleet: Fleet, specs: list[str]) -> None:
    for spec in specs:
        name, _, where = spec.partition("@")
        if not where:
            for pile in fleet.piles:
                pile.force_fault(name)
            continue
        index, _, gun = where.partition(":")
        fleet.pile(int(index)).force_fault(name, gun=int(gun) if gun else None)


def _table(title: str, d: dict[str, object]) -> Table:
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in d.items():
        table.add_row(key, str(value))
    return table


def _live_table(stats: FleetStats) -> Table:
    from rich.table import Table

    lat = stats.latency
    table = Table(title="pilegate-sim")
    for col in ("online", "sessions", "bills sent", "acked", "re-sent", "pending", "alarms",
                "ack p50 ms", "ack p99 ms"):  # fmt: skip
        table.add_column(col, justify="right")
    table.add_row(
        f"{stats.piles_online}/{stats.piles}",
        str(stats.sessions_started),
        str(stats.bills_sent),
        str(stats.bills_acked),
        str(stats.bills_resent),
        str(stats.bills_pending),
        f"{stats.faults_injected} faults / {stats.nacks} nacks",
        f"{lat.percentile(50):.2f}",
        f"{lat.percentile(99):.2f}",
    )
    return table


UNKNOWN_PILES_HINT = (
    "the gateway does not know these piles (UNKNOWN_PILE). Register them — "
    "`pilegate piles import FILE` (CSV with a pile_id column: ids {first} .. {last}) — or "
    "start the gateway with PILEGATE_AUTO_REGISTER=true"
)


def _unreachable(gateway: str, timeout_s: float = 3.0) -> str | None:
    """Why nothing answers at the gateway's address (refused, unknown host, no answer), or
    None when something listens there: said at once instead of retrying in silence."""
    import socket

    from simulators.client import parse_gateway

    _, host, port = parse_gateway(gateway)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except ConnectionRefusedError:
        return f"nothing listens on {host}:{port} (connection refused): is pilegate serve running?"
    except socket.gaierror as exc:
        return f"unknown host {host}: {exc.strerror}"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"


def login_trouble(stats: Any, pile_ids: Sequence[str]) -> str | None:
    """What to tell the user when the gateway refuses the piles' logins."""
    if stats.logins or not stats.login_rejected:
        return None
    why = stats.login_rejected_why
    if why.get("UNKNOWN_PILE"):
        return UNKNOWN_PILES_HINT.format(first=pile_ids[0], last=pile_ids[-1])
    reasons = ", ".join(f"{name} x{n}" for name, n in sorted(why.items()))
    return f"the gateway refused every login ({reasons or stats.login_rejected})"


def _run(args: argparse.Namespace) -> int:
    from simulators.credentials import load_credentials
    from simulators.fleet import Fleet, FleetConfig, parse_firmware_mix

    if args.id_offset < 0:
        print("pilegate-sim: --id-offset must be >= 0", file=sys.stderr)
        return 2
    try:
        config = FleetConfig(
            gateway=args.gateway,
            piles=args.piles,
            guns=args.guns,
            duration_s=args.duration,
            transport=args.transport,
            firmware_mix=parse_firmware_mix(args.firmware_mix),
            seed=args.seed,
            time_scale=args.time_scale,
            state_dir=args.state_dir or None,
            fault_rate=args.fault_rate,
            mean_arrival_s=args.mean_arrival,
            ac=args.ac,
            sim_start_ms=args.sim_start_ms,
            pile_id_offset=args.id_offset,
            fault_params=(
                {"late_bill_delay_ms": int(args.late_bill_after * 60_000)}
                if args.late_bill_after is not None
                else {}
            ),
            credentials=load_credentials(args.secret, args.secrets, args.ca),
            protocol=args.protocol,
            ocpp_password=args.ocpp_password,
            ykc_version=args.ykc_version,
        )
        fleet = Fleet(config)
        _apply_forced(fleet, args.fault)
    except (ValueError, IndexError, OSError) as exc:
        print(f"pilegate-sim: {exc}", file=sys.stderr)
        return 2
    problem = _unreachable(fleet.gateway)
    if problem:
        print(f"pilegate-sim: {problem}", file=sys.stderr)
        return 1
    live = not args.json and sys.stdout.isatty()
    pile_ids = [p.pile_id for p in fleet.piles]
    outcome: dict[str, Any] = {"interrupted": False, "trouble": None}

    async def main() -> Summary:
        import signal

        loop = asyncio.get_running_loop()
        interrupted = asyncio.Event()
        # Ctrl-C ends the run like its end of time: the piles stop, the summary is printed
        # (no cancelled task is left behind for the loop to complain about).
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, interrupted.set)
        await fleet.start()
        view = None
        try:
            if live:
                from rich.live import Live

                view = Live(_live_table(fleet.summary().stats), refresh_per_second=4)
                view.start()
            end = loop.time() + args.duration
            while loop.time() < end and not interrupted.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(interrupted.wait(), min(0.5, end - loop.time()))
                if view is not None:
                    view.update(_live_table(fleet.summary().stats))
                trouble = login_trouble(fleet.stats, pile_ids)
                if trouble and fleet.stats.login_rejected >= len(pile_ids):
                    outcome["trouble"] = trouble  # every pile refused: waiting is pointless
                    break
        finally:
            if view is not None:
                view.stop()
            summary = await fleet.stop()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        outcome["interrupted"] = interrupted.is_set()
        return summary

    summary = asyncio.run(main())
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        from rich.console import Console

        Console().print(_table("pilegate-sim run: summary", summary.to_dict()))
    trouble = outcome["trouble"] or login_trouble(summary.stats, pile_ids)
    if trouble:
        print(f"pilegate-sim: {trouble}", file=sys.stderr)
        return 1
    return 130 if outcome["interrupted"] else 0


def _load(args: argparse.Namespace) -> int:
    from simulators.load import LoadConfig, run_load

    config = LoadConfig(
        gateway=args.gateway,
        piles=args.piles,
        heartbeat_interval_s=args.heartbeat_interval,
        duration_s=args.duration,
        connect_batch=args.batch,
        ack_timeout_s=args.ack_timeout,
        guns=args.guns,
        seed=args.seed,
    )
    try:
        summary = asyncio.run(run_load(config))
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        from rich.console import Console

        Console().print(_table("pilegate-sim load", summary.to_dict()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
