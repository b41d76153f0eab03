"""A service that ends frees its account, however slowly the claim was written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.app import Gateway
from protocol.pilegate import AuthRequest, Channel, Logout, MsgType, Result, StopReason
from sessions import Phase
from tests import reads
from tests.gateway.conftest import ACCOUNT, CARD
from tests.gateway.piles import ScriptedPile
from tests.gateway.test_end_to_end import T0, phase, wait_for


async def test_a_slow_claim_does_not_outlive_the_release_of_a_short_service(
    gateway: Gateway, pile: ScriptedPile, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = gateway.claim_account

    async def slow_claim(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)  # a busy database
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(gateway, "claim_account", slow_claim)
    seq = pile.send(AuthRequest(1, Channel.CARD, CARD, ""))
    auth = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert auth.result == Result.OK
    # Unplugged at once: the service ends before any second claim could be written.
    pile.send(Logout(1, auth.transaction_id, StopReason.USER, T0))
    await wait_for(lambda: phase(gateway) is Phase.CANCELLED)
    await gateway.background_done()
    assert await reads.active_service(gateway.storage, ACCOUNT) is None
