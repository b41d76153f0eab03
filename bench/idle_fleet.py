"""An idle fleet: N piles (default 10,000) logged in over TCP, heartbeating every 30 s for a
few minutes, against the real gateway (subprocess, PostgreSQL, journal on).

Reports the gateway's RSS per connected pile ((RSS while the fleet is logged in - RSS before
any pile connected) ÷ piles), its CPU % over the heartbeat phase, and missed or late acks
(missed: no HEARTBEAT_ACK within 10 s, the load generator's timeout, which also bounds each
LOGIN; late: an ack slower than --late-ms, default 2,000 ms, seen as the run's maximum ack
latency: both must be zero).

    .venv/bin/python bench/idle_fleet.py [--piles 10000] [--duration 180] [--interval 30]

Prints a table and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    HOST,
    ProcessSampler,
    gateway_process,
    run_sim_load,
    table,
    throwaway_database,
    verdict,
)

TARGET_KIB_PER_PILE = 60.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--piles", type=int, default=10_000)
    ap.add_argument("--duration", type=float, default=180.0, help="heartbeat phase, seconds")
    ap.add_argument("--interval", type=int, default=30, help="heartbeat interval, seconds")
    ap.add_argument("--ack-timeout", type=float, default=10.0, help="no ack by then = missed")
    ap.add_argument("--late-ms", type=float, default=2000.0, help="an ack slower = late")
    ap.add_argument("--batch", type=int, default=100, help="logins in flight at a time")
    args = ap.parse_args(argv)

    with (
        throwaway_database() as url,
        gateway_process(url, heartbeat_interval_s=args.interval) as (proc, tcp, _ws),
    ):
        time.sleep(2.0)  # settle after start-up (imports, pools)
        with ProcessSampler(proc.pid, period=1.0) as sampler:
            before = sampler.sample()
            load = run_sim_load(
                f"tcp://{HOST}:{tcp}", args.piles, interval_s=args.interval,
                duration_s=args.duration, batch=args.batch, ack_timeout_s=args.ack_timeout,
            )  # fmt: skip
            t_end = time.monotonic()
        alive = proc.poll() is None
    measure_s = float(load["measure_s"])
    # the heartbeat phase ended shortly before the load process exited
    hb_start = t_end - measure_s - 0.5
    phase = [s for s in sampler.samples if hb_start <= s.t <= t_end - 0.5]
    first, last = phase[0], phase[-1]
    cpu_pct = 100 * (last.cpu_s - first.cpu_s) / max(1e-9, last.t - first.t)
    rss_login = phase[min(2, len(phase) - 1)].rss  # just after the last login
    rss_steady = statistics.median(s.rss for s in phase)
    rss_peak = max(s.rss for s in sampler.samples)
    online = max(1, int(load["piles_online"]))
    per_pile = (rss_steady - before.rss) / online / 1024
    per_pile_peak = (rss_peak - before.rss) / online / 1024
    missed = int(load["missed_acks"])
    late_free = float(load["ack_max_ms"]) <= args.late_ms
    result = {
        "piles": args.piles,
        "piles_online": load["piles_online"],
        "login_failures": load["login_failures"] + load["connect_errors"],
        "connect_s": load["connect_s"],
        "heartbeat_phase_s": measure_s,
        "interval_s": args.interval,
        "heartbeats": load["heartbeats_sent"],
        "acks": load["acks"],
        "missed_acks": missed,
        "late_acks": "none" if late_free else f"some (max {load['ack_max_ms']:.0f} ms)",
        "late_ms": args.late_ms,
        "ack_p50_ms": load["ack_p50_ms"],
        "ack_p99_ms": load["ack_p99_ms"],
        "ack_max_ms": load["ack_max_ms"],
        "rss_before_mib": round(before.rss / 2**20, 1),
        "rss_after_login_mib": round(rss_login / 2**20, 1),
        "rss_steady_mib": round(rss_steady / 2**20, 1),
        "rss_peak_mib": round(rss_peak / 2**20, 1),
        "kib_per_pile": round(per_pile, 1),
        "kib_per_pile_peak": round(per_pile_peak, 1),
        "cpu_pct": round(cpu_pct, 1),
        "gateway_alive": alive,
    }
    print(
        f"idle fleet: {args.piles:,} piles over TCP, heartbeat every {args.interval} s, "
        f"{measure_s:.0f} s heartbeat phase (logins took {load['connect_s']:.1f} s)"
    )
    rows = [[k, v] for k, v in result.items()]
    print(table(["figure", "value"], rows))
    targets = {
        "kib_per_pile_le_60": per_pile <= TARGET_KIB_PER_PILE,
        "zero_missed_or_late_acks": missed == 0
        and late_free
        and load["piles_online"] == args.piles
        and load["acks"] == load["heartbeats_sent"],
    }
    for k, ok in targets.items():
        print(f"target {k}: {verdict(ok)}")
    print(json.dumps({"bench": "idle_fleet", "result": result, "targets": targets}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
