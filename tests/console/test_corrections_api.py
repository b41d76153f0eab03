"""A correction through the admin API goes the same way as one from the CLI (issue 15): the
plausibility check, the refund counted from the base the operator chose, and a
`bill_corrected` event in the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import orjson
import pytest
from sqlalchemy import select

from billing.schema import outbox
from gateway.admin import AdminServer
from gateway.app import Gateway
from gateway.config import AdminConfig
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.storage.support import bill, settled

PILE = "44030600030000200060"


@pytest.fixture
async def api() -> AsyncIterator[tuple[Gateway, httpx.AsyncClient, str]]:
    base = gateway_config()
    config = replace(base, mqtt=replace(base.mqtt, url="mqtt://127.0.0.1:9"))  # events on
    async with fresh_database("sqlite") as url:
        gw = await start_gateway(url, config)
        admin = AdminServer(gw, AdminConfig(host="127.0.0.1", port=0, token=""))
        await admin.start()
        pile_bill = bill()
        stored = await gw.storage.store_bill(PILE, pile_bill, settled(pile_bill), received_ms=1)
        try:
            async with httpx.AsyncClient(base_url=admin.url, timeout=10) as client:
                yield gw, client, stored.bill_id
        finally:
            await admin.stop()
            await gw.stop(grace_s=2)


async def test_an_api_correction_is_checked_counted_and_published(
    api: tuple[Gateway, httpx.AsyncClient, str],
) -> None:
    gw, client, bill_id = api
    path = f"/bills/{bill_id}/corrections"
    absurd = {"energy_kwh": "99999", "reason": "typo"}
    refused = await client.post(path, json=absurd)
    assert refused.status_code == 422 and "refused" in refused.json()["detail"]
    assert await gw.storage.corrections(bill_id) == []

    fix = {"energy_kwh": "0", "reason": "meter replaced", "refund_from": "pile"}
    done = (await client.post(path, json=fix)).json()
    assert done["refund_from"] == "pile" and done["corrected_energy_dwh"] == 0
    assert done["refund_fen"] == done["pile_refund_fen"] == done["pile_charged_fen"]
    await gw.storage.flush()
    async with gw.storage.reader.connect() as conn:
        rows = (await conn.execute(select(outbox.c.topic, outbox.c.payload))).all()
    events = [orjson.loads(p) for t, p in rows if t.endswith("/bill_corrected")]
    assert [(e["bill_id"], e["refund_from"]) for e in events] == [(bill_id, "pile")]
