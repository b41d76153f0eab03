"""BILL_ACK: every reason for FLAGGED is a bit the pile can read (issue 11)."""

from __future__ import annotations

import pytest

from billing.ack import FLAG_BITS, BillFlag, bill_ack, finding_bit
from billing.anomalies import AnomalyCode, Finding, FindingKind
from gateway.app import Gateway
from protocol.pilegate import AnomalyBit, BillAckStatus, MsgType, Result, StopReason
from protocol.pilegate.messages import Logout, StartResult, StopResult
from sessions import Flag
from tests.gateway.conftest import db_url, gateway, pile  # noqa: F401
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for

MISMATCH = Finding(FindingKind.AMOUNT_MISMATCH, "energy amount: pile 742 fen, ours: 700 fen")


def test_every_finding_and_flag_has_a_bit_of_its_own() -> None:
    for kind in FindingKind:
        if kind is not FindingKind.ANOMALY:
            assert finding_bit(Finding(kind, "x")) is not AnomalyBit.OTHER, kind
    for code in AnomalyCode:
        assert finding_bit(Finding.anomaly(code, "x")) == int(code)  # bit n = code n
    for flag in [*Flag, *BillFlag]:
        assert flag.value in FLAG_BITS, flag


@pytest.mark.parametrize(
    ("findings", "flags", "bits"),
    [
        ([MISMATCH], [], {AnomalyBit.AMOUNT_MISMATCH}),
        ([], [Flag.LATE_START.value], {AnomalyBit.LATE_START}),
        ([MISMATCH], [Flag.LATE_START.value], {AnomalyBit.AMOUNT_MISMATCH, AnomalyBit.LATE_START}),
        ([], ["unknown_session"], {AnomalyBit.UNKNOWN_SESSION}),
        ([], ["a_flag_from_a_newer_gateway"], {AnomalyBit.OTHER}),
        ([Finding.anomaly(AnomalyCode.ENERGY_DIFFERS, "x")], [], {8}),
    ],
)
def test_flagged_always_carries_its_reasons(
    findings: list[Finding], flags: list[str], bits: set[int]
) -> None:
    status, mask = bill_ack(False, findings, flags)
    assert status == BillAckStatus.FLAGGED
    assert mask == sum(1 << b for b in bits)


def test_no_reason_is_accepted_with_mask_0_and_duplicates_keep_their_reasons() -> None:
    assert bill_ack(False, [], []) == (BillAckStatus.ACCEPTED, 0)
    assert bill_ack(True, [MISMATCH], []) == (BillAckStatus.DUPLICATE, 1 << 16)


async def test_amount_mismatch_reaches_the_pile_as_a_bit(
    gateway: Gateway,  # noqa: F811
    pile: ScriptedPile,  # noqa: F811
) -> None:
    """The field report: FLAGGED with anomaly mask 0 for a bill whose amounts differ."""
    await pile.heartbeat()
    result = await gateway.start_charge(PILE_ID, 1, "13800000000", "own_app")
    tx = result.transaction_id
    assert tx is not None
    pile.send(StartResult(1, tx, Result.OK, 0, T0, 1_000_000))
    pile.send(StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
    pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
    await pile.expect(MsgType.ACK, seq=pile.seq)
    wrong = bill_for(tx)
    wrong.energy_amount_fen += 500  # the default tariff does not give these amounts
    wrong.total_amount_fen += 500
    seq = pile.send(wrong)
    ack = (await pile.expect(MsgType.BILL_ACK, seq=seq)).message
    assert ack.status == BillAckStatus.FLAGGED
    assert ack.anomalies != 0 and ack.anomalies & (1 << AnomalyBit.AMOUNT_MISMATCH)
