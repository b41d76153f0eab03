"""OCPP 1.6 security profiles 0, 1 and 2 (security whitepaper ed.2), the passwords the operator
sets through the admin API, and the handshake rules: a charger that fails authentication is
refused before anything of it is stored, and never replaces a connected charger."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import websockets
from ocpp.v16 import call

from gateway.adapters.ocpp16.auth import check_password, hash_password
from gateway.admin.app import create_app
from gateway.app import Gateway
from gateway.storage.schema import frame_journal, ocpp_chargers
from tests.gateway.tls_cert import make_self_signed
from tests.ocpp.conftest import ACCOUNT, CP, ocpp_config, start
from tests.ocpp.reads import eventually
from tests.ocpp.support import connected, iso, now, url

PASSWORD = b"0123456789abcdef0123"  # 20 bytes, as the whitepaper's AuthorizationKey


@pytest.fixture
async def admin(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


async def set_password(admin: httpx.AsyncClient, password: bytes, profile: int = 1) -> None:
    body = {"authorization_key": password.hex(), "security_profile": profile}
    r = await admin.put(f"/ocpp/{CP}/password", json=body)
    assert r.status_code == 200, r.text


async def refused_with(port: int, cp_id: str, **kw: object) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connected(port, cp_id, **kw):  # type: ignore[arg-type]
            pass
    return refused.value.response.status_code


def test_passwords_are_stored_as_a_salted_kdf_hash() -> None:
    stored = hash_password(PASSWORD)
    assert PASSWORD.hex() not in stored and PASSWORD.decode() not in stored
    assert stored != hash_password(PASSWORD)  # salted
    assert check_password(PASSWORD, stored) and not check_password(b"x" * 20, stored)


async def test_profile_0_lets_in_a_charger_with_no_password(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        assert (await cp.boot()).status == "Accepted"


@pytest.mark.ocpp(require_password=True)
async def test_profile_0_refused_when_passwords_are_required(gateway: Gateway, port: int) -> None:
    assert await refused_with(port, CP) == 401


async def test_unknown_charger_is_refused_with_404(gateway: Gateway, port: int) -> None:
    assert await refused_with(port, "NOT-REGISTERED") == 404
    assert await refused_with(port, "bad%20id") == 404
    assert await gateway.storage.get_pile("NOT-REGISTERED") is None  # nothing stored


async def test_tc_085_basic_auth_valid_credentials(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    assert await refused_with(port, CP) == 401  # no credentials
    assert await refused_with(port, CP, password=b"wrong-password-1234") == 401
    async with connected(port, CP, password=PASSWORD) as cp:
        assert (await cp.boot()).status == "Accepted"
        for connector in (0, 1, 2):
            assert await cp.status(connector, "Available") is not None


async def test_a_charger_failing_auth_never_replaces_the_connected_one(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    async with connected(port, CP, password=PASSWORD) as cp:
        await cp.boot()
        assert await refused_with(port, CP, password=b"an-impostor-password") == 401
        assert await refused_with(port, CP) == 401
        assert (await cp.call(call.Heartbeat())).current_time  # still the live one
        assert gateway.ocpp is not None and not gateway.ocpp.chargers[CP].closed


async def test_an_authenticated_reconnect_replaces_the_old_connection(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    async with connected(port, CP, password=PASSWORD) as old:
        await old.boot()
        async with connected(port, CP, password=PASSWORD) as new:
            assert (await new.boot()).status == "Accepted"
            await asyncio.wait_for(old._connection.wait_closed(), 5)


async def test_tc_073_update_the_charge_point_password(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    new_password = b"fedcba9876543210fedc"
    async with connected(port, CP, password=PASSWORD) as cp:
        await cp.boot()
        body = {"key": "AuthorizationKey", "value": new_password.hex()}
        r = await admin.post(f"/ocpp/{CP}/call/ChangeConfiguration", json=body)
        assert r.json() == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert await refused_with(port, CP, password=PASSWORD) == 401  # only the new one now
    async with connected(port, CP, password=new_password) as cp:
        assert (await cp.boot()).status == "Accepted"
    async with gateway.storage.reader.connect() as conn:
        journal = (await conn.execute(frame_journal.select())).mappings().all()
        stored = (await conn.execute(ocpp_chargers.select())).mappings().one()
    assert all(new_password.hex() not in str(dict(row)) for row in journal)  # never in clear
    assert new_password.hex() not in stored["password_hash"]


async def test_tc_073_rejected_key_change_keeps_the_old_password(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    async with connected(port, CP, password=PASSWORD) as cp:
        await cp.boot()
        cp.answers["ChangeConfiguration"] = {"status": "Rejected"}
        body = {"key": "AuthorizationKey", "value": (b"x" * 20).hex()}
        r = await admin.post(f"/ocpp/{CP}/call/ChangeConfiguration", json=body)
        assert r.json()["status"] == "Rejected"
    async with connected(port, CP, password=PASSWORD) as cp:
        assert (await cp.boot()).status == "Accepted"


@pytest.mark.ocpp(basic_auth_over_ws=False)
async def test_profile_1_over_plain_ws_refusable_by_configuration(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    await set_password(admin, PASSWORD)
    assert await refused_with(port, CP, password=PASSWORD) == 403


async def test_security_event_is_answered_and_journaled(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.boot()
        event = call.SecurityEventNotification(
            type="InvalidCentralSystemCertificate", timestamp=iso(now()), tech_info="test"
        )
        assert await cp.call(event) is not None

        async def journaled() -> object:
            async with gateway.storage.reader.connect() as conn:
                q = frame_journal.select().where(
                    frame_journal.c.type_name == "SecurityEventNotification"
                )
                return (await conn.execute(q)).first()

        await eventually(journaled, what="the security event in the journal")


async def test_admin_api_commands_and_listings(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        cp.answers["Reset"] = {"status": "Rejected"}
        r = await admin.post(f"/ocpp/{CP}/call/Reset", json={"type": "Soft"})
        assert r.json() == {"status": "Rejected", "response": {"status": "Rejected"}}
        bad = await admin.post(f"/ocpp/{CP}/call/Reset", json={"type": "Sideways"})
        assert bad.status_code == 422
        assert (
            await admin.post("/ocpp/OTHER/call/Reset", json={"type": "Soft"})
        ).status_code == 409
        assert await cp.stop_tx(-1, 10) is not None
        orphans = (await admin.get("/ocpp/orphan-stops", params={"charger": CP})).json()
        assert [o["transaction_id"] for o in orphans] == [-1]


# --- profile 2: TLS with Basic Auth -----------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_gateway(db_url: str, cert: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    config = ocpp_config()
    config = replace(
        config, server=replace(config.server, tls_cert=str(cert[0]), tls_key=str(cert[1]))
    )
    gw = await start(db_url, config)
    await gw.storage.set_charger_password(CP, hash_password(PASSWORD), 2, at_ms=0)
    try:
        yield gw
    finally:
        await gw.stop(grace_s=2)


async def test_tc_086_profile_2_tls_with_basic_auth(
    tls_gateway: Gateway, cert: tuple[Path, Path]
) -> None:
    assert tls_gateway.ocpp is not None
    port = tls_gateway.ocpp.port
    context = ssl.create_default_context(cafile=str(cert[0]))
    async with connected(port, CP, password=PASSWORD, tls=context) as cp:
        assert (await cp.boot()).status == "Accepted"
        for connector in (0, 1, 2):
            assert await cp.status(connector, "Available") is not None
    assert await refused_with(port, CP, tls=context) == 401
    with pytest.raises((ssl.SSLError, OSError, websockets.InvalidMessage)):  # plain ws:// refused
        async with websockets.connect(url(port, CP), subprotocols=["ocpp1.6"], open_timeout=3):  # type: ignore[list-item]
            pass


async def test_the_v1_command_routes_work_for_a_connected_charger(
    gateway: Gateway, port: int, admin: httpx.AsyncClient
) -> None:
    async with connected(port, CP) as cp:
        await cp.cold_boot()
        body = {"gun": 1, "account": ACCOUNT, "channel": "own_app"}
        started = (await admin.post(f"/piles/{CP}/start", json=body)).json()
        assert started["outcome"] == "accepted", started
        id_tag = (await cp.wait_for("RemoteStartTransaction"))["id_tag"]
        tx = (await cp.start_tx(id_tag)).transaction_id
        await cp.status(1, "Charging")
        shown = (await admin.get(f"/piles/{CP}")).json()
        assert shown["guns"]["1"]["session"]["phase"] == "charging", shown
        stopped = (await admin.post(f"/piles/{CP}/stop", json={"gun": 1})).json()
        assert stopped["outcome"] == "accepted", stopped
        assert (await cp.wait_for("RemoteStopTransaction"))["transaction_id"] == tx
        sessions = (await admin.get("/sessions", params={"pile": CP})).json()
        assert sessions["items"], sessions
    assert (await admin.get("/sessions", params={"pile": "NOT-KNOWN"})).status_code == 422
