"""Heartbeat throughput of the real gateway (subprocess, PostgreSQL, journal on) under
`pilegate-sim load` lock-step heartbeats (interval 0), against a bare uvloop asyncio.Protocol
reply server on the same load: the limit of the stack on this machine.

    .venv/bin/python bench/gateway_throughput.py [--levels 100,1000] [--duration 15]
        [--profile DIR]   # py-spy record the gateway during the run (SVG per level)

Prints a table and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    HOST,
    PYTHON,
    ProcessSampler,
    free_port,
    gateway_process,
    run_sim_load,
    subprocess_server,
    table,
    throwaway_database,
    verdict,
)

TARGET_RATIO_1000 = 0.40  # of the bare-asyncio limit at 1,000 connections
TARGET_P99_MS_1000 = 30.0


# --- the bare reply server ------------------------------------------------------------------


def bare_server(port: int) -> None:
    """Answers every complete frame: LOGIN with LOGIN_ACK OK, anything else with a fixed
    HEARTBEAT_ACK echoing the seq (precomputed for all 65,536 seqs). No body is decoded: only
    the length field is read to find frame boundaries."""
    import uvloop

    from protocol.pilegate import HeartbeatAck, LoginAck, MsgType, Result, encode

    acks = [encode(HeartbeatAck(), seq) for seq in range(65536)]
    login_type = MsgType.LOGIN

    class Reply(asyncio.Protocol):
        __slots__ = ("buf", "transport")

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data if self.buf else data
            pos, size, out = 0, len(buf), []
            while size - pos >= 3:
                end = pos + ((buf[pos + 1] << 8) | buf[pos + 2]) + 5
                if end > size:
                    break
                seq = (buf[pos + 3] << 8) | buf[pos + 4]
                if buf[pos + 6] == login_type:
                    out.append(encode(LoginAck(Result.OK, int(time.time() * 1000), 30), seq))
                else:
                    out.append(acks[seq])
                pos = end
            self.buf = buf[pos:]
            if out:
                self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Reply, HOST, port, backlog=4096)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- the benchmark --------------------------------------------------------------------------


def measure(
    name: str, pid: int, gateway_url: str, piles: int, duration: float, interval: float = 0.0
) -> dict[str, Any]:
    with ProcessSampler(pid, period=0.5) as sampler:
        t0 = time.monotonic()
        load = run_sim_load(gateway_url, piles, interval_s=interval, duration_s=duration)
        t1 = time.monotonic()
    # the heartbeat phase is the last measure_s seconds of the load run (before its exit)
    measure_s = float(load["measure_s"])
    usage = sampler.window(t1 - measure_s - 0.3, t1)
    return {
        "server": name,
        "connections": piles,
        "interval_s": interval,
        "piles_online": load["piles_online"],
        "acks_per_s": load["acks_per_s"],
        "p50_ms": load["ack_p50_ms"],
        "p99_ms": load["ack_p99_ms"],
        "max_ms": load["ack_max_ms"],
        "missed_acks": load["missed_acks"],
        "cpu_pct": usage["cpu_pct"],
        "rss_mib": usage["rss_mib"],
        "acks_per_cpu_s": round(load["acks_per_s"] / max(0.01, usage["cpu_pct"] / 100)),
        "machine_busy_pct": usage["machine_busy_pct"],
        "measure_s": measure_s,
        "connect_s": load["connect_s"],
        "t0": t0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="100,1000")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per level")
    ap.add_argument("--profile", metavar="DIR", help="py-spy record the gateway into DIR")
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument(
        "--paced-interval", type=float, default=0.5,
        help="also 1,000 piles each beating every this many s (0: skip): latency at a fixed "
        "offered load, which lock-step cannot show (there p50 ~= connections / throughput)",
    )  # fmt: skip
    ap.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return 0
    levels = [int(x) for x in args.levels.split(",")]

    rows: list[dict[str, Any]] = []
    if not args.skip_bare:
        port = free_port()
        with subprocess_server(
            [PYTHON, __file__, "--bare-server", str(port)], port, log_name="bare"
        ) as proc:
            for n in levels:
                rows.append(
                    measure("bare uvloop", proc.pid, f"tcp://{HOST}:{port}", n, args.duration)
                )
            if args.paced_interval > 0:
                rows.append(measure("bare uvloop", proc.pid, f"tcp://{HOST}:{port}", 1000,
                                    args.duration, args.paced_interval))  # fmt: skip

    with throwaway_database() as url, gateway_process(url) as (proc, tcp, _ws):
        for n in levels:
            spy = None
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                # skip the connect phase: start a little later, stop before the end
                spy_out = Path(args.profile) / f"gateway_tcp_{n}.txt"
                spy = subprocess.Popen(
                    [sys.executable, "-c",
                     "import subprocess,sys,time; time.sleep(float(sys.argv[1])); "
                     "subprocess.run(sys.argv[2:])",
                     "3", str(Path(PYTHON).parent / "py-spy"), "record", "-p", str(proc.pid),
                     "-d", str(max(1, int(args.duration - 4))), "-r", "100", "-f", "raw",
                     "-o", str(spy_out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            rows.append(measure("pilegate", proc.pid, f"tcp://{HOST}:{tcp}", n, args.duration))
            if spy is not None:
                spy.wait(60)
        if args.paced_interval > 0:
            rows.append(measure("pilegate", proc.pid, f"tcp://{HOST}:{tcp}", 1000,
                                args.duration, args.paced_interval))  # fmt: skip

    bare = {(r["connections"], r["interval_s"]): r for r in rows if r["server"] == "bare uvloop"}
    for r in rows:
        b = bare.get((r["connections"], r["interval_s"]))
        mine = b is not None and r["server"] == "pilegate"
        r["ratio_of_bare"] = round(r["acks_per_s"] / b["acks_per_s"], 3) if mine else None
        r["cpu_cost_ratio_of_bare"] = (
            round(r["acks_per_cpu_s"] / b["acks_per_cpu_s"], 3) if mine else None
        )
    print(
        f"pilegate heartbeat throughput: lock-step heartbeats (interval 0; paced rows: each pile "
        f"every {args.paced_interval:g} s) from one "
        f"`pilegate-sim load` process, {args.duration:g} s per level, {os.cpu_count()} cores, "
        "gateway on PostgreSQL with the journal on"
    )
    cols = ["server", "connections", "interval_s", "acks_per_s", "p50_ms", "p99_ms", "max_ms",
            "missed_acks", "cpu_pct", "acks_per_cpu_s", "rss_mib", "machine_busy_pct",
            "ratio_of_bare"]  # fmt: skip
    print(table(cols, [[("-" if r[c] is None else r[c]) for c in cols] for r in rows]))

    pg = {(r["connections"], r["interval_s"]): r for r in rows if r["server"] == "pilegate"}
    targets: dict[str, Any] = {}
    if (1000, 0.0) in pg:
        r = pg[(1000, 0.0)]
        if r["ratio_of_bare"] is not None:
            targets["ratio_of_bare_1000_ge_0.40"] = r["ratio_of_bare"] >= TARGET_RATIO_1000
        targets["p99_1000_le_30ms_lockstep"] = r["p99_ms"] <= TARGET_P99_MS_1000
    if (1000, args.paced_interval) in pg:
        r = pg[(1000, args.paced_interval)]
        targets["p99_1000_le_30ms_paced"] = r["p99_ms"] <= TARGET_P99_MS_1000
    targets["zero_missed_acks"] = all(r["missed_acks"] == 0 for r in rows)
    for k, ok in targets.items():
        print(f"target {k}: {verdict(ok)}")
    for r in rows:
        r.pop("t0", None)
    print(json.dumps({"bench": "gateway_throughput", "duration_s": args.duration,
                      "results": rows, "targets": targets}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
