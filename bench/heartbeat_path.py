"""The gateway's heartbeat path in-process, CPU only: a logged-in 2-gun pile's steady
HEARTBEAT through the TCP transport's data_received, the v1 connection, the pile's runtime
and session machines, to the HEARTBEAT_ACK written back (no socket, no database write: a
heartbeat writes no row). Prints heartbeats per second of CPU.

    python bench/heartbeat_path.py                       # this tree
    python bench/heartbeat_path.py --against /work/main  # best of alternating runs of both,
                                                         # and the ratio this / other

Each run is its own process (the tree comes first on its sys.path); an SQLite database in a
temporary directory holds the pile. Everything stays inside the process: no port is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
PILE_ID = "44030600030000200060"


class FakeTransport:
    """What the transport protocol uses of an asyncio transport; writes are counted only."""

    def __init__(self) -> None:
        self.written = 0

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += 1

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def measure(count: int) -> float:
    from dataclasses import replace

    import structlog

    from gateway.app import Gateway
    from gateway.config import GatewayConfig
    from gateway.storage import Storage
    from gateway.storage.migrate import upgrade
    from gateway.transports import TcpPileProtocol
    from protocol.pilegate import GunReport, Heartbeat, Login, encode

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await upgrade(url)
        base = GatewayConfig()
        config = replace(
            base,
            server=replace(base.server, host="127.0.0.1", tcp_port=0, ws_port=0),
            database=replace(base.database, journal=False),
            # Nobody answers the login configuration's commands: let them time out quickly.
            piles=replace(base.piles, command_timeout_s=0.02),
        )
        storage = await Storage.open(url, upgrade=False)
        await storage.register_pile(PILE_ID, vendor="ACME", model="DC120", gun_count=2)
        gateway = Gateway(config, storage)
        # This tree's transports take the v1 adapter; main's took the gateway itself.
        owner = getattr(gateway, "pilegate", gateway)
        proto = TcpPileProtocol(owner)
        transport = FakeTransport()
        proto.connection_made(transport)  # type: ignore[arg-type]
        login = Login(PILE_ID, "ACME", "DC120", "1.0", 1, 2, int(time.time() * 1000))
        proto.data_received(encode(login, 1))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if gateway.piles.get(PILE_ID) is not None and gateway.piles[PILE_ID].online:
                break
        else:
            raise RuntimeError("the bench pile did not log in")
        await gateway.background_done()
        guns = tuple(GunReport(g, 0, 0, 1_000_000, 3800, 0, 0, 50) for g in (1, 2))
        frames = [encode(Heartbeat(guns), 2 + i % 60000) for i in range(1000)]
        for frame in frames:  # warm up; the first reconciles the held sessions
            proto.data_received(frame)
        before = transport.written
        started = time.process_time()
        for i in range(count):
            proto.data_received(frames[i % 1000])
        spent = time.process_time() - started
        assert transport.written - before == count, "every heartbeat answered"
        await gateway.stop(grace_s=1)
        return count / spent


def run_once(tree: Path, count: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, str(HERE / "bench" / "heartbeat_path.py"), "--worker", str(count)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another tree to compare with")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps({"per_s": asyncio.run(measure(args.worker))}))
        return
    trees = [HERE] + ([args.against.resolve()] if args.against else [])
    best = {tree: 0.0 for tree in trees}
    for _ in range(args.runs):
        for tree in trees:  # alternating, so a busy moment hurts both alike
            best[tree] = max(best[tree], run_once(tree, args.count))
    for tree, per_s in best.items():
        print(f"{tree}: {per_s:,.0f} heartbeats/s CPU (best of {args.runs})")
    result: dict[str, Any] = {"bench": "heartbeat_path", "per_cpu_s": round(best[HERE])}
    if args.against:
        ratio = best[HERE] / best[args.against.resolve()]
        print(f"ratio this/other: {ratio:.3f}")
        result |= {"other": str(args.against), "ratio": round(ratio, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
