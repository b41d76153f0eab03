"""WebSocket vs WebSocket: pilegate against what a Python user would pick instead, a central
system built on the `ocpp` library (mobilityhouse) with `websockets`, OCPP-J 1.6.

The peer (written here from the library's documentation) answers BootNotification (Accepted),
StatusNotification and Heartbeat; it validates payloads against the OCPP schemas as the library
does by default. Three servers take the same load: the peer, pilegate's OCPP 1.6J listener
(`pilegate serve`, chargers auto-registered, ws://127.0.0.1:PORT/ocpp/{id}) and pilegate's v1
WebSocket. An OCPP client boots, reports its two connectors Available, then heartbeats.
The load is one process of N WebSocket clients: each logs in (BootNotification / LOGIN) and then
sends heartbeats lock-step (next one as soon as the answer came: OCPP-J Heartbeat calls, or
pilegate HEARTBEAT frames, one binary message each, on ws://127.0.0.1:PORT/pile/{pile_id},
subprotocol pilegate.v1). pilegate runs as `pilegate serve` on PostgreSQL, journal on.
All three processes use uvloop; the clients do not offer compression.

    .venv/bin/python bench/peer_ocpp.py [--levels 100,1000] [--duration 15]

Needs `pip install ocpp`. Prints a table and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
    ROOT,
    ProcessSampler,
    free_port,
    gateway_process,
    last_json_line,
    raise_nofile_here,
    subprocess_server,
    table,
    throwaway_database,
    verdict,
    wait_port,
)

TARGET_SPEEDUP = 5.0  # pilegate heartbeats/s ÷ the OCPP peer's


# --- the OCPP 1.6 peer ----------------------------------------------------------------------


def peer_server(port: int) -> None:
    import uvloop
    import websockets
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as Cp
    from ocpp.v16 import call_result
    from ocpp.v16.enums import Action, RegistrationStatus

    def now_iso() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    class CentralSystemChargePoint(Cp):
        @on(Action.boot_notification)
        async def on_boot_notification(
            self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
        ) -> call_result.BootNotification:
            return call_result.BootNotification(
                current_time=now_iso(), interval=30, status=RegistrationStatus.accepted
            )

        @on(Action.heartbeat)
        async def on_heartbeat(self) -> call_result.Heartbeat:
            return call_result.Heartbeat(current_time=now_iso())

        @on(Action.status_notification)
        async def on_status_notification(self, **kwargs: Any) -> call_result.StatusNotification:
            return call_result.StatusNotification()

    async def on_connect(ws: Any) -> None:
        if ws.subprotocol != "ocpp1.6":
            await ws.close()
            return
        charge_point_id = ws.request.path.strip("/")
        cp = CentralSystemChargePoint(charge_point_id, ws)
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await cp.start()

    async def main() -> None:
        async with websockets.serve(on_connect, HOST, port, subprotocols=["ocpp1.6"]) as server:
            await server.serve_forever()

    uvloop.run(main())


# --- the WebSocket load client --------------------------------------------------------------


async def ws_load(kind: str, url: str, piles: int, duration: float, batch: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from protocol.pilegate import FrameDecoder, encode
    from protocol.pilegate.codes import FaultCode, GunStatus, MsgType, Result
    from protocol.pilegate.messages import SOC_UNKNOWN, GunReport, Heartbeat, Login
    from simulators.fleet import pile_id_for
    from simulators.limits import raise_nofile
    from simulators.stats import LatencyHistogram

    raise_nofile(piles)
    loop = asyncio.get_running_loop()
    hist = LatencyHistogram()
    gate = asyncio.Semaphore(batch)
    counts = {"connect_errors": 0, "login_failures": 0, "missed": 0, "bad_replies": 0}
    guns = tuple(
        GunReport(g, GunStatus.AVAILABLE, FaultCode.NONE, 10_000_000, 0, 0, 0, SOC_UNKNOWN)
        for g in (1, 2)
    )
    hb = Heartbeat(guns)
    timeout = 10.0

    async def ocpp_reply(ws: Any) -> Any:
        """The next CALLRESULT/CALLERROR; a CALL from the server (pilegate sends the charger's
        availability at connect) is answered Accepted on the way."""
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if message[0] != 2:
                return message
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))

    async def open_one(i: int) -> Any:
        pile_id = pile_id_for("4403060019", i)
        async with gate:
            try:
                if kind == "ocpp":
                    ws = await connect(f"{url}/CP{i:06d}", subprotocols=["ocpp1.6"],
                                       compression=None, open_timeout=timeout)  # fmt: skip
                    await ws.send(json.dumps([2, "0", "BootNotification",
                        {"chargePointVendor": "ACME", "chargePointModel": "LOAD-1"}]))  # fmt: skip
                    reply = await ocpp_reply(ws)
                    ok = reply[0] == 3 and reply[2].get("status") == "Accepted"
                    for connector in (1, 2):
                        await ws.send(json.dumps([2, f"s{connector}", "StatusNotification",
                            {"connectorId": connector, "errorCode": "NoError",
                             "status": "Available"}]))  # fmt: skip
                        ok = ok and (await ocpp_reply(ws))[0] == 3
                else:
                    ws = await connect(f"{url}/pile/{pile_id}", subprotocols=["pilegate.v1"],
                                       compression=None, open_timeout=timeout)  # fmt: skip
                    login = Login(
                        pile_id, "ACME", "LOAD-1", "V2.3.7", 1, 2, int(time.time() * 1000)
                    )
                    await ws.send(encode(login, 1))
                    items = FrameDecoder().feed(await asyncio.wait_for(ws.recv(), timeout))
                    m = getattr(items[0], "message", None) if items else None
                    ok = m is not None and m.TYPE == MsgType.LOGIN_ACK and m.result == Result.OK
            except (OSError, TimeoutError, Exception):
                counts["connect_errors"] += 1
                return None
            if not ok:
                counts["login_failures"] += 1
                await ws.close()
                return None
            return ws

    async def beat(ws: Any, end: float) -> None:
        n = 1
        decoder = FrameDecoder()
        while True:
            sent = loop.time()
            if sent >= end:
                return
            n = n + 1 if n < 0xFFFF else 1
            if kind == "ocpp":
                msg_id = str(n)
                await ws.send(f'[2,"{msg_id}","Heartbeat",{{}}]')
            else:
                await ws.send(encode(hb, n))
            try:
                if kind == "ocpp":
                    reply = await ocpp_reply(ws)
                else:
                    reply = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                counts["missed"] += 1
                continue
            except Exception:
                counts["missed"] += 1
                return
            if kind == "ocpp":
                good = reply[0] == 3 and reply[1] == msg_id
            else:
                items = decoder.feed(reply)
                good = bool(items) and getattr(items[0], "seq", -1) == n
            if not good:
                counts["bad_replies"] += 1
            hist.add((loop.time() - sent) * 1000)

    t0 = loop.time()
    conns = await asyncio.gather(*(open_one(i) for i in range(piles)))
    live = [c for c in conns if c is not None]
    start = loop.time()
    await asyncio.gather(*(beat(ws, start + duration) for ws in live))
    measured = loop.time() - start
    await asyncio.gather(*(ws.close() for ws in live), return_exceptions=True)
    return {
        "piles": piles,
        "piles_online": len(live),
        **counts,
        "acks": hist.count,
        "acks_per_s": round(hist.count / measured, 1),
        "ack_p50_ms": round(hist.percentile(50), 3),
        "ack_p99_ms": round(hist.percentile(99), 3),
        "ack_max_ms": round(hist.max_ms, 3),
        "connect_s": round(start - t0, 3),
        "measure_s": round(measured, 3),
    }


def run_ws_load(kind: str, url: str, piles: int, duration: float) -> dict[str, Any]:
    cmd = [PYTHON, __file__, "--load-client", kind, url, str(piles), str(duration)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         timeout=duration + 180, preexec_fn=raise_nofile_here)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"ws load failed: {out.stderr[-2000:]}")
    return last_json_line(out.stdout)


def measure(
    name: str, kind: str, pid: int, url: str, piles: int, duration: float
) -> dict[str, Any]:
    with ProcessSampler(pid, period=0.5) as sampler:
        load = run_ws_load(kind, url, piles, duration)
        t1 = time.monotonic()
    usage = sampler.window(t1 - float(load["measure_s"]) - 0.5, t1)
    return {
        "server": name,
        "connections": piles,
        "piles_online": load["piles_online"],
        "heartbeats_per_s": load["acks_per_s"],
        "p50_ms": load["ack_p50_ms"],
        "p99_ms": load["ack_p99_ms"],
        "max_ms": load["ack_max_ms"],
        "missed": load["missed"]
        + load["bad_replies"]
        + load["connect_errors"]
        + load["login_failures"],
        "cpu_pct": usage["cpu_pct"],
        "rss_mib": usage["rss_mib"],
        "hb_per_cpu_s": round(load["acks_per_s"] / max(0.01, usage["cpu_pct"] / 100)),
        "machine_busy_pct": usage["machine_busy_pct"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="100,1000")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per level")
    ap.add_argument("--peer-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--load-client", nargs=4, metavar="X", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer_server:
        peer_server(args.peer_server)
        return 0
    if args.load_client:
        import uvloop

        kind, url, piles, duration = args.load_client
        result = uvloop.run(ws_load(kind, url, int(piles), float(duration), batch=200))
        print(json.dumps(result))
        return 0
    try:
        import ocpp  # noqa: F401
    except ImportError:
        print("the ocpp library is missing: .venv/bin/pip install ocpp", file=sys.stderr)
        return 1
    levels = [int(x) for x in args.levels.split(",")]
    rows: list[dict[str, Any]] = []
    port = free_port()
    with subprocess_server([PYTHON, __file__, "--peer-server", str(port)], port,
                           log_name="ocpp-peer") as proc:  # fmt: skip
        for n in levels:
            rows.append(measure("ocpp 1.6 peer", "ocpp", proc.pid, f"ws://{HOST}:{port}", n,
                                args.duration))  # fmt: skip
    ocpp_port = free_port()
    ocpp_env = {"PILEGATE_OCPP_ENABLED": "true", "PILEGATE_OCPP_PORT": str(ocpp_port)}
    with throwaway_database() as url, gateway_process(url, extra_env=ocpp_env) as (proc, _, ws):
        wait_port(ocpp_port, 10, proc)
        for n in levels:
            rows.append(measure("pilegate ocpp", "ocpp", proc.pid,
                                f"ws://{HOST}:{ocpp_port}/ocpp", n, args.duration))  # fmt: skip
    with throwaway_database() as url, gateway_process(url) as (proc, _tcp, ws):
        for n in levels:
            rows.append(measure("pilegate ws", "pilegate", proc.pid, f"ws://{HOST}:{ws}", n,
                                args.duration))  # fmt: skip

    peer = {r["connections"]: r for r in rows if r["server"] == "ocpp 1.6 peer"}
    ratios = []
    for r in rows:
        if r["server"] != "ocpp 1.6 peer" and r["connections"] in peer:
            p = peer[r["connections"]]
            ratios.append({
                "server": r["server"],
                "connections": r["connections"],
                "heartbeats_per_s_ratio": round(
                    r["heartbeats_per_s"] / max(1e-9, p["heartbeats_per_s"]), 2
                ),
                "p99_ratio": round(r["p99_ms"] / max(1e-9, p["p99_ms"]), 2),
                "hb_per_cpu_s_ratio": round(r["hb_per_cpu_s"] / max(1, p["hb_per_cpu_s"]), 2),
            })  # fmt: skip
    print(
        f"WebSocket heartbeats, lock-step, one load process, {args.duration:g} s per level, "
        f"{os.cpu_count()} cores"
    )
    cols = ["server", "connections", "heartbeats_per_s", "p50_ms", "p99_ms", "max_ms",
            "missed", "cpu_pct", "hb_per_cpu_s", "rss_mib", "machine_busy_pct"]  # fmt: skip
    print(table(cols, [[r[c] for c in cols] for r in rows]))
    print(table(["server", "connections", "÷ peer hb/s", "÷ peer p99",
                 "÷ peer hb per server CPU-s"],
                [[x["server"], x["connections"], x["heartbeats_per_s_ratio"], x["p99_ratio"],
                  x["hb_per_cpu_s_ratio"]] for x in ratios]))  # fmt: skip
    targets = {
        f"hb_per_s_ge_5x_peer_{x['connections']}": x["heartbeats_per_s_ratio"] >= TARGET_SPEEDUP
        for x in ratios
        if x["server"] == "pilegate ws"
    } | {
        f"ocpp_hb_per_cpu_s_ge_5x_peer_{x['connections']}": x["hb_per_cpu_s_ratio"]
        >= TARGET_SPEEDUP
        for x in ratios
        if x["server"] == "pilegate ocpp"
    }
    for k, ok in targets.items():
        print(f"target {k}: {verdict(ok)}")
    print(json.dumps({"bench": "peer_ocpp", "duration_s": args.duration, "results": rows,
                      "ratios": ratios, "targets": targets}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
