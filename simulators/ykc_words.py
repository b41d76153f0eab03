"""The pile model's words in YKC: pile and gun numbers, the billing model, real-time data, the
transaction record. Pure functions, exact integers (no floats in money).

Units line up: the pile model counts energy in 0.1 Wh (``_dwh``), which is YKC's 0.0001 kWh.
YKC prices are 0.00001 CNY/kWh (``_e5``), the pile model's 0.0001 CNY/kWh (``_e4``); YKC
amounts are 0.0001 CNY. A bill's period amount is ``energy_dwh x price_e5 / 100_000`` rounded
half up, priced with the billing model the platform gave (electricity + service per period),
and its total is the sum of the period amounts.

A YKC pile number has 14 digits: the simulated pile's number is the last 14 digits of its
20-digit id (register that number on the gateway).
"""

from __future__ import annotations

from typing import Any

from protocol.pilegate import messages as v1
from protocol.pilegate.codes import Channel, GunStatus, StopReason, TariffKind
from protocol.ykc import messages as ykc
from protocol.ykc.cp56 import CHINA, Cp56Time
from simulators.tariff import KINDS, PileTariff, div_round_half_up

NO_TRADE = "0" * 32
PERIODS = ("sharp", "peak", "flat", "valley")  # YKC's rate numbers 0..3, TariffKind 1..4
PRICE_E4_TO_E5 = 10

#: YKC stop reasons (§13.1): 0x40-0x49 normal ends, 0x4A-0x69 start failures, 0x6A-0x8F
#: abnormal stops, 0x90 unknown.
STOP_REASON = {
    StopReason.REMOTE: 0x40,
    StopReason.FULL: 0x41,
    StopReason.LIMIT_REACHED: 0x42,
    StopReason.USER: 0x45,
    StopReason.DEVICE_FAULT: 0x4A,
    StopReason.EMERGENCY_STOP: 0x6A,
    StopReason.UNPLUGGED: 0x6B,
    StopReason.EV_DISCONNECTED: 0x6C,
    StopReason.POWER_LOSS: 0x6D,
}
UNKNOWN_STOP = 0x90


def pile_number(pile_id: str) -> str:
    return pile_id[-14:].rjust(14, "0")


def gun_number(gun: int) -> str:
    return f"{gun:02d}"


def card_number(token: str) -> str:
    """A card or account as YKC's 16 hex digits: its digits, zero-padded on the left."""
    digits = "".join(c for c in token if c.isdigit())[-16:]
    return digits.rjust(16, "0")


def cp56(epoch_ms: int) -> Cp56Time:
    return Cp56Time.from_epoch_ms(epoch_ms, CHINA)


def stop_reason(reason: int) -> int:
    try:
        return STOP_REASON.get(StopReason(reason), UNKNOWN_STOP)
    except ValueError:
        return UNKNOWN_STOP


# --- billing model ------------------------------------------------------------------------


def model_of(tariff: PileTariff, model_id: str = "0000") -> ykc.BillingModel:
    """The billing model a pile's installed tariff amounts to (its 48 half hours)."""
    prices: dict[str, Any] = {}
    for name, (energy_e4, service_e4) in zip(PERIODS, tariff.prices, strict=True):
        prices[f"{name}_price_e5"] = energy_e4 * PRICE_E4_TO_E5
        prices[f"{name}_service_e5"] = service_e4 * PRICE_E4_TO_E5
    slots = tuple(KINDS.index(TariffKind(_kind_at_minute(tariff, 30 * i))) for i in range(48))
    return ykc.BillingModel(pile="0" * 14, model_id=model_id, loss_ratio=0, slots=slots, **prices)


def _kind_at_minute(tariff: PileTariff, minute: int) -> int:
    kind = tariff.segments[0][1]
    for start, k in tariff.segments:
        if start > minute:
            break
        kind = k
    return kind


