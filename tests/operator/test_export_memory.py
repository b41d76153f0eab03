"""Field case 10: exporting bills streams, so its memory does not grow with the row count.

50,000 bills are seeded on the real PostgreSQL with generate_series; the CLI export runs in
a subprocess over the first 12,500 and over all 50,000; the peak RSS growth of the two must
be about the same (and small), not 4x apart. The sizes are the smallest that still tell
streaming from buffering: a buffered export holds well over 1 KiB a bill (a row of ~30
Python objects plus its CSV line), so 50,000 bills would grow RSS by 50+ MiB, 4x the
12,500-bill run, far past the ratio allowed below; a streamed one grows by about one chunk
in both runs. (200,000 bills proved the same at 4x the run time.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.storage.engine import create_engine
from gateway.storage.schema import bills
from tests.operator.seed import bill_row

ROOT = Path(__file__).resolve().parents[2]
BASE_MS = 1_577_808_000_000  # 2020-01-01 00:00 +08:00


def seed_sql(n: int) -> str:
    """INSERT ... SELECT FROM generate_series: n bills, one a second from BASE_MS."""
    template = bill_row("P", 0)
    exprs = {
        "id": "md5('b' || g)",
        "pile_id": "'4403060003' || lpad((g % 500)::text, 10, '0')",
        "transaction_id": "md5('t' || g)",
        "received_ms": f"{BASE_MS}::bigint + g * 1000",
        "authorised_ms": f"{BASE_MS}::bigint + g * 1000 - 3660000",
        "charge_start_ms": f"{BASE_MS}::bigint + g * 1000 - 3600000",
        "charge_end_ms": f"{BASE_MS}::bigint + g * 1000 - 120000",
        "service_end_ms": f"{BASE_MS}::bigint + g * 1000 - 60000",
        "energy_dwh": "(g % 900000)::bigint",
        "anomaly_codes": "CASE WHEN g % 50 = 0 THEN '9,10' ELSE '' END",
        "anomaly_mask": "CASE WHEN g % 50 = 0 THEN 1536 ELSE 0 END",
    }
    cols, values = [], []
    for c in bills.c:
        cols.append(c.name)
        if c.name in exprs:
            values.append(exprs[c.name])
            continue
        v = template[c.name]
        if v is None:
            values.append("NULL")
        elif isinstance(v, bool):
            values.append("true" if v else "false")
        elif isinstance(v, int):
            values.append(str(v))
        else:
            values.append("'" + str(v).replace("'", "''") + "'")
    return (
        f"INSERT INTO bills ({', '.join(cols)}) SELECT {', '.join(values)} "
        f"FROM generate_series(1, {n}) AS g"
    )


async def seed(url: str, n: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(seed_sql(n)))
    finally:
        await engine.dispose()


def export(url: str, rows: int, output: str = "/dev/null") -> dict:
    end = BASE_MS + rows * 1000 + 1  # bills 1..rows
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.operator.export_rss", url, str(BASE_MS), str(end), output],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 0, done.stderr
    result["growth_kb"] = result["peak_kb"] - result["baseline_kb"]
    return result


SMALL, LARGE = 12_500, 50_000


def test_export_memory_does_not_grow_with_rows(postgresql_url: str, tmp_path: Path) -> None:
    asyncio.run(seed(postgresql_url, LARGE))
    out = tmp_path / "bills.csv"
    small = export(postgresql_url, SMALL)
    large = export(postgresql_url, LARGE, str(out))
    with out.open() as f:
        assert sum(1 for _ in f) == LARGE + 1  # header + every bill
    print(f"export growth: {SMALL} {small['growth_kb']} KiB, {LARGE} {large['growth_kb']} KiB")
    assert large["growth_kb"] < 64 * 1024, large
    # constant memory: 4x the rows, about the same peak (allow noise, never proportional)
    assert large["growth_kb"] < 1.5 * small["growth_kb"] + 8 * 1024, (small, large)


@pytest.mark.parametrize("chunk", [1, 7])
def test_sqlite_keyset_export_visits_every_row_once(sqlite_url: str, chunk: int) -> None:
    from gateway import reports

    async def go() -> list[str]:
        engine = create_engine(sqlite_url)
        try:
            async with engine.begin() as conn:
                if chunk == 1:  # same received_ms for several rows: the id breaks the tie
                    rows = [bill_row("P9", BASE_MS + i // 3, bill_id=f"{i:04d}") for i in range(20)]
                    await conn.execute(bills.insert(), rows)
            ids: list[str] = []
            async for part in reports.queries.stream_bills(
                engine, BASE_MS, BASE_MS + 100, columns=("id",), chunk=chunk
            ):
                ids.extend(r[0] for r in part)
            return ids
        finally:
            await engine.dispose()

    ids = asyncio.run(go())
    assert ids == [f"{i:04d}" for i in range(20)]
