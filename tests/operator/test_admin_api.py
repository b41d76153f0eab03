"""The admin API on a real gateway (127.0.0.1, OS-chosen ports) with a scripted pile."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from gateway.admin import AdminServer, AdminStartError
from gateway.app import Gateway
from gateway.cli import main
from gateway.config import AdminConfig
from protocol.pilegate import (
    GunStatus,
    Logout,
    MsgType,
    Result,
    StartResult,
    StopReason,
    StopResult,
)
from tests.db import fresh_database
from tests.gateway.conftest import ACCOUNT, gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for, wait_for

TOKEN = "s3cret-token"


@dataclass
class Env:
    url: str  # database
    gateway: Gateway
    admin: AdminServer
    client: httpx.AsyncClient
    pile: ScriptedPile


@pytest.fixture(params=["sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def env(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    if kind == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(kind) as url:
        gw = await start_gateway(url, gateway_config())
        admin = AdminServer(gw, AdminConfig(host="127.0.0.1", port=0, token=TOKEN))
        await admin.start()
        pile = ScriptedPile()
        await pile.login(gw.tcp_port)
        await pile.heartbeat()
        client = httpx.AsyncClient(
            base_url=admin.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        try:
            yield Env(url, gw, admin, client, pile)
        finally:
            await client.aclose()
            await pile.close()
            await admin.stop()
            await gw.stop(grace_s=2)


def cli(*argv: str) -> tuple[int, str]:
    """Run `pilegate ...` in a thread (the admin server needs this event loop) and capture
    its standard output."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


async def run_cli(*argv: str) -> tuple[int, str]:
    return await asyncio.to_thread(cli, *argv)


