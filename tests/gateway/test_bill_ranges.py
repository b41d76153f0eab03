"""Every bill the codec can read is stored and acknowledged: BILL frames at both ends of
every field's range (protocol §6.10), through a real gateway on SQLite and PostgreSQL.

A u64 time or meter reading above 2^63 - 1 used to fail the insert; the pile got no BILL_ACK
and re-sent the bill forever. The bill row must hold the raw values the pile sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict

import pytest

from billing.anomalies import AnomalyCode
from gateway.app import Gateway
from protocol.pilegate import Bill, BillAckStatus, MsgType
from tests import reads
from tests.db import KINDS, fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile

U8, U32, U64 = 2**8 - 1, 2**32 - 1, 2**64 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
T0 = 1_735_700_400_000

PILE_FIELDS = (
    "gun", "account", "authorised_ms", "charge_start_ms", "charge_end_ms", "service_end_ms",
    "meter_start_dwh", "meter_stop_dwh", "energy_dwh", "sharp_dwh", "peak_dwh", "flat_dwh",
    "valley_dwh", "energy_amount_fen", "service_amount_fen", "idle_fee_fen",
    "total_amount_fen", "stop_reason",
)  # fmt: skip


def tx() -> str:
    return uuid.uuid4().hex


def lowest() -> Bill:
    """Every field at the bottom of its wire range (gun 1: the lowest real gun)."""
    return Bill(
        tx(), 1, 0, "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        I32_MIN, I32_MIN, I32_MIN, I32_MIN, 0, "",
    )  # fmt: skip


def highest() -> Bill:
    """Every field at the top of its wire range."""
    return Bill(
        tx(), U8, U8, "A" * 20, U64, U64, U64, U64, U64, U64, U32, U32, U32, U32, U32,
        I32_MAX, I32_MAX, I32_MAX, I32_MAX, U8, "V" * 17,
    )  # fmt: skip


def mixed() -> Bill:
    """Plausible start, impossible end: meters and times that wrap, far-future unplug."""
    return Bill(
        tx(), 2, 1, "13800000000", T0, T0 + 60_000, T0 + 120_000, U64,
        U64, 0, 2**31, 2**31, 0, 0, 0, 0, 0, I32_MAX, I32_MIN, 2,
    )  # fmt: skip


def int64_edge() -> Bill:
    """Both sides of the int64 boundary, where BIGINT used to end."""
    return Bill(
        tx(), 1, 1, "U1", 2**63 - 1, 2**63, 2**63 - 1, 2**63, 2**63 - 1, 2**63, 2**31 - 1,
        2**31 - 1, 0, 0, 0, 1, 1, 1, 3, 1,
    )  # fmt: skip


@pytest.fixture(params=KINDS)
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(request.param) as url:
        gw = await start_gateway(url, gateway_config())
        try:
            yield gw
        finally:
            await gw.stop(grace_s=2)


@pytest.mark.parametrize("make", [lowest, highest, mixed, int64_edge])
async def test_every_readable_bill_is_stored_with_its_raw_values_and_acknowledged(
    gateway: Gateway, make: object
) -> None:
    bill = make()  # type: ignore[operator]
    pile = ScriptedPile(guns=2)
    await pile.login(gateway.tcp_port)
    try:
        seq = pile.send(bill)
        ack = await pile.expect(MsgType.BILL_ACK, seq=seq, timeout=10)
    finally:
        await pile.close()
    assert ack.message.transaction_id == bill.transaction_id
    assert ack.message.status == BillAckStatus.FLAGGED  # impossible values are flagged
    row = await reads.find_bill(gateway.storage, PILE_ID, bill.transaction_id)
    assert row is not None
    sent = asdict(bill)
    assert {f: row[f] for f in PILE_FIELDS} == {f: sent[f] for f in PILE_FIELDS}
    assert row["status"] == "flagged"
    # Bits 1-11 of the ack are the operator's codes, the ones the bill row keeps (§4.10).
    assert ack.message.anomalies & 0xFFE == row["anomaly_mask"] != 0
    if max(bill.authorised_ms, bill.charge_end_ms, bill.service_end_ms) > T0 * 10:
        assert row["anomaly_mask"] & (1 << AnomalyCode.TIME)  # far in the future


async def test_a_resent_extreme_bill_is_a_duplicate_not_a_failure(gateway: Gateway) -> None:
    bill = highest()
    pile = ScriptedPile(guns=2)
    await pile.login(gateway.tcp_port)
    try:
        first = await pile.expect(MsgType.BILL_ACK, seq=pile.send(bill), timeout=10)
        again = await pile.expect(MsgType.BILL_ACK, seq=pile.send(bill), timeout=10)
    finally:
        await pile.close()
    assert first.message.status == BillAckStatus.FLAGGED
    assert again.message.status == BillAckStatus.DUPLICATE
    assert await reads.count_bills(gateway.storage, PILE_ID) == 1
    assert gateway.storage.stats.failed_batches == 0
