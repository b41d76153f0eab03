"""Idle OCPP 1.6J chargers: N charge points (default 10,000) connected to pilegate's OCPP
listener (subprocess, PostgreSQL, journal on, chargers auto-registered), each booted with its
two connectors reported Available, then idle with a heartbeat every --interval seconds.

Reports the gateway's RSS per connected charger ((median RSS while idle - RSS before any
charger connected) ÷ chargers) against the target of 20 KiB, its CPU % while idle, and
heartbeats missed (no answer within 10 s).

    .venv/bin/python bench/ocpp_idle.py [--chargers 10000] [--hold 60] [--interval 30]

Prints a table and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    HOST,
    PYTHON,
    ROOT,
    ProcessSampler,
    free_port,
    gateway_process,
    last_json_line,
    raise_nofile_here,
    table,
    throwaway_database,
    verdict,
    wait_port,
)

TARGET_KIB_PER_CHARGER = 20.0


async def fleet(url: str, chargers: int, hold_s: float, interval_s: float, batch: int) -> dict:
    """The load: connect and boot every charger, then idle with heartbeats; counts."""
    from websockets.asyncio.client import connect

    from simulators.limits import raise_nofile

    raise_nofile(chargers)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(batch)
    counts = {"connected": 0, "failed": 0, "heartbeats": 0, "missed": 0}
    all_in = asyncio.Event()
    reasons: dict[str, int] = {}

    def settled() -> None:
        if counts["connected"] + counts["failed"] >= chargers:
            all_in.set()

    async def reply(ws: Any) -> Any:
        while True:  # answer the server's CALLs (the availability it sends at connect)
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message[0] != 2:
                return message
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))

    async def one(i: int, idle_until: asyncio.Future[float]) -> None:
        async with gate:
            try:
                ws = await connect(
                    f"{url}/IDLE{i:06d}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    compression=None, open_timeout=30,
                )  # fmt: skip
                await ws.send(json.dumps([2, "b", "BootNotification",
                    {"chargePointVendor": "ACME", "chargePointModel": "IDLE"}]))  # fmt: skip
                await reply(ws)
                for c in (1, 2):
                    status = {"connectorId": c, "errorCode": "NoError", "status": "Available"}
                    await ws.send(json.dumps([2, f"s{c}", "StatusNotification", status]))
                    await reply(ws)
            except Exception as exc:
                counts["failed"] += 1
                reasons[type(exc).__name__] = reasons.get(type(exc).__name__, 0) + 1
                settled()
                return
        counts["connected"] += 1
        settled()
        end = await idle_until
        n = 0
        while loop.time() + interval_s < end:
            await asyncio.sleep(interval_s)
            n += 1
            try:
                await ws.send(f'[2,"h{n}","Heartbeat",{{}}]')
                await reply(ws)
                counts["heartbeats"] += 1
            except Exception:
                counts["missed"] += 1
        await ws.close()

    idle_until: asyncio.Future[float] = loop.create_future()
    t0 = loop.time()
    tasks = [asyncio.create_task(one(i, idle_until)) for i in range(chargers)]
    await all_in.wait()
    connect_s = loop.time() - t0
    print(json.dumps({"phase": "idle", **counts}), flush=True)
    idle_until.set_result(loop.time() + hold_s)
    await asyncio.gather(*tasks)
    return {**counts, "failures": reasons, "connect_s": round(connect_s, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chargers", type=int, default=10_000)
    ap.add_argument("--hold", type=float, default=60.0, help="idle phase, seconds")
    ap.add_argument("--interval", type=float, default=30.0, help="heartbeat interval, seconds")
    ap.add_argument("--batch", type=int, default=50, help="connections in flight at a time")
    ap.add_argument("--load", nargs=5, metavar="X", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.load:
        import uvloop

        url, n, hold, interval, batch = args.load
        result = uvloop.run(fleet(url, int(n), float(hold), float(interval), int(batch)))
        print(json.dumps(result))
        return 0
    port = free_port()
    env = {"PILEGATE_OCPP_ENABLED": "true", "PILEGATE_OCPP_PORT": str(port)}
    with throwaway_database() as db, gateway_process(db, extra_env=env) as (proc, _, _ws):
        wait_port(port, 10, proc)
        time.sleep(2.0)  # settle after start-up (imports, pools)
        with ProcessSampler(proc.pid, period=1.0) as sampler:
            before = sampler.sample()
            cmd = [PYTHON, __file__, "--load", f"ws://{HOST}:{port}/ocpp", str(args.chargers),
                   str(args.hold), str(args.interval), str(args.batch)]  # fmt: skip
            load = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                    preexec_fn=raise_nofile_here)  # fmt: skip
            assert load.stdout is not None
            idle_at = None
            for line in load.stdout:
                if idle_at is None and '"phase": "idle"' in line:
                    idle_at = time.monotonic()
                last = line
            load.wait()
            t_end = time.monotonic()
        alive = proc.poll() is None
    result_load = last_json_line(last)  # the load's summary: its last line
    start = (idle_at or t_end) + 2.0
    phase = [s for s in sampler.samples if start <= s.t <= t_end - 1.0] or sampler.samples[-2:]
    rss_idle = statistics.median(s.rss for s in phase)
    cpu_pct = 100 * (phase[-1].cpu_s - phase[0].cpu_s) / max(1e-9, phase[-1].t - phase[0].t)
    online = max(1, int(result_load["connected"]))
    per = (rss_idle - before.rss) / online / 1024
    result = {
        "chargers": args.chargers,
        **result_load,
        "rss_before_mib": round(before.rss / 2**20, 1),
        "rss_idle_mib": round(rss_idle / 2**20, 1),
        "kib_per_charger": round(per, 1),
        "idle_cpu_pct": round(cpu_pct, 1),
        "gateway_alive": alive,
    }
    print(f"idle OCPP chargers: {args.chargers:,}, heartbeat every {args.interval:g} s")
    print(table(["figure", "value"], [[k, v] for k, v in result.items()]))
    targets = {
        "kib_per_charger_le_20": per <= TARGET_KIB_PER_CHARGER,
        "all_connected_no_missed": result_load["connected"] == args.chargers
        and result_load["missed"] == 0,
    }
    for k, ok in targets.items():
        print(f"target {k}: {verdict(ok)}")
    print(json.dumps({"bench": "ocpp_idle", "result": result, "targets": targets}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
