"""Billing tariffs <-> the protocol's SET_TARIFF message."""

from __future__ import annotations

from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from protocol import SetTariff, TariffKind, TariffPrice, TariffSegment, tariff_number

#: Wire order of SET_TARIFF prices and the TariffKind codes.
KINDS: tuple[tuple[TariffKind, PeriodKind], ...] = (
    (TariffKind.SHARP, PeriodKind.SHARP),
    (TariffKind.PEAK, PeriodKind.PEAK),
    (TariffKind.FLAT, PeriodKind.FLAT),
    (TariffKind.VALLEY, PeriodKind.VALLEY),
)
#: Reason prefix of a set_tariff refused before anything is sent: the tariff id already
#: names other prices (a tariff id is one definition, shared by the piles it is set on).
TARIFF_CONFLICT = "tariff_conflict"

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
