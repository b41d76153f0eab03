"""pilegate's tariff as a YKC billing model (0x0A, 0x58), and back: pure, exact, no floats.

A YKC model has one electricity and one service price per period kind (sharp, peak, flat,
valley: rate numbers 0-3) in 0.00001 CNY/kWh, and 48 rate numbers, one per half hour of the
pile's local day from 00:00. pilegate's tariffs price in 0.0001 CNY/kWh, so a price goes to
the pile times 10, exactly. A tariff whose periods change other than on a half hour (in the
pile's zone) cannot be expressed: `ModelNotExpressible`, and the pile is not given a model
that would bill differently from pilegate.

The model id (4 BCD digits) is derived from the definition itself (prices, slots), so every
gateway instance, before and after a restart, gives a tariff the same id and a pile whose id
matches holds exactly that model. Two definitions share an id with odds of about 1 in 9,999;
the only effect is that a pile keeps its previous model until the next 0x58.
"""

from __future__ import annotations

from dataclasses import dataclass

import anycrc

from billing.tariff import (
    MINUTES_PER_DAY,
    PeriodKind,
    PeriodPrice,
    ScopeKind,
    Segment,
    Tariff,
    TariffError,
)

SLOT_MINUTES = 30
SLOTS = MINUTES_PER_DAY // SLOT_MINUTES  # 48
E4_TO_E5 = 10
CHINA_OFFSET_MINUTES = 480

#: YKC rate number of each period kind, and the order of the prices in the frame.
RATE_NUMBER: dict[PeriodKind, int] = {
    PeriodKind.SHARP: 0,
    PeriodKind.PEAK: 1,
    PeriodKind.FLAT: 2,
    PeriodKind.VALLEY: 3,
}
KIND_OF_RATE = {number: kind for kind, number in RATE_NUMBER.items()}
_crc = anycrc.Model("CRC16-MODBUS").calc


class ModelNotExpressible(TariffError):
    """The tariff cannot be put into a YKC billing model without changing what it bills."""


@dataclass(frozen=True, slots=True)
class BillingModelFields:
    """The body of 0x0A / 0x58 after the pile number (protocol.ykc.messages.BillingModel)."""

    model_id: str
    prices_e5: tuple[tuple[int, int], ...]  # (electricity, service) for rate numbers 0..3
    slots: tuple[int, ...]  # 48 rate numbers, 00:00-00:30 first

    def message_fields(self) -> dict[str, object]:
        """Keyword arguments for ModelReply / SetModel (with pile=...)."""
        (sp, ss), (pp, ps), (fp, fs), (vp, vs) = self.prices_e5
        return {
            "model_id": self.model_id,
            "sharp_price_e5": sp,
            "sharp_service_e5": ss,
            "peak_price_e5": pp,
            "peak_service_e5": ps,
            "flat_price_e5": fp,
            "flat_service_e5": fs,
            "valley_price_e5": vp,
            "valley_service_e5": vs,
            "loss_ratio": 0,  # YKC platforms bill no line loss
            "slots": self.slots,
        }


def billing_model(
    tariff: Tariff, pile_offset_minutes: int = CHINA_OFFSET_MINUTES
) -> BillingModelFields:
    """The YKC model of ``tariff`` for a pile keeping local time at UTC+pile_offset_minutes."""
    prices = tuple(
        (tariff.price(kind).energy_e4 * E4_TO_E5, tariff.price(kind).service_e4 * E4_TO_E5)
        for kind in sorted(RATE_NUMBER, key=RATE_NUMBER.__getitem__)
    )
    slots = tuple(RATE_NUMBER[kind] for kind in _slot_kinds(tariff, pile_offset_minutes))
    return BillingModelFields(model_id(prices, slots), prices, slots)


def _slot_kinds(tariff: Tariff, pile_offset_minutes: int) -> list[PeriodKind]:
    shift = pile_offset_minutes - tariff.utc_offset_minutes  # tariff minute = pile minute - shift
    for segment in tariff.segments:
        if (segment.start_minute + shift) % SLOT_MINUTES:
            hh, mm = divmod(segment.start_minute, 60)
            raise ModelNotExpressible(
                f"tariff {tariff.tariff_id}: a period starts at {hh:02d}:{mm:02d}, "
                "not on a half hour of the pile's day"
            )
    starts = [s.start_minute for s in tariff.segments]
    kinds = []
    for slot in range(SLOTS):
        minute = (slot * SLOT_MINUTES - shift) % MINUTES_PER_DAY
        index = max(i for i, start in enumerate(starts) if start <= minute)
        kinds.append(tariff.segments[index].kind)
    return kinds


def model_id(prices_e5: tuple[tuple[int, int], ...], slots: tuple[int, ...]) -> str:
    """Four decimal digits, 0001-9999, from the definition (never 0000: a pile's "no model")."""
    data = b"".join(p.to_bytes(4, "little") for pair in prices_e5 for p in pair) + bytes(slots)
    return f"{_crc(data) % 9999 + 1:04d}"


def tariff_of_model(
    prices_e5: tuple[tuple[int, int], ...],
    slots: tuple[int, ...],
    *,
    tariff_id: str,
    pile_offset_minutes: int = CHINA_OFFSET_MINUTES,
) -> Tariff:
    """The pilegate tariff a YKC model describes (what a pile holds, read back). Raises
    ModelNotExpressible for a price with a 0.00001 digit or a rate number outside 0-3."""
    if len(slots) != SLOTS or any(s not in KIND_OF_RATE for s in slots):
        raise ModelNotExpressible(f"expected {SLOTS} rate numbers 0-3, got {slots!r}")
    prices = {}
    for number, (energy, service) in enumerate(prices_e5):
        if energy % E4_TO_E5 or service % E4_TO_E5:
            raise ModelNotExpressible(f"rate {number}: price below 0.0001 CNY/kWh")
        prices[KIND_OF_RATE[number]] = PeriodPrice(energy // E4_TO_E5, service // E4_TO_E5)
    segments: list[Segment] = []
    for slot, number in enumerate(slots):
        kind = KIND_OF_RATE[number]
        if not segments or segments[-1].kind is not kind:
            segments.append(Segment(slot * SLOT_MINUTES, kind))
    return Tariff(tariff_id, ScopeKind.PILE, "", 0, prices, tuple(segments), pile_offset_minutes)
