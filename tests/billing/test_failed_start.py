"""Field case 1 as protocol §6.6 / §8.2 specify it, end to end with an injected clock.

The start fails with a control-board fault (START_RESULT DEVICE_FAULT) and the pile sends no
LOGOUT. The service ends at the gateway's time of the failure; ten hours later the pile
uploads its bill with "service end" = upload time and a four-hour-plus idle fee. The bill
is stored and FLAGGED with the documented bits, and no idle fee is billed past the
gateway's end (none at all: the start failed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing.idle_fee import IdleFeeRule
from gateway.app import Gateway
from gateway.logs import configure_logging
from gateway.storage import Storage
from protocol.pilegate import (
    AnomalyBit,
    BillAckStatus,
    Channel,
    FaultCode,
    MsgType,
    Result,
    StopReason,
)
from protocol.pilegate.messages import Bill, StartResult
from sessions import Phase
from tests import reads
from tests.db import fresh_database
from tests.gateway.conftest import ACCOUNT, gateway_config
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import phase, wait_for

G0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC: authorisation
FAILED_AT = G0 + 60_000  # the START_RESULT DEVICE_FAULT arrives one minute later
UPLOAD = G0 + 10 * 3_600_000  # the bill, ten hours later
H = 3_600_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Gateway, ScriptedPile, Clock]]:
    configure_logging("debug")
    async with fresh_database("sqlite") as url:
        storage = await Storage.open(url, upgrade=False, flush_ms=2.0)
        await storage.add_station("S1", "depot")
        await storage.register_pile(PILE_ID, station_id="S1", model="DC120", gun_count=2)
        await storage.add_account(ACCOUNT, balance_fen=50_000)
        # 0.50 CNY a minute after 15 minutes: ten hours would be 292.50 CNY.
        await storage.put_idle_rule("S1", IdleFeeRule(15, 50, None))
        clock = Clock(G0)
        gw = Gateway(gateway_config(), storage, clock=clock)
        await gw.start()
        pile = ScriptedPile()
        try:
            await pile.login(gw.tcp_port)
            await pile.heartbeat()
            yield gw, pile, clock
        finally:
            await pile.close()
            await gw.stop(grace_s=2)


async def test_failed_start_without_logout_then_a_bill_ten_hours_late(
    setup: tuple[Gateway, ScriptedPile, Clock],
) -> None:
    gw, pile, clock = setup
    result = await gw.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    tx = result.transaction_id
    assert result.ok and tx is not None

    clock.now = FAILED_AT
    pile.send(StartResult(1, tx, Result.DEVICE_FAULT, FaultCode.DEVICE_FAULT, FAILED_AT, 1_000))
    await wait_for(lambda: phase(gw) is Phase.FAILED)
    session = gw.piles[PILE_ID].guns[1].session
    # §6.6: a failed start ends the service without a LOGOUT
    assert session is not None and session.gateway_service_end_ms == FAILED_AT

    clock.now = UPLOAD  # no LOGOUT ever came; the bill does, with service end = upload time
    late = Bill(
        tx, 1, Channel.OWN_APP, ACCOUNT, G0, FAILED_AT, FAILED_AT, UPLOAD,
        1_000, 1_000, 0, 0, 0, 0, 0,
        0, 0, 14_250, 14_250, StopReason.DEVICE_FAULT, "",
    )  # fmt: skip
    seq = pile.send(late)
    ack = (await pile.expect(MsgType.BILL_ACK, seq=seq)).message
    bits = {b for b in AnomalyBit if ack.anomalies & (1 << b)}
    assert ack.status == BillAckStatus.FLAGGED
    assert bits == {
        AnomalyBit.IDLE_DURATION,  # service end 10 h after the gateway's end (> 2 min)
        AnomalyBit.AMOUNT_MISMATCH,  # the pile's idle fee; ours is 0
        AnomalyBit.START_FAILED,
        AnomalyBit.LATE_BILL,
    }
    assert ack.anomalies == 0x01210040  # the value §8.2 documents for this flow

    await gw.storage.flush()
    stored = await reads.find_bill(gw.storage, PILE_ID, tx)
    assert stored is not None  # stored, never dropped
    assert stored["service_end_ms"] == UPLOAD  # the pile's figure, kept as uploaded
    assert stored["idle_fee_fen"] == 14_250 and stored["our_idle_fee_fen"] == 0
    assert stored["idle_waived"] == "start failed" and stored["our_total_fen"] == 0
    assert {"session_failed", "late_bill"} <= set(stored["flags"].strip('[]"').split('","'))
    settled = gw.piles[PILE_ID].guns[1].sessions()
    ended = next(s for s in settled if s.transaction_id == tx)
    assert ended.phase is Phase.SETTLED and ended.gateway_service_end_ms == FAILED_AT
