"""YKC's operating rules replace the gateway's limits for a YKC pile's guns only."""

from __future__ import annotations

import pytest

from gateway.adapters.ykc.rules import YkcRules
from gateway.adapters.ykc.trade import TradeNumbers, is_idle_trade
from sessions import SessionConfig


def test_ykc_limits_replace_the_gateways_and_keep_the_rest() -> None:
    base = SessionConfig(offline_timeout_ms=3_600_000)
    config = YkcRules().session_config(base)
    assert config.start_timeout_ms == 90_000
    assert config.bill_wait_ms == 30_000
    assert config.offline_timeout_ms == 3_600_000
    assert base.start_timeout_ms == 300_000  # v1 piles keep five minutes


def test_rules_are_configurable_and_checked() -> None:
    assert YkcRules(start_confirm_s=60).session_config(SessionConfig()).start_timeout_ms == 60_000
    with pytest.raises(ValueError):
        YkcRules(idle_frames_end_charge=0)


def test_trade_numbers_follow_the_ykc_layout() -> None:
    numbers = TradeNumbers()
    one = numbers.new("32010600019236", 2, 1_700_000_000_000)  # 2023-11-15 06:13:20 China
    two = numbers.new("32010600019236", 2, 1_700_000_000_000)
    assert one[:16] == "3201060001923602" and one[16:28] == "231115061320"
    assert len(one) == 32 and one.isdigit() and one != two
    assert is_idle_trade("0" * 32) and not is_idle_trade(one)
