"""A service that ends frees its account, however slowly the claim was written."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from gateway.app import Gateway
from gateway.storage.queries import list_sessions
from protocol.pilegate import AuthRequest, Channel, Logout, MsgType, Result, StopReason
from sessions import Phase
from tests import reads
from tests.gateway.conftest import ACCOUNT, CARD, FakeClock, gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, phase, wait_for
from tests.storage.support import WriterGate


async def test_a_slow_claim_does_not_outlive_the_release_of_a_short_service(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = gateway.accounts.claim

    async def slow_claim(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)  # a busy database
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(gateway.accounts, "claim", slow_claim)
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    auth = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert auth.result == Result.OK
    # Unplugged at once: the service ends before any second claim could be written.
    pile.send(Logout(1, auth.transaction_id, StopReason.USER, T0))
    await wait_for(lambda: phase(gateway) is Phase.CANCELLED)
    await gateway.background_done()
    assert await reads.active_service(gateway.storage, ACCOUNT) is None


async def test_a_kill_after_an_authorisation_leaves_no_claim_without_its_session(
    db_url: str, gateway: Gateway, pile: ScriptedPile, clock: FakeClock, tmp_path: Path
) -> None:
    # The batch writer lags (after an outage it held rows for minutes): nothing it holds
    # reaches the database, and a copy of the database now is what a kill -9 leaves.
    gate = WriterGate(gateway.storage.writer)
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    auth = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert auth.result == Result.OK
    killed = tmp_path / "killed.sqlite3"
    with sqlite3.connect(make_url(db_url).database) as src, sqlite3.connect(killed) as dst:
        src.backup(dst)
    gate.open()

    restarted = await start_gateway(
        f"sqlite+aiosqlite:///{killed}", gateway_config(), register=False, clock=clock
    )
    again = ScriptedPile()
    try:
        await again.login(restarted.tcp_port)
        held = await reads.active_service(restarted.storage, ACCOUNT)
        assert held is not None and held.session_id == auth.transaction_id
        # The claim's session came back with it, and ends as any session the pile never
        # started: with the start timeout, which frees the account.
        await wait_for(lambda: phase(restarted) is Phase.AUTHORISED)
        await again.heartbeat()
        await clock.advance(restarted, restarted.config.sessions.start_timeout_s + 1)
        await wait_for(lambda: phase(restarted) is Phase.CANCELLED)
        await restarted.background_done()
        assert await reads.active_service(restarted.storage, ACCOUNT) is None
    finally:
        await again.close()
        await restarted.stop(grace_s=2)


async def test_an_authorisation_refused_after_its_claim_leaves_no_claim_and_no_session(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = gateway.accounts.claim

    async def slow_claim(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)  # a busy database: both claims are in flight together
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(gateway.accounts, "claim", slow_claim)
    await pile.heartbeat()
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    await asyncio.sleep(0.05)  # its claim is under way when the operator starts the gun
    started = await gateway.start_charge(PILE_ID, 1, "13900000000", "own_app")
    refused = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert started.ok and refused.result != Result.OK  # the gun went to the operator's start
    await gateway.background_done()
    await gateway.storage.flush()
    # The refused authorisation's claim, and the session row written with it, are gone.
    assert await reads.active_service(gateway.storage, ACCOUNT) is None
    page = await list_sessions(gateway.storage.reader, pile_id=PILE_ID)
    assert [r["id"] for r in page.rows] == [started.transaction_id]
