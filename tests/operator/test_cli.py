"""Database-side operator commands: listings in three formats, corrections, registration."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json

import pytest
from sqlalchemy import func, select

from billing.schema import accounts, bills, guns, piles
from gateway.cli import main
from gateway.storage import Storage
from tests.billing.fixtures import TARIFF
from tests.operator.seed import P1, P3, P4
from tests.storage.support import RECEIVED, bill, settled


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


def test_bills_table_csv_json(seeded: tuple[str, list[str]]) -> None:
    url, january = seeded
    args = ("bills", "--database", url, "--since", "2020-01-01", "--until", "2020-01-31")
    status, table = cli(*args, "--limit", "1000")
    assert status == 0
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["id", "received_ms", "pile_id", "gun"]
    assert len(lines) == 2 + 13
    assert "2020-01-31T23:30:00.000+08:00" in table  # times shown in local time

    status, text = cli(*args, "--format", "csv", "--limit", "1000")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["id"] for r in rows) == sorted(january)
    assert rows[0]["received_ms"].isdigit()  # csv keeps raw values

    status, text = cli(*args, "--format", "json", "--anomaly", "10")
    data = json.loads(text)
    assert len(data) == 4 and all("10" in r["anomaly_codes"].split(",") for r in data)
    status, text = cli(*args, "--format", "json", "--pile", P3)
    assert {r["pile_id"] for r in json.loads(text)} == {P3}


def test_reports_in_three_formats(seeded: tuple[str, list[str]]) -> None:
    url, _ = seeded
    rng = ("--database", url, "--from", "2020-01-01", "--to", "2020-01-31")
    status, table = cli("report", "anomalies", *rng, "--by", "channel")
    assert status == 0
    header = table.splitlines()[1].split()
    assert header[:5] == ["channel", "bills", "lost", "lost_pct", "with_anomalies"]
    assert "9+10" in header and "10+11" in header and "3" not in header  # zero codes hidden
    total = next(line for line in table.splitlines() if line.startswith("TOTAL")).split()
    assert total[1:3] == ["13", "2"]

    status, text = cli("report", "anomalies", *rng, "--by", "station", "--format", "csv")
    rows = {r["station"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["S1"]["bills"] == "10" and rows["S1"]["10"] == "4" and rows["S1"]["3"] == "0"
    assert rows["TOTAL"]["9+10"] == "2"

    status, text = cli("report", "anomalies", *rng, "--by", "firmware", "--format", "json")
    report = json.loads(text)[0]
    assert {r["firmware"]: r["bills"] for r in report["rows"]} == {"V1": 7, "V2": 4, "V3": 2}

    status, table = cli("report", "firmware", "--database", url, "--expected", "V2", "--list")
    assert "2 of 5 piles on it, 3 not" in table and P3 in table
    status, text = cli("report", "firmware", "--database", url, "--expected", "V2",
                       "--format", "csv")  # fmt: skip
    assert text.splitlines() == ["firmware,station,piles,online", "V1,S1,2,0", "V3,S2,1,1"]

    status, text = cli("report", "completions", *rng, "--format", "csv")
    rows = {r["pile_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows[P1]["charges"] == "7" and rows[P4]["charges"] == "1"
    assert rows["TOTAL"]["charges"] == "13"

    with pytest.raises(SystemExit) as exit_:
        cli("report", "anomalies", *rng, "--by", "vendor")
    assert exit_.value.code == 2


def test_export_command_writes_csv(seeded: tuple[str, list[str]], tmp_path) -> None:
    url, january = seeded
    out = tmp_path / "jan.csv"
    status, _ = cli("export", "bills", "--database", url, "--from", "2020-01-01",
                    "--to", "2020-01-31", "--output", str(out))  # fmt: skip
    assert status == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == january
    status, _ = cli("export", "bills", "--database", url, "--from", "2020-02-01",
                    "--to", "2020-01-01")  # fmt: skip
    assert status == 2


def test_bill_correction_is_recomputed_and_audited(database_url: str) -> None:
    async def store() -> str:
        storage = await Storage.open(database_url)
        try:
            await storage.put_tariff(TARIFF)
            b = bill()
            stored = await storage.store_bill("4403CORR0000000001", b, settled(b),
                                              received_ms=RECEIVED)  # fmt: skip
            return stored.bill_id
        finally:
            await storage.close()

    bill_id = asyncio.run(store())
    status, out = cli("bills", "correct", bill_id, "--energy", "0", "--reason", "refund: no charge",
                      "--who", "alice", "--database", database_url)  # fmt: skip
    assert status == 0, out
    assert "10.0000 kWh -> 0.0000 kWh" in out
    assert "16.80 CNY -> 0.00 CNY" in out and "refund  16.80 CNY" in out

    status, text = cli("bills", "correct", bill_id, "--energy", "5", "--reason", "half",
                       "--database", database_url, "--format", "json")  # fmt: skip
    second = json.loads(text)[0]
    assert second["old_total_fen"] == 0 and second["new_total_fen"] == 840
    assert second["refund_fen"] == -840  # to charge extra

    async def audit() -> list[dict]:
        storage = await Storage.open(database_url)
        try:
            async with storage.reader.connect() as conn:
                status = (
                    await conn.execute(select(bills.c.status).where(bills.c.id == bill_id))
                ).scalar()
                assert status == "corrected"
                energy = (
                    await conn.execute(select(bills.c.energy_dwh).where(bills.c.id == bill_id))
                ).scalar()
                assert energy == 100_000  # the original is kept
            return await storage.corrections(bill_id)
        finally:
            await storage.close()

    rows = asyncio.run(audit())
    assert [(r["who"], r["reason"], r["refund_fen"]) for r in rows] == [
        ("alice", "refund: no charge", 1680),
        (rows[1]["who"], "half", -840),
    ]
    status, out = cli("bills", "show", bill_id, "--database", database_url)
    assert "refund: no charge" in out and "corrected" in out
    status, _ = cli("bills", "correct", "nope", "--energy", "1", "--reason", "x",
                    "--database", database_url)  # fmt: skip
    assert status == 1
    status, _ = cli("bills", "correct", bill_id, "--energy", "-1", "--reason", "x",
                    "--database", database_url)  # fmt: skip
    assert status == 2


def test_register_piles_and_accounts(database_url: str) -> None:
    status, out = cli("piles", "add", "44030600039999900001", "--station", "S9", "--guns", "3",
                      "--database", database_url, "--format", "json")  # fmt: skip
    assert status == 0
    assert json.loads(out)[0] == {"pile_id": "44030600039999900001", "station_id": "S9",
                                  "gun_count": 3, "enabled": True, "result": "added"}  # fmt: skip
    status, out = cli("accounts", "add", "13700000001", "--card", "CARD-9", "--password", "pw",
                      "--balance", "5000", "--database", database_url)  # fmt: skip
    assert status == 0 and "13700000001" in out and "5000" in out
    status, _ = cli("accounts", "add", "13700000001", "--database", database_url)
    assert status == 1  # exists

    async def check() -> tuple[int, int, object]:
        storage = await Storage.open(database_url)
        try:
            async with storage.reader.connect() as conn:
                n_guns = (await conn.execute(select(func.count()).select_from(guns).where(
                    guns.c.pile_id == "44030600039999900001"))).scalar()  # fmt: skip
                n_piles = (await conn.execute(select(func.count()).select_from(piles).where(
                    piles.c.station_id == "S9"))).scalar()  # fmt: skip
                acc = (await conn.execute(select(accounts).where(
                    accounts.c.id == "13700000001"))).mappings().first()  # fmt: skip
            found = await storage.find_account("password", "13700000001", "pw")
            assert found is not None and found.balance_fen == 5000
            return n_guns, n_piles, acc["card_token"]
        finally:
            await storage.close()

    assert asyncio.run(check()) == (3, 1, "CARD-9")


@pytest.mark.parametrize("argv", [("frames",), ("report", "anomalies", "--from", "x", "--to", "y")])
def test_bad_arguments_are_reported(argv: tuple[str, ...], database_url: str) -> None:
    status, _ = cli(*argv, "--database", database_url)
    assert status == 2


REPORTS = {
    "anomalies": ("--from", "2020-01-01", "--to", "2020-01-31", "--by", "pile"),
    "firmware": ("--expected", "V2", "--list"),
    "completions": ("--from", "2020-01-01", "--to", "2020-01-31"),
}


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_report_in_every_format(seeded: tuple[str, list[str]], report: str, fmt: str) -> None:
    """Issue 11: `report completions --format json` failed with a TypeError."""
    url, _ = seeded
    status, text = cli("report", report, *REPORTS[report], "--database", url, "--format", fmt)
    assert status == 0 and text.strip()
    if fmt == "json":
        parsed = json.loads(text)
        assert isinstance(parsed, list) and parsed[0]["rows"]
    elif fmt == "csv":
        assert list(csv.DictReader(io.StringIO(text)))
