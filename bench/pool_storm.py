"""The batch writer during a login storm: how long a session row (fire-and-forget) and a
bill-like flush take to commit while N piles log in at once, each login a few direct
transactions (its pile row, the sessions to restore, an account claim and its release), all
competing for the database connections. Run with the writer on the shared pool and on its
own (`Storage.open(own_writer_pool=...)`), for each pool size given (the shared setting with
the first), in a throwaway database on the local PostgreSQL.

    .venv/bin/python bench/pool_storm.py [--logins 1000] [--rounds 2] [--pool-sizes 8,16]

Prints one JSON line per setting: the storm's wall time and the writer's flush latencies
(median, 95th percentile, max) sampled every 50 ms during it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import pg_base_url
from gateway.storage import SessionRow, Storage
from gateway.storage.migrate import upgrade

PROBE_PILE = "44030699990000000000"


async def _admin(sql: str, base: str) -> None:
    admin = create_async_engine(
        make_url(base).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


async def login(storage: Storage, n: int, now_ms: int) -> None:
    """What a pile's login and first authorisation ask of the database, directly."""
    pile = f"4403069999{n:010d}"
    await storage.login_pile(pile, vendor="ACME", model="DC120", firmware="1", gun_count=2,
                             at_ms=now_ms, auto_register=True)  # fmt: skip
    await storage.sessions_to_restore(pile, 5)
    sid = uuid.uuid4().hex
    opens = SessionRow.authorised(sid, transaction_id=sid, pile_id=pile, gun=1,
                                  account=f"A{n}", channel="card", at_ms=now_ms)  # fmt: skip
    await storage.claim_account(f"A{n}", sid, pile, 1, now_ms, opens=opens)
    await storage.release_account(f"A{n}", sid)


async def storm(
    url: str, logins: int, own_writer_pool: bool, pool_size: int, pool_timeout_s: float
) -> dict[str, object]:
    storage = await Storage.open(
        url, upgrade=False, own_writer_pool=own_writer_pool, pool_size=pool_size,
        pool_timeout_s=pool_timeout_s,
    )  # fmt: skip
    try:
        now_ms = int(time.time() * 1000)
        latencies: list[float] = []
        done = asyncio.Event()

        async def sample() -> None:
            k = 0
            while not done.is_set():
                k += 1
                sid = f"probe-{uuid.uuid4().hex}"
                row = SessionRow(sid, sid, PROBE_PILE, 1, "P", "card", "charging", now_ms + k)
                storage.record_session(row)
                began = time.perf_counter()
                await storage.flush()
                latencies.append(time.perf_counter() - began)
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        began = time.perf_counter()
        results = await asyncio.gather(
            *(login(storage, n, now_ms) for n in range(logins)), return_exceptions=True
        )
        failures = collections.Counter(type(r).__name__ for r in results if r is not None)
        wall = time.perf_counter() - began
        done.set()
        await sampler
    finally:
        await storage.close()
    latencies.sort()
    return {
        "own_writer_pool": own_writer_pool,
        "pool_size": pool_size,
        "pool_timeout_s": pool_timeout_s,
        "logins": logins,
        "storm_s": round(wall, 2),
        "login_failures": dict(failures),
        "flushes": len(latencies),
        "flush_median_ms": round(statistics.median(latencies) * 1000, 1),
        "flush_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        "flush_max_ms": round(latencies[-1] * 1000, 1),
    }


async def main(logins: int, rounds: int, pool_sizes: list[int], timeout_s: float) -> None:
    base = pg_base_url()
    settings = [(False, pool_sizes[0])] + [(True, size) for size in pool_sizes]
    for _ in range(rounds):
        for own, size in settings:
            name = f"pilegate_bench_{uuid.uuid4().hex[:8]}"
            await _admin(f'CREATE DATABASE "{name}"', base)
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
            try:
                await upgrade(url)
                result = await storm(url, logins, own, size, timeout_s)
                print(json.dumps(result), flush=True)
            finally:
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', base)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pool-sizes", default="8", help="comma-separated, e.g. 8,16")
    parser.add_argument("--pool-timeout", type=float, default=30.0, help="seconds")
    args = parser.parse_args()
    sizes = [int(x) for x in args.pool_sizes.split(",")]
    asyncio.run(main(args.logins, args.rounds, sizes, args.pool_timeout))
