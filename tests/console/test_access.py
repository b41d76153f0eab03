"""Per-operator tokens with roles (gateway/admin/access.py) on a live admin server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.admin import AdminServer, access
from gateway.app import Gateway
from gateway.config import AdminConfig
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.storage.support import bill, settled

ADMIN = "admin-token"
OPERATORS = f"""
[[operator]]
name = "ann"
role = "operator"
token_sha256 = "{access.digest("ann-token")}"

[[operator]]
name = "bob"
role = "read"
token = "bob-token"
"""


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    path = tmp_path / "operators.toml"
    path.write_text(OPERATORS)
    monkeypatch.setenv(access.ENV, str(path))
    async with fresh_database("sqlite") as url:
        gw: Gateway = await start_gateway(url, gateway_config())
        admin = AdminServer(gw, AdminConfig(host="127.0.0.1", port=0, token=ADMIN))
        await admin.start()
        pile_bill = bill()
        stored = await gw.storage.store_bill(
            "44030600030000200060", pile_bill, settled(pile_bill), received_ms=1_000
        )
        try:
            yield admin.url, stored.bill_id
        finally:
            await admin.stop()
            await gw.stop(grace_s=2)


async def call(base: str, token: str, method: str, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        return await c.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)


async def test_roles_and_the_audit_name(server: tuple[str, str]) -> None:
    base, bill_id = server
    assert (await call(base, "bob-token", "GET", "/whoami")).json() == {
        "name": "bob",
        "role": "read",
    }
    assert (await call(base, "bob-token", "GET", "/piles")).status_code == 200
    refused = await call(base, "bob-token", "POST", "/accounts", json={"account": "x"})
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert (await call(base, "nobody", "GET", "/piles")).status_code == 401

    fix = {"energy_kwh": "1", "reason": "test", "who": "somebody else"}
    done = await call(base, "ann-token", "POST", f"/bills/{bill_id}/corrections", json=fix)
    assert done.status_code == 200 and done.json()["who"] == "ann"  # the token's name wins
    as_admin = await call(base, ADMIN, "POST", f"/bills/{bill_id}/corrections", json=fix)
    assert as_admin.json()["who"] == "somebody else"
    assert (await call(base, ADMIN, "GET", "/whoami")).json()["role"] == "admin"


def test_a_bad_operators_file_is_refused() -> None:
    with pytest.raises(access.OperatorsFileError, match="role"):
        access.parse_operators('[[operator]]\nname = "x"\nrole = "root"\ntoken = "t"\n')
    with pytest.raises(access.OperatorsFileError, match="token"):
        access.parse_operators('[[operator]]\nname = "x"\n')
    assert access.load_operators("") == {}
