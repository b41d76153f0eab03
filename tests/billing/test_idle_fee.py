from __future__ import annotations

import pytest

from billing.idle_fee import IdleFee, IdleFeeRule, compute_idle_fee
from tests.billing.fixtures import IDLE_RULE, at

END = at(1, 10)


def fee(service_end: int, **kw: object) -> IdleFee:
    return compute_idle_fee(IDLE_RULE, charge_end_ms=END, pile_service_end_ms=service_end, **kw)


def test_within_grace_is_free() -> None:
    assert fee(at(1, 10, 14, 59)).fee_fen == 0
    assert fee(END - 60_000).fee_fen == 0  # service end before charge end: never negative


def test_whole_minutes_after_grace() -> None:
    f = fee(at(1, 10, 25, 30))  # 25.5 min idle, 10 whole minutes past grace
    assert (f.fee_fen, f.billable_minutes, f.idle_ms, f.capped) == (500, 10, 1_530_000, False)


def test_cap() -> None:
    f = fee(at(1, 15))
    assert (f.fee_fen, f.billable_minutes, f.capped) == (3_000, 285, True)
    uncapped = IdleFeeRule(grace_minutes=0, rate_fen_per_minute=10)
    fee_fen = compute_idle_fee(uncapped, charge_end_ms=END, pile_service_end_ms=at(1, 15)).fee_fen
    assert fee_fen == 3_000


def test_start_failed_and_cancelled_are_free() -> None:
    assert fee(at(1, 20), start_failed=True) == IdleFee(0, 0, 0, waived="start failed")
    assert fee(at(1, 20), cancelled=True).fee_fen == 0


def test_clamped_to_gateway_end() -> None:
    f = fee(at(1, 20), gateway_service_end_ms=at(1, 10, 40))
    assert (f.fee_fen, f.idle_ms, f.clamped) == (1_250, 2_400_000, True)
    assert not fee(at(1, 10, 40), gateway_service_end_ms=at(1, 11)).clamped


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        IdleFeeRule(grace_minutes=-1, rate_fen_per_minute=1)
    with pytest.raises(ValueError):
        IdleFeeRule(grace_minutes=0, rate_fen_per_minute=1, cap_fen=-1)
