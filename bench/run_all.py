"""Run every benchmark (`make bench`): codec, bills, gateway throughput, OCPP peer, idle fleet.
Writes bench/results/latest.json (every bench's JSON line, the machine) and
bench/results/latest.md (a short table), and prints each bench's own table as it goes.

    .venv/bin/python bench/run_all.py [--quick] [--only codec,bills,throughput,peer,idle]

--quick: short durations (a smoke test of the whole chain, figures not comparable).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, last_json_line, machine

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


def commands(quick: bool) -> dict[str, list[str]]:
    def py(script: str, *args: str) -> list[str]:
        return [PYTHON, str(BENCH / script), *args]

    if quick:
        return {
            "codec": py("codec.py", "--frames", "20000", "--repeat", "2"),
            "bills": py("bills.py", "--seconds", "2"),
            "throughput": py("gateway_throughput.py", "--duration", "4"),
            "peer": py("peer_ocpp.py", "--duration", "4"),
            "idle": py("idle_fleet.py", "--piles", "2000", "--duration", "35"),
        }
    return {
        "codec": py("codec.py"),
        "bills": py("bills.py"),
        "throughput": py("gateway_throughput.py"),
        "peer": py("peer_ocpp.py"),
        "idle": py("idle_fleet.py"),
    }


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        "# pilegate benchmarks",
        "",
        f"{m['date']} · {m['cores']} cores · {m['cpu_model']} · Python {m['python']} · "
        f"{'quick run' if report['quick'] else 'full run'} · load generators on the same machine",
        "",
        "| bench | figure | value |",
        "|---|---|---|",
    ]
    b = report["benches"]
    if "codec" in b and "error" not in b["codec"]:
        c = b["codec"]
        out.append(f"| codec | HEARTBEAT decode, frames/s | {fmt(c['heartbeat_decode_fps'])} |")
        out.append(f"| codec | HEARTBEAT encode, frames/s | {fmt(c['heartbeat_encode_fps'])} |")
    if "bills" in b and "error" not in b["bills"]:
        for r in b["bills"]["results"]:
            out.append(
                f"| bills | {r['piles']} piles: bills/s, p99 ms | "
                f"{fmt(r['bills_per_s'])}, {fmt(r['p99_ms'])} |"
            )
    if "throughput" in b and "error" not in b["throughput"]:
        for r in b["throughput"]["results"]:
            extra = f", {r['ratio_of_bare']:.0%} of bare" if r.get("ratio_of_bare") else ""
            shape = f"each every {r['interval_s']:g} s" if r.get("interval_s") else "lock-step"
            out.append(
                f"| throughput (TCP) | {r['server']}, {r['connections']} conns {shape}: "
                "acks/s, p50/p99 ms"
                f", CPU %, RSS MiB | {fmt(r['acks_per_s'])}, {fmt(r['p50_ms'])}/"
                f"{fmt(r['p99_ms'])}, {fmt(r['cpu_pct'])}, {fmt(r['rss_mib'])}{extra} |"
            )
    if "peer" in b and "error" not in b["peer"]:
        for r in b["peer"]["results"]:
            out.append(
                f"| peer (WebSocket) | {r['server']}, {r['connections']} conns: hb/s, p99 ms, "
                f"CPU % | {fmt(r['heartbeats_per_s'])}, {fmt(r['p99_ms'])}, {fmt(r['cpu_pct'])} |"
            )
        for x in b["peer"]["ratios"]:
            out.append(
                f"| peer (WebSocket) | pilegate ÷ ocpp at {x['connections']}: hb/s, p99, "
                f"hb per CPU-s | {x['heartbeats_per_s_ratio']}x, {x['p99_ratio']}x, "
                f"{x['hb_per_cpu_s_ratio']}x |"
            )
    if "idle" in b and "error" not in b["idle"]:
        r = b["idle"]["result"]
        out.append(
            f"| idle fleet | {fmt(r['piles_online'])} piles: KiB RSS per pile, CPU %, "
            f"missed acks, max ack ms | {fmt(r['kib_per_pile'])}, {fmt(r['cpu_pct'])}, "
            f"{r['missed_acks']}, {fmt(r['ack_max_ms'])} |"
        )
    out += ["", "| target | result |", "|---|---|"]
    for name, bench in b.items():
        if "error" in bench:
            out.append(f"| {name} | ERROR: {bench['error'][:120]} |")
            continue
        for k, ok in (bench.get("targets") or {}).items():
            out.append(f"| {name}: {k} | {'met' if ok else '**missed**'} |")
        if "meets_target" in bench:
            out.append(
                f"| {name}: decode target | {'met' if bench['meets_target'] else '**missed**'} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short durations")
    ap.add_argument("--only", help="comma-separated subset of codec,bills,throughput,peer,idle")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite latest.md from .json")
    args = ap.parse_args(argv)
    if args.markdown_only:
        report = json.loads((RESULTS / "latest.json").read_text())
        (RESULTS / "latest.md").write_text(markdown(report))
        return 0
    plan = commands(args.quick)
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only.split(",")}
    report: dict[str, Any] = {"machine": machine(), "quick": args.quick, "benches": {}}
    failed = False
    for name, cmd in plan.items():
        print(f"\n=== {name}: {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}",
              flush=True)  # fmt: skip
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        lines = proc.stdout.rstrip().splitlines()
        print("\n".join(lines[:-1] if lines and lines[-1].startswith("{") else lines), flush=True)
        try:
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip()[-500:] or f"exit {proc.returncode}")
            report["benches"][name] = last_json_line(proc.stdout)
        except (RuntimeError, ValueError) as exc:
            failed = True
            print(f"{name} failed: {exc}", file=sys.stderr)
            report["benches"][name] = {"error": str(exc)}
        report["benches"][name]["wall_s"] = round(time.monotonic() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(report))
    print(f"\nwrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
