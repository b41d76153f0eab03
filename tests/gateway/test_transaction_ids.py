"""Transaction ids are UUIDv7 (RFC 9562), as docs/protocol.md §3.6 says (pilegate issue 11)."""

from __future__ import annotations

import uuid

from gateway.app import Gateway
from gateway.transaction_ids import TransactionIds
from protocol.pilegate import MsgType
from tests.gateway.conftest import ACCOUNT
from tests.gateway.piles import PILE_ID, ScriptedPile

T0 = 1_735_700_400_000  # 2025-01-01 03:00 UTC


def fields(tx: str) -> tuple[int, int, int]:
    """(ms time, version, variant bits) of a 32-hex-digit id."""
    value = int(tx, 16)
    return value >> 80, (value >> 76) & 0xF, (value >> 62) & 0b11


def test_version_7_variant_10_and_the_time_in_the_first_48_bits() -> None:
    ids = TransactionIds()
    for i in range(1_000):
        tx = ids.new(T0 + i)
        assert len(tx) == 32 and tx == tx.lower()
        assert fields(tx) == (T0 + i, 7, 0b10)
        parsed = uuid.UUID(hex=tx)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_sort_by_time_and_within_one_millisecond_by_creation() -> None:
    ids = TransactionIds()
    made = [ids.new(T0) for _ in range(100)] + [ids.new(T0 + 1) for _ in range(100)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {fields(tx)[0] for tx in made[:100]} == {T0}


def test_more_ids_in_a_millisecond_than_the_counter_holds_stay_ordered() -> None:
    ids = TransactionIds()
    made = [ids.new(T0) for _ in range(10_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(fields(tx)[1:] == (7, 0b10) for tx in made)
    assert fields(made[0])[0] == T0 and fields(made[-1])[0] > T0  # borrowed the next ms
    assert ids.new(T0 + 1_000) > made[-1]


def test_a_clock_stepping_back_never_makes_an_older_id() -> None:
    ids = TransactionIds()
    first = ids.new(T0)
    assert ids.new(T0 - 5_000) > first


async def test_each_gateway_has_its_own_generator_on_its_own_clock(gateway: Gateway) -> None:
    # A gateway on a clock far ahead (a test's fake clock) must not push another's ids ahead.
    ahead = TransactionIds()
    ahead.new(T0 + 10**9)
    first = gateway.transaction_ids.new(gateway.now_ms())
    assert gateway.transaction_ids.new(gateway.now_ms()) > first
    assert fields(first)[0] <= gateway.now_ms()


def test_two_gateways_at_the_same_millisecond_do_not_collide() -> None:
    a, b = TransactionIds(), TransactionIds()
    made = [g.new(T0) for _ in range(2_000) for g in (a, b)]
    assert len(set(made)) == len(made)


async def test_the_gateway_sends_uuid7_transaction_ids(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    before = gateway.now_ms()
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.ok and result.transaction_id is not None
    sent = (await pile.expect(MsgType.START_CHARGE)).message.transaction_id
    assert sent == result.transaction_id
    ms, version, variant = fields(sent)
    assert (version, variant) == (7, 0b10) and before <= ms <= gateway.now_ms()
