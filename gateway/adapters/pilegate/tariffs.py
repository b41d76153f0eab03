"""Billing tariffs and idle-fee rules <-> protocol v1's SET_TARIFF and SET_IDLE_FEE."""

from __future__ import annotations

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from protocol.pilegate import (
    SetIdleFee,
    SetTariff,
    TariffKind,
    TariffPrice,
    TariffSegment,
    tariff_number,
)
from protocol.pilegate.messages import IDLE_FEE_UNCAPPED

#: Wire order of SET_TARIFF prices and the TariffKind codes.
KINDS: tuple[tuple[TariffKind, PeriodKind], ...] = (
    (TariffKind.SHARP, PeriodKind.SHARP),
    (TariffKind.PEAK, PeriodKind.PEAK),
    (TariffKind.FLAT, PeriodKind.FLAT),
    (TariffKind.VALLEY, PeriodKind.VALLEY),
)
_TO_PERIOD = dict(KINDS)
_TO_WIRE = {period: wire for wire, period in KINDS}


def tariff_message(tariff: Tariff) -> SetTariff:
    prices = tuple(
        TariffPrice(tariff.prices[period].energy_e4, tariff.prices[period].service_e4)
        for _, period in KINDS
    )
    segments = tuple(TariffSegment(s.start_minute, _TO_WIRE[s.kind]) for s in tariff.segments)
    return SetTariff(tariff_number(tariff.tariff_id), tariff.effective_from_ms, prices, segments)


def tariff_from_message(
    message: SetTariff, tariff_id: str, scope_kind: ScopeKind, scope_id: str
) -> Tariff:
    prices = {
        period: PeriodPrice(p.energy_price_e4, p.service_fee_e4)
        for (_, period), p in zip(KINDS, message.prices, strict=True)
    }
    segments = tuple(
        Segment(s.start_minute, _TO_PERIOD[TariffKind(s.kind)]) for s in message.segments
    )
    return Tariff(tariff_id, scope_kind, scope_id, message.effective_from_ms, prices, segments)


def idle_fee_message(rule: IdleFeeRule) -> SetIdleFee:
    cap = IDLE_FEE_UNCAPPED if rule.cap_fen is None else min(rule.cap_fen, IDLE_FEE_UNCAPPED - 1)
    return SetIdleFee(rule.grace_minutes, rule.rate_fen_per_minute, cap)


def idle_rule_from_message(message: SetIdleFee) -> IdleFeeRule:
    cap = None if message.cap_fen == IDLE_FEE_UNCAPPED else message.cap_fen
    return IdleFeeRule(message.grace_minutes, message.rate_fen_per_minute, cap)
