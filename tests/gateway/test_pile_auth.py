"""Pile authentication at LOGIN (docs/protocol.md §6.1.1) against a real gateway on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.app import Gateway
from gateway.logs import configure_logging
from gateway.storage import Storage
from protocol.pilegate import Login, MsgType, Result
from protocol.pilegate.login_auth import sign_login
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config
from tests.gateway.piles import PILE_ID, ScriptedPile

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC: the gateway's (injected) clock
SECRET = bytes(range(32))
NEW_SECRET = bytes(range(100, 132))
WINDOW_S = 300


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


async def open_gateway(url: str, policy: str, clock: FakeClock) -> Gateway:
    configure_logging("debug")
    config = gateway_config()
    config = replace(config, piles=replace(config.piles, auth=policy, auth_window_s=WINDOW_S))
    storage = await Storage.open(url, upgrade=False, flush_ms=config.database.batch_ms)
    await storage.register_pile(PILE_ID, vendor="ACME", model="DC120", gun_count=2)
    gateway = Gateway(config, storage, clock=clock)
    await gateway.start()
    return gateway


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["required"])
async def gw(
    db_url: str, clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    gateway = await open_gateway(db_url, request.param, clock)
    try:
        yield gateway
    finally:
        await gateway.stop(grace_s=2)


def login_at(time_ms: int, secret: bytes | None = None, firmware: str = "V2.3.7") -> Login:
    login = Login(PILE_ID, "ACME", "DC120", firmware, 1, 2, time_ms)
    return login if secret is None else sign_login(login, secret)


async def try_login(gateway: Gateway, login: Login) -> tuple[ScriptedPile, int]:
    """Connect, send ``login``, return the pile and the LOGIN_ACK's result."""
    pile = ScriptedPile()
    await pile.connect(gateway.tcp_port)
    seq = pile.send(login)
    ack = await pile.expect(MsgType.LOGIN_ACK, seq=seq)
    return pile, ack.message.result  # type: ignore[attr-defined]


async def refused(gateway: Gateway, login: Login, result: Result) -> None:
    pile, got = await try_login(gateway, login)
    try:
        assert got == result
        await pile.closed.wait()  # the gateway closes a refused connection
    finally:
        await pile.close()


async def test_good_mac_logs_in_and_is_served(gw: Gateway, clock: FakeClock) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    pile, result = await try_login(gw, login_at(T0 + 2_000, SECRET))
    try:
        assert result == Result.OK
        assert (await pile.heartbeat()).message.TYPE == MsgType.HEARTBEAT_ACK
        assert gw.piles[PILE_ID].connection.authenticated  # type: ignore[union-attr]
    finally:
        await pile.close()


