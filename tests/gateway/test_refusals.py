"""Every reason a new service is refused reaches the pile (AUTH_RESULT's result) and the
operator (the start command's reason) as itself, over real sockets: none turns into GUN_BUSY."""

from __future__ import annotations

from gateway.adapters.pilegate.codes import AUTH_RESULT_CODE
from gateway.app import Gateway
from gateway.commands import Outcome
from protocol.pilegate import AuthRequest, Channel, GunStatus, MsgType, Result
from sessions import Refusal
from tests.gateway.conftest import ACCOUNT, CARD
from tests.gateway.piles import PILE_ID, ScriptedPile

OTHER_ACCOUNT = "13900000000"  # registered by the gateway fixture, no card
BLOCKED_CARD = "0123456789ABCDEF"


async def card_at(pile: ScriptedPile, gun: int, card: str = CARD) -> int:
    seq = pile.send(AuthRequest(gun, Channel.CARD, card))
    answer = (await pile.expect(MsgType.AUTH_RESULT, seq=seq)).message
    assert answer.transaction_id == "" or answer.result == Result.OK
    return int(answer.result)


async def operator_start(gateway: Gateway, gun: int, account: str) -> str:
    result = await gateway.start_charge(PILE_ID, gun, account, "own_app")
    assert result.outcome is Outcome.REJECTED, result
    return result.reason


async def test_a_faulted_gun_is_refused_as_faulted(gateway: Gateway, pile: ScriptedPile) -> None:
    pile.status[1] = GunStatus.FAULTED
    for _ in range(gateway.session_config.fault_confirm_samples):
        await pile.heartbeat()
    assert await card_at(pile, 1) == Result.GUN_FAULTED
    assert await operator_start(gateway, 1, ACCOUNT) == "gun_faulted"
    assert await card_at(pile, 2) == Result.OK  # the other gun is not faulted


async def test_a_gun_in_use_is_refused_as_busy(gateway: Gateway, pile: ScriptedPile) -> None:
    assert (await gateway.start_charge(PILE_ID, 1, OTHER_ACCOUNT, "own_app")).ok
    assert await card_at(pile, 1) == Result.GUN_BUSY
    assert await operator_start(gateway, 1, ACCOUNT) == "gun_busy"


async def test_an_account_in_service_is_refused_as_busy(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    assert (await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")).ok
    assert await card_at(pile, 2) == Result.ACCOUNT_BUSY
    assert await operator_start(gateway, 2, ACCOUNT) == "account_busy"


async def test_an_unknown_account_is_refused_as_unknown(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    assert await card_at(pile, 1, "0000000000000000") == Result.UNKNOWN_ACCOUNT
    assert await operator_start(gateway, 1, "nobody") == "unknown_account"


async def test_a_disabled_account_is_refused_at_the_pile_too(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await gateway.storage.add_account("13700000000", card_token=BLOCKED_CARD, enabled=False)
    assert await card_at(pile, 1, BLOCKED_CARD) == Result.AUTH_FAILED
    assert await operator_start(gateway, 1, "13700000000") == "account_disabled"
    assert gateway.piles[PILE_ID].guns[1].session is None


async def test_a_disabled_pile_is_refused_as_disabled(gateway: Gateway, pile: ScriptedPile) -> None:
    assert (await gateway.set_enabled(PILE_ID, False)).ok
    await pile.expect(MsgType.DISABLE)
    # A disabled pile should not ask (§9.6); if it does, it is told why not.
    assert await card_at(pile, 1) == Result.PILE_DISABLED
    assert await operator_start(gateway, 1, ACCOUNT) == "pile_disabled"


def test_every_refusal_has_its_auth_result_code() -> None:
    assert set(AUTH_RESULT_CODE) == set(Refusal)
    assert Result.OK not in AUTH_RESULT_CODE.values()
    own = {
        Refusal.PILE_DISABLED: Result.PILE_DISABLED,
        Refusal.GUN_FAULTED: Result.GUN_FAULTED,
        Refusal.GUN_BUSY: Result.GUN_BUSY,
        Refusal.ACCOUNT_BUSY: Result.ACCOUNT_BUSY,
        Refusal.UNKNOWN_ACCOUNT: Result.UNKNOWN_ACCOUNT,
    }
    for reason, code in own.items():
        assert AUTH_RESULT_CODE[reason] is code
