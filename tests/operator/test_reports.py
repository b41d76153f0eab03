"""Reports on a seeded data set (tests/operator/seed.py) give the hand-computed tables."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import reports
from tests.operator.seed import FEB, JAN, P1, P2, P3, P4, local

CODES = [str(c) for c in range(1, 12)]


def _codes(row: dict, **expected: int) -> None:
    got = {c: row[c] for c in CODES if row[c]}
    assert got == {k.lstrip("c"): v for k, v in expected.items()}, row


def _by(report: dict, key: str) -> dict[str, dict]:
    return {r[report["by"]]: r for r in report["rows"]} | {"TOTAL": report["total"]}


async def test_anomalies_by_channel(reader: AsyncEngine) -> None:
    report = await reports.anomaly_report(reader, JAN, FEB, "channel")
    rows = _by(report, "channel")
    assert set(rows) == {"own_app", "partner_app", "card", "TOTAL"}
    assert report["combinations"] == ["9+10", "10+11"]

    own = rows["own_app"]
    assert (own["bills"], own["lost"], own["with_anomalies"]) == (7, 1, 3)
    _codes(own, c2=1, c8=1, c10=2, c11=2)
    assert (own["9+10"], own["10+11"]) == (0, 2)
    assert own["lost_pct"] == 12.5  # 1 lost of 8 services

    partner = rows["partner_app"]
    assert (partner["bills"], partner["lost"], partner["with_anomalies"]) == (4, 1, 2)
    _codes(partner, c1=1, c9=2, c10=2)
    assert (partner["9+10"], partner["10+11"]) == (2, 0)
    assert partner["lost_pct"] == 20.0

    card = rows["card"]
    assert (card["bills"], card["lost"], card["with_anomalies"]) == (2, 0, 1)
    _codes(card, c4=1)

    total = rows["TOTAL"]
    assert (total["bills"], total["lost"], total["with_anomalies"]) == (13, 2, 6)
    _codes(total, c1=1, c2=1, c4=1, c8=1, c9=2, c10=4, c11=2)
    assert (total["9+10"], total["10+11"]) == (2, 2)
    assert total["lost_pct"] == 13.33


async def test_anomalies_by_firmware_follow_the_firmware_history(reader: AsyncEngine) -> None:
    """P1 moved from V1 to V2 on Jan 15: its earlier bills and its lost bill count for V1."""
    rows = _by(await reports.anomaly_report(reader, JAN, FEB, "firmware"), "firmware")
    assert set(rows) == {"V1", "V2", "V3", "TOTAL"}
    v1, v2, v3 = rows["V1"], rows["V2"], rows["V3"]
    assert (v1["bills"], v1["lost"], v1["9+10"], v1["10+11"]) == (7, 2, 2, 0)
    _codes(v1, c1=1, c2=1, c9=2, c10=2)
    assert v1["lost_pct"] == round(100 * 2 / 9, 2)
    assert (v2["bills"], v2["lost"], v2["9+10"], v2["10+11"]) == (4, 0, 0, 2)
    _codes(v2, c8=1, c10=2, c11=2)
    assert (v3["bills"], v3["lost"]) == (2, 0)
    _codes(v3, c4=1)


async def test_anomalies_by_station_and_pile(reader: AsyncEngine) -> None:
    st = _by(await reports.anomaly_report(reader, JAN, FEB, "station"), "station")
    assert set(st) == {"S1", "S2", "(none)", "TOTAL"}
    assert (st["S1"]["bills"], st["S1"]["lost"]) == (10, 2)
    _codes(st["S1"], c1=1, c2=1, c8=1, c9=2, c10=4, c11=2)
    assert (st["S2"]["bills"], st["(none)"]["bills"]) == (2, 1)

    pl = _by(await reports.anomaly_report(reader, JAN, FEB, "pile"), "pile")
    assert {k: (v["bills"], v["lost"]) for k, v in pl.items()} == {
        P1: (7, 1),
        P2: (3, 1),
        P3: (2, 0),
        P4: (1, 0),
        "TOTAL": (13, 2),
    }
    _codes(pl[P1], c2=1, c8=1, c9=1, c10=3, c11=2)


async def test_anomaly_report_range_is_exclusive_and_by_is_checked(reader: AsyncEngine) -> None:
    feb = await reports.anomaly_report(reader, FEB, local(2020, 3, 1, 0), "channel")
    assert feb["total"]["bills"] == 1 and feb["total"]["9"] == 1
    with pytest.raises(ValueError):
        await reports.anomaly_report(reader, JAN, FEB, "vendor")


async def test_firmware_report(reader: AsyncEngine) -> None:
    report = await reports.firmware_report(reader, "V2", list_piles=True)
    assert (report["piles"], report["on_expected"], report["not_on_expected"]) == (5, 2, 3)
    assert [(r["firmware"], r["station"], r["piles"], r["online"]) for r in report["rows"]] == [
        ("V1", "S1", 2, 0),
        ("V3", "S2", 1, 1),
    ]
    assert report["rows"][0]["pile_ids"] == sorted([P2, "44030600030000200065"])
    only_s2 = await reports.firmware_report(reader, "V2", station_id="S2")
    assert [(r["firmware"], r["piles"]) for r in only_s2["rows"]] == [("V3", 1)]
    assert (only_s2["piles"], only_s2["on_expected"]) == (1, 0)


async def test_completions_per_pile(reader: AsyncEngine) -> None:
    report = await reports.completions_report(reader, JAN, FEB)
    got = {
        r["pile_id"]: (r["charges"], r["with_anomalies"], r["energy_kwh"]) for r in report["rows"]
    }
    assert got == {P1: (7, 4, 70.0), P2: (3, 1, 30.0), P3: (2, 1, 20.0), P4: (1, 0, 10.0)}
    assert report["total"]["charges"] == 13
    assert report["total"]["total_amount_fen"] == 13 * 1_500
    stations = {r["pile_id"]: r["station"] for r in report["rows"]}
    assert stations[P4] == "(none)" and stations[P1] == "S1"


async def test_export_csv_streams_the_range_in_order(
    reader: AsyncEngine, seeded: tuple[str, list[str]]
) -> None:
    out = io.StringIO()
    chunks = reports.export_bills_csv(reader, JAN, FEB, chunk=4)  # several chunks
    written = await reports.write_export(chunks, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(rows) == 13
    assert [r["id"] for r in rows] == seeded[1]
    assert rows[0]["pile_id"] == P1 and rows[0]["energy_dwh"] == "100000"
    one_pile = io.StringIO()
    await reports.write_export(reports.export_bills_csv(reader, JAN, FEB, pile_id=P3), one_pile)
    assert one_pile.getvalue().count("\n") == 3


def test_parse_time() -> None:
    assert reports.parse_time("2020-01-01") == JAN
    assert reports.parse_time("2020-01-31", end=True) == FEB
    assert reports.parse_time("2020-01-01T00:00:00+08:00") == JAN
    assert reports.parse_time("2019-12-31T16:00:00Z") == JAN
    assert reports.parse_time(str(JAN)) == JAN
    with pytest.raises(ValueError):
        reports.parse_time("last tuesday")
