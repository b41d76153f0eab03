"""The admin API routes the console needs (no browser): registration and imports, stations
and idle fees, corrections, alarms, sessions with transitions, the live event stream and
its bounded per-client buffer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.admin import AdminServer, live
from gateway.app import Gateway
from gateway.config import AdminConfig
from protocol.pilegate import GunStatus
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile

TOKEN = "t0ken"


@pytest.fixture
async def api() -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    async with fresh_database("sqlite") as url:
        gw = await start_gateway(url, gateway_config(fault_confirm_samples=1))
        admin = AdminServer(gw, AdminConfig(host="127.0.0.1", port=0, token=TOKEN))
        await admin.start()
        client = httpx.AsyncClient(
            base_url=admin.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        try:
            yield gw, client
        finally:
            await client.aclose()
            await admin.stop()
            await gw.stop(grace_s=2)


Api = tuple[Gateway, httpx.AsyncClient]


P1, P2, P3 = "44030600030000201001", "44030600030000201002", "44030600030000201003"


async def test_piles_register_edit_import_and_remove(api: Api) -> None:
    _, c = api
    r = await c.post("/piles", json={"pile_id": P1, "station_id": "S1", "gun_count": 2})
    assert r.status_code == 201 and r.json()["station_id"] == "S1"
    assert (await c.post("/piles", json={"pile_id": P1})).status_code == 409
    r = await c.patch(f"/piles/{P1}", json={"station_id": "S2", "vendor": "ACME"})
    assert r.json()["station_id"] == "S2" and r.json()["vendor"] == "ACME"

    csv_text = f"pile_id,station_id,station_name,guns\n{P1},S2,,4\n{P2},S3,Three,1\n"
    r = await c.post("/piles/import", content=csv_text)
    assert r.json() == {"created": 1, "updated": 1, "rows": 2}
    piles = {p["pile_id"]: p for p in (await c.get("/piles")).json()}
    assert piles[P1]["gun_count"] == 4 and piles[P2]["station_name"] == "Three"

    # a bad row: nothing of the file is written, and the row is named
    bad = json.dumps([{"pile_id": P3}, {"pile_id": "12x"}])
    r = await c.post("/piles/import", content=bad)
    assert r.status_code == 422 and "row 2" in str(r.json()["detail"])
    assert P3 not in {p["pile_id"] for p in (await c.get("/piles")).json()}

    assert (await c.delete(f"/piles/{P2}")).status_code == 200
    assert (await c.get(f"/piles/{P2}")).status_code == 404
    assert (await c.delete(f"/piles/{P2}")).status_code == 404


async def test_pile_ids_are_16_or_20_digits_everywhere_in_registration(api: Api) -> None:
    _, c = api
    short_id = "4403060003002001"  # 16 digits: the same pile as its 20-digit padded form
    r = await c.post("/piles", json={"pile_id": short_id, "station_id": "S1"})
    assert r.status_code == 201 and r.json()["id"] == "0000" + short_id
    assert (await c.post("/piles", json={"pile_id": "0000" + short_id})).status_code == 409
    assert (await c.patch(f"/piles/{short_id}", json={"vendor": "ACME"})).json()["vendor"] == "ACME"

    # 12 digits was accepted by the console before ids were checked in one place
    for bad in ("1001", "123456789012", "4403060003000020100", "44030600030000201001x"):
        assert (await c.post("/piles", json={"pile_id": bad})).status_code == 422, bad
        assert (await c.patch(f"/piles/{bad}", json={"vendor": "x"})).status_code == 422, bad
        assert (await c.delete(f"/piles/{bad}")).status_code == 422, bad

    # an import: the bad id's row is named, nothing of the file is written
    other = "4403060003002002"
    text = f"pile_id,guns\n{P2},2\n1002,1\n{other},1\n"
    r = await c.post("/piles/import", content=text)
    assert r.status_code == 422
    [error] = r.json()["detail"]["errors"]
    assert error.startswith("row 2:") and "16 or 20 decimal digits" in error
    known = {p["pile_id"] for p in (await c.get("/piles")).json()}
    assert P2 not in known and "0000" + other not in known
    # the 16- and the 20-digit form of one pile in one file: the same pile twice
    r = await c.post("/piles/import", content=f"pile_id\n{other}\n0000{other}\n")
    assert r.status_code == 422 and "row 2" in str(r.json()["detail"])
    r = await c.post("/piles/import", content=f"pile_id\n{other}\n")
    assert r.json()["created"] == 1 and (await c.get(f"/piles/0000{other}")).status_code == 200
    removed = (await c.delete(f"/piles/{other}")).json()
    assert removed == {"pile_id": "0000" + other, "removed": True}


async def test_a_connected_pile_cannot_be_removed(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    gw, c = api
    pile = ScriptedPile()
    await pile.login(gw.tcp_port)
    try:
        assert (await c.delete(f"/piles/{PILE_ID}")).status_code == 409
    finally:
        await pile.close()


async def test_accounts_create_import_edit_remove(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    _, c = api
    r = await c.post("/accounts", json={"account": "a1", "balance_fen": 100, "password": "pw"})
    assert r.status_code == 201
    body = "account,balance_fen,card,password,enabled\na1,500,,,\na2,0,CARD2,secret,no\n"
    assert (await c.post("/accounts/import", content=body)).json()["created"] == 1
    accounts = {a["id"]: a for a in (await c.get("/accounts")).json()}
    assert accounts["a1"]["balance_fen"] == 500 and accounts["a1"]["has_password"]
    assert accounts["a2"]["card_token"] == "CARD2" and accounts["a2"]["enabled"] is False
    assert "password_hash" not in accounts["a1"]
    # the card of another account: refused whole
    r = await c.post("/accounts/import", content='[{"account": "a3", "card": "CARD2"}]')
    assert r.status_code == 409
    assert (await c.patch("/accounts/a2", json={"enabled": True})).status_code == 200
    assert (await c.delete("/accounts/a2")).status_code == 200
    assert (await c.patch("/accounts/a2", json={"enabled": True})).status_code == 404


async def test_stations_list_and_idle_fees_through_the_one_set_of_endpoints(api: Api) -> None:
    gw, c = api
    await c.put("/stations/S1", json={"name": "One"})
    await c.post("/piles", json={"pile_id": P1, "station_id": "S1"})
    rule = {"grace_minutes": 10, "rate_fen_per_minute": 50}
    assert (await c.put("/idle-fee/stations/S1", json=rule)).json()["outcome"] == "stored"
    # the station list read the old idle_fee_rules.station_id column and failed
    r = await c.get("/stations")
    assert r.status_code == 200 and r.json() == [{"id": "S1", "name": "One", "piles": 1}]
    assert (await gw.storage.idle_rule_for(P1)).rate_fen_per_minute == 50
    # the console's own idle-fee routes are gone: one rule, one place
    assert (await c.get("/stations/S1/idle_fee")).status_code in (404, 405)
    assert (await c.put("/stations/S1/idle_fee", json=rule)).status_code in (404, 405)


async def test_alarm_is_pushed_live_stored_and_resolved(
    api: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gw, c = api
    pile = ScriptedPile()
    await pile.login(gw.tcp_port)
    events: list[dict] = []

    async def listen() -> None:
        async with c.stream("GET", "/events") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            async for line in resp.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if any(e.get("kind") == "alarm" for e in events):
                        return

    task = asyncio.create_task(listen())
    try:
        for _ in range(200):  # wait until the stream is subscribed
            if live.hub_for(gw).subscribers:
                break
            await asyncio.sleep(0.01)
        pile.status[2] = GunStatus.FAULTED
        await pile.heartbeat()
        await asyncio.wait_for(task, 10)
    finally:
        task.cancel()
        await pile.close()
    kinds = [e.get("kind") for e in events]
    assert "gun_status" in kinds and "alarm" in kinds
    await gw.storage.flush()
    [alarm] = (await c.get("/alarms", params={"status": "open"})).json()["items"]
    assert alarm["kind"] == "alarm:fault" and alarm["pile_id"] == PILE_ID
    r = await c.post(f"/anomalies/{alarm['id']}/resolve", json={"who": "ann", "note": "ok"})
    assert r.status_code == 200
    assert (await c.post(f"/anomalies/{alarm['id']}/resolve", json={})).status_code == 409
    assert (await c.get("/alarms", params={"status": "open"})).json()["items"] == []


async def test_events_need_the_token(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    _, c = api
    async with httpx.AsyncClient(base_url=str(c.base_url)) as bare:
        assert (await bare.get("/events")).status_code == 401


async def test_docs_page_is_served_locally(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    _, c = api
    page = (await c.get("/docs")).text
    assert "/console/static/docs.js" in page and "cdn" not in page.lower()
    assert (await c.get("/console/static/docs.js")).status_code == 200
    assert "/events" in (await c.get("/openapi.json")).json()["paths"]


def test_a_slow_client_drops_its_oldest_events_not_memory() -> None:
    hub = live.LiveHub(buffer=3)
    slow, fast = hub.subscribe(), hub.subscribe()

    async def go() -> None:
        for n in range(10):
            hub.publish({"n": n})
            if n % 2:
                batch, dropped = await fast.next_batch(0)
                assert dropped == 0 and len(batch) == 2
        batch, dropped = await slow.next_batch(0)
        assert [e["n"] for e in batch] == [7, 8, 9] and dropped == 7
        slow.close()
        assert slow not in hub.subscribers and (await slow.next_batch(5))[0] == []

    asyncio.run(go())


def test_broadcast_without_a_hub_does_nothing() -> None:
    class Nobody:
        pass

    live.broadcast(Nobody(), "login", "1", {}, 0)  # no hub: no error, nothing kept
    assert Nobody not in live._hubs