def tariff_of(model: ykc.BillingModel, effective_from_ms: int) -> PileTariff:
    """The pile's tariff from a platform's billing model; prices to 0.0001 CNY/kWh (the pile
    model's unit, rounded half up: its bills are priced with the model itself, see ykc_bill)."""
    e5 = [(getattr(model, f"{p}_price_e5"), getattr(model, f"{p}_service_e5")) for p in PERIODS]
    prices = tuple(
        (div_round_half_up(e, PRICE_E4_TO_E5), div_round_half_up(s, PRICE_E4_TO_E5)) for e, s in e5
    )
    segments: list[tuple[int, int]] = []
    for i, rate in enumerate(model.slots):
        kind = KINDS[rate] if 0 <= rate < 4 else TariffKind.FLAT
        if not segments or segments[-1][1] != kind:
            segments.append((30 * i, kind))
    return PileTariff(int(model.model_id), effective_from_ms, prices, tuple(segments))


# --- real-time data -------------------------------------------------------------------------


def realtime_status(status: int) -> tuple[int, int]:
    """(YKC status, plugged) of a gun status: 0 offline, 1 fault, 2 idle, 3 charging."""
    if status == GunStatus.FAULTED:
        return 1, 0
    if status in (GunStatus.CHARGING, GunStatus.SUSPENDED_EV, GunStatus.SUSPENDED_EVSE):
        return 3, 1
    if status in (GunStatus.PREPARING, GunStatus.FINISHING):
        return 2, 1
    return 2, 0


# --- transaction record ---------------------------------------------------------------------


def period_amount_e4(energy_dwh: int, price_e5: int) -> int:
    return div_round_half_up(energy_dwh * price_e5, 100_000)


def ykc_bill(
    bill: v1.Bill,
    pile: str,
    model: ykc.BillingModel,
    *,
    version: int = 16,
    physical_card: str = "0" * 16,
) -> ykc.Bill | ykc.BillV17:
    """The transaction record of a pile model's bill: 0x3B, or 0x3D for a V1.7 pile."""
    energies = (bill.sharp_dwh, bill.peak_dwh, bill.flat_dwh, bill.valley_dwh)
    fields: dict[str, Any] = {}
    total_amount = 0
    for name, energy in zip(PERIODS, energies, strict=True):
        price = getattr(model, f"{name}_price_e5") + getattr(model, f"{name}_service_e5")
        amount = period_amount_e4(energy, price)
        fields[f"{name}_price_e5"] = price
        fields[f"{name}_energy_dwh"] = fields[f"{name}_loss_energy_dwh"] = energy
        fields[f"{name}_amount_e4"] = amount
        total_amount += amount
    remote = bill.channel in (Channel.OWN_APP, Channel.PARTNER_APP, Channel.OPERATOR)
    fields.update(
        trade_no=bill.transaction_id,
        pile=pile,
        gun=gun_number(bill.gun),
        start_time=cp56(bill.charge_start_ms),
        end_time=cp56(max(bill.charge_end_ms, bill.charge_start_ms)),
        meter_start_dwh=bill.meter_start_dwh,
        meter_end_dwh=bill.meter_stop_dwh,
        total_energy_dwh=bill.energy_dwh,
        total_loss_energy_dwh=bill.energy_dwh,  # no loss ratio
        total_amount_e4=total_amount,
        vin=bill.vin,
        trade_flag=1 if remote else 2,  # 1 app, 2 card
        trade_time=cp56(bill.service_end_ms),
        stop_reason=stop_reason(bill.stop_reason),
        physical_card=physical_card,
    )
    if version >= ykc.Version.V1_7:  # no signed meter reading: a simulated meter has none
        return ykc.BillV17(
            meter_number="0" * 12, meter_ciphertext="00" * 34, meter_protocol_version=0,
            meter_encryption=0, **fields,
        )  # fmt: skip
    return ykc.Bill(**fields)