async def test_auth_health_and_openapi(env: Env) -> None:
    bare = httpx.AsyncClient(base_url=env.admin.url)
    try:
        assert (await bare.get("/healthz")).json()["status"] == "ok"
        assert (await bare.get("/piles")).status_code == 401
        wrong = await bare.get("/piles", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert (await bare.get("/metrics")).status_code == 401
        doc = (await bare.get("/openapi.json")).json()
    finally:
        await bare.aclose()
    assert doc["info"]["title"] == "pilegate admin API"
    for path in ("/piles", "/piles/{pile_id}/start", "/bills", "/frames", "/metrics",
                 "/reports/anomalies", "/export/bills.csv", "/piles/{pile_id}/tariff"):  # fmt: skip
        assert path in doc["paths"], path


async def test_refuses_to_serve_beyond_loopback_without_a_token(env: Env) -> None:
    server = AdminServer(env.gateway, AdminConfig(host="0.0.0.0", port=0, token=""))
    with pytest.raises(AdminStartError, match=r"without admin\.token"):
        await server.start()


async def test_port_taken_is_an_error_not_an_exit(env: Env) -> None:
    other = AdminServer(env.gateway, AdminConfig(host="127.0.0.1", port=env.admin.port))
    with pytest.raises(AdminStartError):
        await other.start()
    await other.stop()
    assert (await env.client.get("/healthz")).status_code == 200


async def test_piles_and_unknown_pile(env: Env) -> None:
    piles = (await env.client.get("/piles")).json()
    assert [p["pile_id"] for p in piles] == [PILE_ID]
    one = (await env.client.get(f"/piles/{PILE_ID}")).json()
    assert one["online"] is True and one["enabled"] is True and one["vendor"] == "ACME"
    assert set(one["guns"]) == {"1", "2"}
    assert one["guns"]["1"]["availability"] and one["guns"]["1"]["session"] is None
    assert one["firmware_history"][0]["firmware"] in ("", "V2.3.7")
    assert (await env.client.get("/piles/99999999999999999999")).status_code == 404
    r = await env.client.post("/piles/99999999999999999999/start", json={"gun": 1, "account": "x"})
    assert r.status_code == 404
    bad = {"gun": 1, "account": ACCOUNT, "channel": "carrier_pigeon"}
    r = await env.client.post(f"/piles/{PILE_ID}/start", json=bad)
    assert r.status_code == 422


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"], indirect=False)
async def test_charge_through_the_api_then_bills_sessions_frames_metrics(env: Env) -> None:
    c, pile, gw = env.client, env.pile, env.gateway
    r = await c.post(f"/piles/{PILE_ID}/start",
                     json={"gun": 1, "account": ACCOUNT, "channel": "own_app"})  # fmt: skip
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["outcome"] == "accepted"
    tx = started["transaction_id"]
    start = pile.of_type(MsgType.START_CHARGE)[0].message
    assert (start.gun, start.transaction_id, start.account) == (1, tx, ACCOUNT)

    pile.send(StartResult(1, tx, Result.OK, 0, T0, 1_000_000))
    await wait_for(lambda: gw.piles[PILE_ID].guns[1].session.phase.value == "charging")
    live = (await c.get("/sessions/live")).json()
    assert [(s["pile_id"], s["gun"], s["transaction_id"], s["phase"]) for s in live] == [
        (PILE_ID, 1, tx, "charging")
    ]
    metrics = (await c.get("/metrics")).text
    assert 'pilegate_sessions{phase="charging"} 1' in metrics

    pile.status[1] = GunStatus.CHARGING
    await pile.heartbeat(power_w=60_000)
    assert (await c.post(f"/piles/{PILE_ID}/stop", json={"gun": 1})).json()["outcome"] == (
        "accepted"
    )
    await pile.expect(MsgType.STOP_CHARGE)
    pile.status[1] = GunStatus.FINISHING
    pile.send(StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
    pile.status[1] = GunStatus.AVAILABLE
    pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
    seq = pile.send(bill_for(tx))
    await pile.expect(MsgType.BILL_ACK, seq=seq)
    await gw.storage.flush()

    bills = (await c.get("/bills", params={"pile": PILE_ID})).json()
    assert [b["transaction_id"] for b in bills["items"]] == [tx]
    bill_id = bills["items"][0]["id"]
    assert (await c.get(f"/bills/{bill_id}")).json()["energy_dwh"] == 100_000
    assert (await c.get("/bills", params={"since": "2999-01-01"})).json()["items"] == []
    sessions = (await c.get("/sessions", params={"pile": PILE_ID})).json()["items"]
    assert [s["transaction_id"] for s in sessions] == [tx]
    assert sessions[0]["state"] == "settled"

    frames = (await c.get("/frames", params={"bill": bill_id, "heartbeats": "false"})).json()
    types = [(f["direction"], f["type"]) for f in frames["items"]]
    order = [("in", "LOGIN"), ("out", "START_CHARGE"), ("in", "START_RESULT"),
             ("out", "STOP_CHARGE"), ("in", "STOP_RESULT"), ("in", "LOGOUT"), ("in", "BILL"),
             ("out", "BILL_ACK")]  # fmt: skip
    assert [t for t in types if t in order] == order
    assert frames["summary"]["logout_received"] is True
    assert frames["summary"]["login_ms"] <= frames["summary"]["logout_ms"]
    assert frames["summary"]["logout_ms"] <= frames["summary"]["bill_ms"]

    # field case 9 from the command line, straight from the database
    status, out = await run_cli("frames", "--bill", bill_id, "--database", env.url)
    assert status == 0, out
    lines = out.splitlines()
    at = {name: next(i for i, s in enumerate(lines) if f" {name} " in s)
          for name in ("LOGIN", "LOGOUT", "BILL", "BILL_ACK")}  # fmt: skip
    assert at["LOGIN"] < at["LOGOUT"] < at["BILL"] < at["BILL_ACK"]
    assert "service ended (logout/unplug) on gun 1" in out
    assert "logout received between login and bill: yes" in out
    status, out = await run_cli("frames", "--bill", bill_id, "--database", env.url,
                                "--format", "json")  # fmt: skip
    assert json.loads(out)[0]["summary"]["logout_received"] is True

    metrics = (await c.get("/metrics")).text
    for line in (
        "pilegate_connections 1",
        "pilegate_logins_total 1",
        'pilegate_frames_total{direction="in",type="login"} 1',
        'pilegate_frames_total{direction="out",type="bill_ack"} 1',
        'pilegate_commands_total{command="start",result="accepted"} 1',
        'pilegate_commands_total{command="stop",result="accepted"} 1',
        'pilegate_piles{state="online"} 1',
        'pilegate_sessions{phase="charging"} 0',
        "pilegate_outbox_depth 0",
    ):
        assert line in metrics.splitlines(), line
    bills_total = re.findall(r'pilegate_bills_total\{status="(\w+)"\} (\d+)', metrics)
    assert sum(int(n) for s, n in bills_total if s in ("stored", "flagged")) == 1
    batches = int(re.search(r"^pilegate_db_batches_total (\d+)$", metrics, re.M).group(1))
    assert batches >= 1
    commits = re.search(r"^pilegate_db_commit_seconds_count (\d+)$", metrics, re.M)
    assert commits is not None and int(commits.group(1)) == batches
    assert re.search(r'^pilegate_db_batch_rows_bucket\{le="\+Inf"\} (\d+)$', metrics, re.M)
    for name in ("pilegate_decode_errors_total", "pilegate_alarms_total",
                 "pilegate_anomalies_open", "pilegate_ack_latency_seconds",
                 "pilegate_db_batch_size_mean", "pilegate_db_items_total"):  # fmt: skip
        assert f"# TYPE {name} " in metrics, name


async def test_enable_disable_and_piles_through_the_cli(env: Env) -> None:
    base = ("--admin", env.admin.url, "--token", TOKEN)
    status, out = await run_cli("disable", PILE_ID, *base)
    assert status == 0 and out.strip() == "accepted"
    await env.pile.expect(MsgType.DISABLE)
    refused = await env.client.post(f"/piles/{PILE_ID}/start?strict=true",
                                    json={"gun": 1, "account": ACCOUNT})  # fmt: skip
    assert refused.status_code == 409 and refused.json()["reason"] == "pile_disabled"
    status, out = await run_cli("piles", *base, "--format", "json")
    assert json.loads(out)[0]["enabled"] is False
    status, out = await run_cli("enable", PILE_ID, *base)
    assert status == 0
    await env.pile.expect(MsgType.ENABLE)
    status, out = await run_cli("piles", *base)
    assert PILE_ID in out and "1:" in out
    status, out = await run_cli("start", PILE_ID, "1", "--account", ACCOUNT, *base)
    assert status == 0 and out.startswith("accepted (transaction ")
    assert env.pile.of_type(MsgType.START_CHARGE)
    status, out = await run_cli("sessions", "--live", *base, "--format", "csv")
    assert out.splitlines()[0] == "pile_id,gun,transaction_id,phase,account,since_ms"
    status, out = await run_cli("piles", "--admin", env.admin.url, "--token", "bad")
    assert status == 1
    status, out = await run_cli("stop", "00000000000000000000", "1", *base)
    assert status == 1


async def test_tariff_set_and_show(env: Env) -> None:
    base = ("--admin", env.admin.url, "--token", TOKEN)
    mark = len(env.pile.received)  # after the login's own SET_TARIFF
    status, out = await run_cli(
        "tariff", "set", PILE_ID, "--id", "st-2020", "--price", "peak=1.06/0.4",
        "--price", "flat=0.70/0.4", "--price", "valley=0.27/0.4", "--segment", "00:00=valley",
        "--segment", "08:00=peak", "--segment", "12:00=flat", "--from", "2020-01-01", *base,
    )  # fmt: skip
    assert status == 0, out
    sent = (await env.pile.expect(MsgType.SET_TARIFF, after=mark)).message
    assert [p.energy_price_e4 for p in sent.prices] == [7000, 10600, 7000, 2700]  # sharp = flat
    shown = (await env.client.get(f"/piles/{PILE_ID}/tariff")).json()
    assert shown["current"]["tariff_id"] == "st-2020"
    assert shown["current"]["segments"] == [[0, "valley"], [480, "peak"], [720, "flat"]]
    status, out = await run_cli("tariff", "show", PILE_ID, *base)
    assert "st-2020" in out and "1.06" in out and "08:00" in out
    bad = await env.client.put(f"/piles/{PILE_ID}/tariff", json={
        "tariff_id": "x", "prices": {"flat": {"energy_e4": 1, "service_e4": 0}},
        "segments": [[0, "flat"]]})  # fmt: skip
    assert bad.status_code == 422


async def test_reports_and_export_through_the_api(env: Env) -> None:
    from sqlalchemy import insert

    from gateway.storage.engine import create_engine
    from gateway.storage.schema import bills
    from tests.operator.seed import bill_row, local

    engine = create_engine(env.url)
    async with engine.begin() as conn:
        await conn.execute(insert(bills), [
            bill_row(PILE_ID, local(2020, 3, 1) + i, codes=(9, 10) if i % 2 else ())
            for i in range(6)
        ])  # fmt: skip
    await engine.dispose()
    q = {"from": "2020-03-01", "to": "2020-03-31"}
    report = (await env.client.get("/reports/anomalies", params={**q, "by": "pile"})).json()
    assert report["total"]["bills"] == 6 and report["total"]["9+10"] == 3
    assert (await env.client.get("/reports/anomalies", params={**q, "by": "x"})).status_code == 422
    done = (await env.client.get("/reports/completions", params=q)).json()
    assert done["rows"][0]["charges"] == 6
    fw = (await env.client.get("/reports/firmware", params={"expected": "V9"})).json()
    assert fw["not_on_expected"] == 1
    csv_text = (await env.client.get("/export/bills.csv", params=q)).text
    assert len(csv_text.splitlines()) == 7 and csv_text.startswith("id,pile_id,")
    anomalies = (await env.client.get("/anomalies", params={"pile": PILE_ID})).json()
    assert anomalies["items"] == []  # seeded straight into bills: no anomaly rows
    page = (await env.client.get("/bills", params={"anomaly": 9, "limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await env.client.get("/bills", params={"anomaly": 9, "cursor": page["next_cursor"]})
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None


def _flat_tariff(tariff_id: str, energy_e4: int, service_e4: int, start_ms: int = 0) -> dict:
    price = {"energy_e4": energy_e4, "service_e4": service_e4}
    return {
        "tariff_id": tariff_id,
        "effective_from_ms": start_ms,
        "prices": dict.fromkeys(("sharp", "peak", "flat", "valley"), price),
        "segments": [[0, "flat"]],
    }


async def test_one_tariff_id_on_two_piles_stays_on_both(env: Env) -> None:
    """Issue 11: the same tariff id set on pile B moved it away from pile A, whose bills
    (priced with it) were then compared with `default` and flagged amount_mismatch."""
    other = ScriptedPile("44030600030000200099")
    await env.gateway.storage.register_pile(other.pile_id, model="DC120", gun_count=2)
    await other.login(env.gateway.tcp_port)
    try:
        shared = _flat_tariff("h1-t", 7420, 8000)  # bill_for: 10 kWh, 742 + 800 fen
        for pile in (env.pile, other):
            after = len(pile.received)  # past the login configuration's SET_TARIFF
            put = await env.client.put(f"/piles/{pile.pile_id}/tariff?strict=true", json=shared)
            assert put.status_code == 200, put.text
            sent = await pile.expect(MsgType.SET_TARIFF, after=after)
            assert sent.message.tariff_id == 2369609885
        for pile in (env.pile, other):
            shown = (await env.client.get(f"/piles/{pile.pile_id}/tariff")).json()
            assert shown["current"]["tariff_id"] == "h1-t"
        seq = env.pile.send(bill_for("a" * 32))
        await env.pile.expect(MsgType.BILL_ACK, seq=seq)
        await env.gateway.storage.flush()
        found = await env.gateway.storage.anomalies(pile_id=PILE_ID)
        assert "amount_mismatch" not in {a.kind for a in found}, [a.reason for a in found]

        # The id names one definition: other prices under it are refused, nothing is sent.
        changed = _flat_tariff("h1-t", 9999, 8000)
        refused = await env.client.put(f"/piles/{other.pile_id}/tariff", json=changed)
        assert refused.status_code == 409 and "h1-t" in refused.json()["detail"]
        base = ("--admin", env.admin.url, "--token", TOKEN)
        status, out = await run_cli("tariff", "set", PILE_ID, "--id", "h1-t",
                                    "--price", "flat=0.99/0.8", *base)  # fmt: skip
        assert status == 1 and not out  # the CLI says why on stderr, exit status 1
        shown = (await env.client.get(f"/piles/{PILE_ID}/tariff")).json()
        assert shown["current"]["prices"]["flat"]["energy_e4"] == 7420
    finally:
        await other.close()


async def test_tariff_set_later_wins_over_one_with_the_same_start(env: Env) -> None:
    """Issue 11: of two tariffs with the same start date the newer must win, whatever
    their ids (it was the alphabetically larger id)."""
    first = await env.client.put(f"/piles/{PILE_ID}/tariff", json=_flat_tariff("zz", 7000, 0))
    second = await env.client.put(f"/piles/{PILE_ID}/tariff", json=_flat_tariff("aa", 8000, 0))
    assert first.status_code == second.status_code == 200
    shown = (await env.client.get(f"/piles/{PILE_ID}/tariff")).json()
    assert shown["current"]["tariff_id"] == "aa"
    # Setting the older one again makes it the newest assignment.
    await env.client.put(f"/piles/{PILE_ID}/tariff", json=_flat_tariff("zz", 7000, 0))
    shown = (await env.client.get(f"/piles/{PILE_ID}/tariff")).json()
    assert shown["current"]["tariff_id"] == "zz"
    base = ("--admin", env.admin.url, "--token", TOKEN)
    status, out = await run_cli("tariff", "show", PILE_ID, "--format", "csv", *base)
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    current = {(r["tariff_id"], r["set_ms"]) for r in rows if r["current"] == "True"}
    assert len(current) == 1 and current.pop()[0] == "zz"  # one of the two zz assignments
