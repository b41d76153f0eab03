"""Bills per second durably committed to PostgreSQL through Storage.store_bill.

Each simulated pile is an asyncio task that loops: build a bill, settle it (tariff and idle
rule from Storage, billing.reconcile.settle), `await storage.store_bill(...)` (returns only
after the batch holding it committed). Runs in a throwaway database `pilegate_bench_<rand>`.

    .venv/bin/python bench/bills.py [--url postgresql+asyncpg://...] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from billing.reconcile import settle
from billing.records import GatewayObservation
from gateway.storage import Storage
from gateway.storage.migrate import upgrade
from tests import services
from tests.billing.fixtures import CLEAN, IDLE_RULE, at, station_tariff

# The clean 10 kWh bill of the billing tests, with its transaction id set per bill.
BASE = replace(CLEAN, transaction_id="", channel="own_app", stop_reason=0, vin=None)
OBS = GatewayObservation(energy_dwh=99_500, gateway_service_end_ms=at(1, 10, 40))


def pile_name(n: int) -> str:
    return f"4403060003{n:010d}"


async def run_level(storage: Storage, piles: int, seconds: float) -> dict[str, float]:
    stop = time.perf_counter() + seconds
    done = 0
    latencies: list[float] = []

    async def pile(n: int) -> None:
        nonlocal done
        pile_id = pile_name(n)
        seq = 0
        while time.perf_counter() < stop:
            seq += 1
            bill = replace(BASE, transaction_id=f"{uuid.uuid4().hex[:16]}{seq}")
            tariff = await storage.tariff_for(pile_id, bill.charge_start_ms)
            rule = await storage.idle_rule_for(pile_id)
            t0 = time.perf_counter()
            s = settle(bill, OBS, tariff, rule, received_ms=bill.service_end_ms + 60_000)
            await storage.store_bill(pile_id, bill, s, received_ms=bill.service_end_ms + 60_000)
            latencies.append(time.perf_counter() - t0)
            done += 1

    batches0 = storage.stats.batches
    t0 = time.perf_counter()
    await asyncio.gather(*(pile(n) for n in range(piles)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    batches = storage.stats.batches - batches0
    return {
        "piles": piles,
        "bills": done,
        "seconds": round(elapsed, 2),
        "bills_per_s": round(done / elapsed),
        "batches": batches,
        "rows_per_batch": round(done / max(1, batches), 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="PostgreSQL URL (default: found as `make test` finds it)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--levels", default="100,1000")
    ap.add_argument("--batch-rows", type=int, default=500)
    ap.add_argument("--flush-ms", type=float, default=5.0)
    ap.add_argument("--pipeline", type=int, default=2, help="bill batches committing at once")
    args = ap.parse_args()
    args.url = args.url or services.find_database_url()
    if not args.url:
        print("no PostgreSQL found (none answers on 127.0.0.1:5432 and none could be started;"
              " pass --url or set PILEGATE_TEST_DATABASE_URL)")  # fmt: skip
        return 1
    base = make_url(args.url)
    name = f"pilegate_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    results = []
    try:
        await upgrade(url)
        storage = await Storage.open(
            url,
            batch_rows=args.batch_rows,
            flush_ms=args.flush_ms,
            pipeline=args.pipeline,
            upgrade=False,
        )
        try:
            await storage.add_station("S1", "bench")
            await storage.put_tariff(station_tariff("bench", 0, "S1"))
            await storage.put_idle_rule("S1", IDLE_RULE)
            for n in range(max(int(x) for x in args.levels.split(","))):
                await storage.register_pile(pile_name(n), station_id="S1", gun_count=2)
                await storage.tariff_for(pile_name(n), 0)  # warm the pricing cache
            for level in (int(x) for x in args.levels.split(",")):
                results.append(await run_level(storage, level, args.seconds))
        finally:
            await storage.close()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
    cols = list(results[0])
    print(" ".join(f"{c:>13}" for c in cols))
    for r in results:
        print(" ".join(f"{r[c]:>13}" for c in cols))
    print(json.dumps({"bench": "bills", "target_bills_per_s": 10_000, "results": results}))
    return 0


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    sys.exit(asyncio.run(main()))
