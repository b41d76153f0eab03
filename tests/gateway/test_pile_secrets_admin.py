"""Setting and rotating pile login secrets: `pilegate piles add/secret` and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from gateway.admin import AdminServer
from gateway.cli import main
from gateway.config import AdminConfig
from protocol.pilegate import Login, MsgType, Result
from protocol.pilegate.login_auth import sign_login
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile

OTHER = "44030600030000200061"


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


async def run_cli(*argv: str) -> tuple[int, str]:
    return await asyncio.to_thread(cli, *argv)


async def login_result(port: int, pile_id: str, secret: bytes | None, now_ms: int) -> int:
    pile = ScriptedPile(pile_id)
    await pile.connect(port)
    try:
        login = Login(pile_id, "ACME", "DC", "V1", 1, 2, now_ms)
        seq = pile.send(login if secret is None else sign_login(login, secret))
        ack = await pile.expect(MsgType.LOGIN_ACK, seq=seq)
        return ack.message.result  # type: ignore[attr-defined,no-any-return]
    finally:
        await pile.close()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with fresh_database("sqlite") as url:
        yield url


async def test_cli_add_with_generated_secret_then_rotate_and_clear(url: str) -> None:
    config = gateway_config()
    config = replace(config, piles=replace(config.piles, auth="required"))
    gw = await start_gateway(url, config, register=False)
    try:
        status, out = await run_cli(
            "piles", "add", OTHER, "--guns", "2", "--secret", "generate",
            "--database", url, "--format", "json",
        )  # fmt: skip
        assert status == 0
        first = bytes.fromhex(json.loads(out)[0]["secret"])
        assert await login_result(gw.tcp_port, OTHER, first, gw.now_ms()) == Result.OK

        status, out = await run_cli(
            "piles", "secret", OTHER, "--grace", "3600", "--database", url, "--format", "json"
        )
        row = json.loads(out)[0]
        second = bytes.fromhex(row["secret"])
        assert row["has_secret"] and row["previous_valid_until_ms"] is not None
        assert await login_result(gw.tcp_port, OTHER, first, gw.now_ms()) == Result.OK  # grace
        assert await login_result(gw.tcp_port, OTHER, second, gw.now_ms()) == Result.OK

        status, out = await run_cli(
            "piles", "secret", OTHER, "--set", "ab" * 32, "--grace", "0",
            "--database", url, "--format", "json",
        )  # fmt: skip
        assert "secret" not in json.loads(out)[0]  # a given secret is not echoed
        refused = await login_result(gw.tcp_port, OTHER, second, gw.now_ms())
        assert refused == Result.AUTH_FAILED
        ok = await login_result(gw.tcp_port, OTHER, bytes.fromhex("ab" * 32), gw.now_ms())
        assert ok == Result.OK

        status, out = await run_cli("piles", "secret", OTHER, "--clear", "--database", url)
        assert status == 0 and out.splitlines()[-1].split()[1] == "no"
        refused = await login_result(gw.tcp_port, OTHER, bytes.fromhex("ab" * 32), gw.now_ms())
        assert refused == Result.AUTH_FAILED  # required, and no secret any more

        status, _ = await run_cli("piles", "secret", OTHER, "--set", "12", "--database", url)
        assert status == 2  # not 64 hex digits
        status, _ = await run_cli("piles", "secret", "44030600030000200099", "--database", url)
        assert status == 1  # unknown pile
    finally:
        await gw.stop(grace_s=2)


async def test_admin_api_sets_rotates_and_never_shows_a_secret(url: str) -> None:
    config = gateway_config()
    config = replace(config, piles=replace(config.piles, auth="required"))
    gw = await start_gateway(url, config)
    admin = AdminServer(gw, AdminConfig(host="127.0.0.1", port=0, token="t"))
    await admin.start()
    client = httpx.AsyncClient(
        base_url=admin.url, headers={"Authorization": "Bearer t"}, timeout=10
    )
    try:
        shown = (await client.get(f"/piles/{PILE_ID}/secret")).json()
        assert shown["has_secret"] is False

        made = (await client.put(f"/piles/{PILE_ID}/secret", json={})).json()
        first = bytes.fromhex(made["secret"])
        assert await login_result(gw.tcp_port, PILE_ID, first, gw.now_ms()) == Result.OK

        rotated = await client.put(
            f"/piles/{PILE_ID}/secret", json={"secret": "cd" * 32, "grace_s": 60}
        )
        assert rotated.status_code == 200 and "secret" not in rotated.json()
        assert rotated.json()["previous_valid_until_ms"] > gw.now_ms()
        assert await login_result(gw.tcp_port, PILE_ID, first, gw.now_ms()) == Result.OK

        for path in (f"/piles/{PILE_ID}/secret", f"/piles/{PILE_ID}", "/piles"):
            text = (await client.get(path)).text
            assert "cd" * 32 not in text and first.hex() not in text

        bad = await client.put(f"/piles/{PILE_ID}/secret", json={"secret": "xyz"})
        assert bad.status_code == 422
        unknown = await client.put("/piles/44030600030000200099/secret", json={})
        assert unknown.status_code == 404
        assert (await client.put(f"/piles/{PILE_ID}/secret")).status_code == 200  # no body
        assert (await client.delete(f"/piles/{PILE_ID}/secret")).json()["has_secret"] is False
        assert (await httpx.AsyncClient(base_url=admin.url).get(
            f"/piles/{PILE_ID}/secret"
        )).status_code == 401  # fmt: skip
    finally:
        await client.aclose()
        await admin.stop()
        await gw.stop(grace_s=2)
