# ruff: noqa: F811  (the env fixture is imported from test_admin_api)
"""Operator configuration of piles through the CLI and the admin API: pile ids (16 or 20
digits, nothing else), changes for an offline pile (stored, sent at its next login), idle-fee
rules per pile, station and default, the default tariff and TIME_SYNC on request."""

from __future__ import annotations

import contextlib
import io

import pytest

from gateway.cli import main
from protocol.pilegate import MsgType, SetIdleFee
from protocol.pilegate.messages import IDLE_FEE_UNCAPPED
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.operator.test_admin_api import TOKEN, Env, env, kind, run_cli  # noqa: F401

OFFLINE = "44030600030000300070"
OFFLINE_16 = "4403060003000400"  # registered as 16 digits: the pile 00004403060003000400


def cli_err(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse refusing an argument
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("bad", ["12345", "'; DROP TABLE bills; --", "4403060003000020x", ""])
def test_piles_add_refuses_what_is_not_a_pile_id(bad: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: `piles add 12345` (or SQL in the id) was stored as a pile."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    status, out, err = cli_err("piles", "add", bad, "--database", url)
    assert status == 2 and out == ""
    assert "a pile id is 16 or 20 decimal digits" in err


async def test_16_digit_ids_name_the_padded_pile_everywhere(env: Env) -> None:
    base = ("--admin", env.admin.url, "--token", TOKEN)
    status, out = await run_cli("piles", "add", OFFLINE_16, "--database", env.url)
    assert status == 0 and "00004403060003000400" in out  # before: stored unpadded
    shown = await env.client.get(f"/piles/{OFFLINE_16}")
    assert shown.status_code == 200 and shown.json()["pile_id"] == "00004403060003000400"
    assert (await env.client.post("/piles/12345/enable")).status_code == 422
    assert (await env.client.get("/bills", params={"pile": "abc"})).status_code == 422
    status, _ = await run_cli("disable", PILE_ID[4:], *base)  # 16 digits, but another pile
    assert status == 1


async def test_offline_changes_are_stored_and_sent_at_login(env: Env) -> None:
    """Before: `disable` / `tariff set` on an offline pile exited 1 with pile_offline, and the
    pile never got the change."""
    base = ("--admin", env.admin.url, "--token", TOKEN)
    await env.gateway.storage.register_pile(OFFLINE, gun_count=1)
    status, out = await run_cli("disable", OFFLINE, *base)
    assert status == 0 and out.startswith("stored: the pile is not connected")
    status, out = await run_cli(
        "tariff", "set", OFFLINE, "--id", "off-1", "--price", "flat=0.90/0.30", *base
    )
    assert status == 0 and "tariff off-1 stored; stored" in out
    status, out = await run_cli(
        "idle-fee", "set", "--pile", OFFLINE, "--grace", "10", "--rate", "30", *base
    )
    assert status == 0 and "stored" in out
    strict = await env.client.post(f"/piles/{OFFLINE}/disable?strict=true")
    assert strict.status_code == 202 and strict.json()["outcome"] == "stored"
    pile = ScriptedPile(OFFLINE, guns=1)
    try:
        await pile.login(env.gateway.tcp_port)
        config = (MsgType.DISABLE, MsgType.SET_TARIFF, MsgType.SET_IDLE_FEE, MsgType.ENABLE)
        sent = [f.message for f in pile.received if f.message.TYPE in config]
        assert [m.TYPE for m in sent] == [
            MsgType.DISABLE, MsgType.SET_TARIFF, MsgType.SET_IDLE_FEE,
        ]  # fmt: skip
        assert [p.energy_price_e4 for p in sent[1].prices] == [9_000] * 4
        assert sent[2] == SetIdleFee(10, 30, IDLE_FEE_UNCAPPED)
    finally:
        await pile.close()


async def test_idle_fee_rules_per_pile_station_and_default(env: Env) -> None:
    """Before: no way to set them but writing the database by hand; the pile never knew."""
    base = ("--admin", env.admin.url, "--token", TOKEN)
    await env.gateway.storage.add_station("ST-IDLE", "depot")
    await env.gateway.storage.register_pile(PILE_ID, station_id="ST-IDLE", gun_count=2)
    mark = len(env.pile.received)
    status, out = await run_cli(
        "idle-fee", "set", "--default", "--grace", "20", "--rate", "10", "--cap", "2000", *base
    )
    assert status == 0 and f"sent to {PILE_ID}: accepted" in out
    assert (await env.pile.expect(MsgType.SET_IDLE_FEE, after=mark)).message == SetIdleFee(
        20, 10, 2000
    )
    mark = len(env.pile.received)
    status, out = await run_cli(
        "idle-fee", "set", "--station", "ST-IDLE", "--grace", "15", "--rate", "50", *base
    )
    assert status == 0, out
    station_rule = (await env.pile.expect(MsgType.SET_IDLE_FEE, after=mark)).message
    assert station_rule == SetIdleFee(15, 50, IDLE_FEE_UNCAPPED)
    mark = len(env.pile.received)
    status, out = await run_cli(
        "idle-fee", "set", "--default", "--grace", "0", "--rate", "1", *base
    )
    assert status == 0 and "no connected pile uses it now" in out  # the station's rule wins
    assert env.pile.of_type(MsgType.SET_IDLE_FEE)[-1].message == station_rule
    status, out = await run_cli("idle-fee", "show", PILE_ID, *base, "--format", "json")
    assert status == 0 and '"scope_kind": "station"' in out and '"rate_fen_per_minute": 50' in out
    rules = (await env.client.get("/idle-fee")).json()
    assert {(r["scope_kind"], r["scope_id"]) for r in rules} == {
        ("default", ""), ("station", "ST-IDLE"),
    }  # fmt: skip
    bad = await env.client.put("/idle-fee/default", json={"grace_minutes": -1,
                                                          "rate_fen_per_minute": 1})  # fmt: skip
    assert bad.status_code == 422
    assert (await env.client.put("/idle-fee/stations/NOPE", json={
        "grace_minutes": 1, "rate_fen_per_minute": 1})).status_code == 404  # fmt: skip


async def test_default_tariff_and_time_sync_from_the_cli(env: Env) -> None:
    base = ("--admin", env.admin.url, "--token", TOKEN)
    mark = len(env.pile.received)
    status, out = await run_cli(
        "tariff", "set-default", "--id", "std-2026", "--price", "flat=1.20/0.50", *base
    )
    assert status == 0 and f"sent to {PILE_ID}: accepted" in out
    sent = (await env.pile.expect(MsgType.SET_TARIFF, after=mark)).message
    assert [(p.energy_price_e4, p.service_fee_e4) for p in sent.prices] == [(12_000, 5_000)] * 4
    shown = (await env.client.get(f"/piles/{PILE_ID}/tariff")).json()
    assert shown["current"]["tariff_id"] == "std-2026"
    assert shown["current"]["scope_kind"] == "default"
    mark = len(env.pile.received)
    status, out = await run_cli("time-sync", PILE_ID, *base)
    assert status == 0 and out.strip() == "accepted"
    await env.pile.expect(MsgType.TIME_SYNC, after=mark)