async def test_wrong_mac_is_refused(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    await refused(gw, login_at(T0, NEW_SECRET), Result.AUTH_FAILED)
    record = await gw.storage.get_pile(PILE_ID)
    assert record is not None and not record.online and record.last_login_ms is None


async def test_missing_mac_is_refused_when_required(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    await refused(gw, login_at(T0), Result.AUTH_FAILED)


async def test_replayed_login_is_refused(gw: Gateway, clock: FakeClock) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    signed = login_at(T0, SECRET)
    pile, result = await try_login(gw, signed)
    assert result == Result.OK
    await pile.close()
    clock.now = T0 + 60_000  # still inside the window: only the replay guard can refuse it
    await refused(gw, signed, Result.AUTH_FAILED)


async def test_login_outside_the_window_gets_clock_skew_and_our_time(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    pile = ScriptedPile()
    await pile.connect(gw.tcp_port)
    seq = pile.send(login_at(T0 - (WINDOW_S + 1) * 1000, SECRET))
    ack = (await pile.expect(MsgType.LOGIN_ACK, seq=seq)).message
    await pile.close()
    assert ack.result == Result.CLOCK_SKEW  # type: ignore[attr-defined]
    assert ack.server_time_ms == T0  # type: ignore[attr-defined]  # the pile resyncs from it
    # ... and a LOGIN signed on the corrected clock is accepted
    pile, result = await try_login(gw, login_at(ack.server_time_ms, SECRET))  # type: ignore[attr-defined]
    assert result == Result.OK
    await pile.close()


async def test_rotated_secret_old_one_works_during_grace_then_not(
    gw: Gateway, clock: FakeClock
) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    await gw.storage.set_pile_secret(PILE_ID, NEW_SECRET, at_ms=T0, grace_ms=3_600_000)
    pile, result = await try_login(gw, login_at(T0 + 1_000, SECRET))  # old, in grace
    assert result == Result.OK
    await pile.close()
    pile, result = await try_login(gw, login_at(T0 + 2_000, NEW_SECRET))
    assert result == Result.OK
    await pile.close()
    clock.now = T0 + 3_600_001  # grace over
    await refused(gw, login_at(clock.now, SECRET), Result.AUTH_FAILED)
    pile, result = await try_login(gw, login_at(clock.now + 1, NEW_SECRET))
    assert result == Result.OK
    await pile.close()


async def test_rotation_without_grace_drops_the_old_secret_at_once(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    await gw.storage.set_pile_secret(PILE_ID, NEW_SECRET, at_ms=T0)
    await refused(gw, login_at(T0, SECRET), Result.AUTH_FAILED)


@pytest.mark.parametrize("gw", ["required", "optional"], indirect=True)
async def test_spoofed_login_leaves_the_real_pile_connected_and_served(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    real, result = await try_login(gw, login_at(T0, SECRET))
    try:
        assert result == Result.OK
        live = gw.piles[PILE_ID].connection
        # a wrong MAC, and (what optional lets in for piles not yet signing) no MAC at all
        await refused(gw, login_at(T0 + 1, NEW_SECRET, firmware="EVIL"), Result.AUTH_FAILED)
        await refused(gw, login_at(T0 + 2, firmware="EVIL"), Result.AUTH_FAILED)
        assert gw.piles[PILE_ID].connection is live and not live.closed  # type: ignore[union-attr]
        assert not real.closed.is_set()
        assert (await real.heartbeat()).message.TYPE == MsgType.HEARTBEAT_ACK
        record = await gw.storage.get_pile(PILE_ID)
        assert record is not None and record.firmware == "V2.3.7" and record.online
    finally:
        await real.close()


@pytest.mark.parametrize("gw", ["optional"], indirect=True)
async def test_optional_lets_an_unsigned_pile_in_flagged(gw: Gateway) -> None:
    pile, result = await try_login(gw, login_at(T0))
    try:
        assert result == Result.OK
        assert not gw.piles[PILE_ID].connection.authenticated  # type: ignore[union-attr]
        assert gw.pilegate.auth.verdicts["missing"] == 1
    finally:
        await pile.close()


@pytest.mark.parametrize("gw", ["optional"], indirect=True)
async def test_optional_refuses_a_wrong_mac_where_a_secret_is_set(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    await refused(gw, login_at(T0, NEW_SECRET), Result.AUTH_FAILED)
    pile, result = await try_login(gw, login_at(T0))  # unsigned is still let in
    assert result == Result.OK
    await pile.close()


@pytest.mark.parametrize("gw", ["required"], indirect=True)
async def test_required_refuses_a_pile_without_a_secret(gw: Gateway) -> None:
    await refused(gw, login_at(T0, SECRET), Result.AUTH_FAILED)


@pytest.mark.parametrize("gw", ["off"], indirect=True)
async def test_off_ignores_the_auth_field(gw: Gateway) -> None:
    await gw.storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
    pile, result = await try_login(gw, login_at(T0, NEW_SECRET))
    assert result == Result.OK
    await pile.close()


async def test_unknown_pile_is_still_unknown(gw: Gateway) -> None:
    pile = ScriptedPile("44030600030000200099")
    await pile.connect(gw.tcp_port)
    seq = pile.send(sign_login(Login(pile.pile_id, "ACME", "DC", "V1", 1, 1, T0), SECRET))
    ack = await pile.expect(MsgType.LOGIN_ACK, seq=seq)
    assert ack.message.result == Result.UNKNOWN_PILE  # type: ignore[attr-defined]
    await pile.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_secret_storage_on_both_databases(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(kind) as url:
        storage = await Storage.open(url, upgrade=False)
        try:
            assert await storage.pile_secrets(PILE_ID) is None  # not registered
            assert not await storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
            await storage.register_pile(PILE_ID, gun_count=1)
            assert (await storage.pile_secrets(PILE_ID)).usable(T0) == []  # type: ignore[union-attr]
            assert await storage.set_pile_secret(PILE_ID, SECRET, at_ms=T0)
            assert await storage.set_pile_secret(PILE_ID, NEW_SECRET, at_ms=T0, grace_ms=1000)
            found = await storage.pile_secrets(PILE_ID)
            assert found is not None
            assert found.usable(T0 + 999) == [(NEW_SECRET, False), (SECRET, True)]
            assert found.usable(T0 + 1000) == [(NEW_SECRET, False)]
            assert found.status(T0)["previous_valid_until_ms"] == T0 + 1000
            assert SECRET.hex() not in str(found.status(T0))
            assert await storage.clear_pile_secret(PILE_ID)
            assert not await storage.clear_pile_secret(PILE_ID)
            assert (await storage.pile_secrets(PILE_ID)).secret is None  # type: ignore[union-attr]
        finally:
            await storage.close()
