"""The stop reason on the wire says why the gateway stops (pilegate issue 11, §9.3, §4.3)."""

from __future__ import annotations

import pytest

from gateway.adapters.pilegate.codes import STOP_REASON_CODE
from gateway.app import Gateway
from protocol.pilegate import FaultCode, MsgType, Result, StartResult, StopReason
from sessions import STOP_COMMAND_REASONS, Phase, Reason, Tick
from sessions import StopReason as NeutralStop
from tests.gateway.conftest import ACCOUNT
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import phase

STOP_CHARGE_REASON_OFFSET = 7 + 17  # frame header 7 bytes, then gun (1) and transaction (16)


class StepClock:
    """The gateway's clock, moved by the test instead of by waiting."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now


def test_every_stop_the_machine_can_ask_for_has_a_protocol_reason() -> None:
    assert STOP_REASON_CODE.keys() == STOP_COMMAND_REASONS


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (Reason.START_TIMEOUT, StopReason.TIMEOUT),
        (Reason.MAX_DURATION, StopReason.TIMEOUT),
        (NeutralStop.OPERATOR, StopReason.REMOTE),
        (NeutralStop.USER, StopReason.USER),
    ],
)
def test_stop_reason_codes(reason: str, code: StopReason) -> None:
    assert STOP_REASON_CODE[reason] == code


async def test_the_stop_sent_at_the_start_timeout_carries_reason_timeout(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    clock = StepClock(gateway.now_ms())
    gateway.now_ms = clock
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.ok and phase(gateway) is Phase.STARTING

    # No START_RESULT: the start timeout passes on the gateway's clock; its timer fires.
    clock.now += int(gateway.config.sessions.start_timeout_s * 1000) + 1
    gateway.piles[PILE_ID].feed(1, Tick(), clock())
    assert phase(gateway) is Phase.CANCELLED

    stop = await pile.expect(MsgType.STOP_CHARGE)
    assert stop.message.transaction_id == result.transaction_id
    assert stop.message.reason == StopReason.TIMEOUT
    assert stop.raw[STOP_CHARGE_REASON_OFFSET] == 4  # TIMEOUT, §4.3


async def test_an_operator_stop_carries_reason_remote(gateway: Gateway, pile: ScriptedPile) -> None:
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    tx = result.transaction_id
    seq = pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, 0, 1_000_000))
    await pile.expect(MsgType.ACK, seq=seq)
    assert (await gateway.stop_charge(PILE_ID, 1)).ok
    stop = await pile.expect(MsgType.STOP_CHARGE)
    assert stop.raw[STOP_CHARGE_REASON_OFFSET] == 2  # REMOTE
