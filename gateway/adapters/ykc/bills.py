"""A YKC transaction record (0x3B V1.5/V1.6, 0x3D V1.7) as `billing.records.PileBill`.

Units: YKC's energy unit (0.0001 kWh) is pilegate's dWh (0.1 Wh), so energies and meter
readings pass unchanged. Amounts are 0.0001 CNY on the wire and fen in pilegate: each is
rounded half-up to the fen once (the raw values stay in the frame journal). A YKC bill prices
each period at electricity + service together and does not split the amount. pilegate's
bill has an energy and a service amount, so each period's amount is split in the ratio of the
electricity and service prices of the billing model the gateway gave the pile (its
``prices_e5``); without a model the whole amount is energy. YKC has no idle fee.

Times are the pile's local wall clock (CP56Time2a) read in its zone. YKC bills carry no
authorisation or unplug time: authorisation is the gateway's own (the session's, when the
trade number names one) or else the start, and the pile's end of service is the bill's trade
time (the moment the pile closed the order; the end of charging when it is missing or
earlier). So a bill a pile closes hours after a failed start claims those hours as idle, as
field case 1's did, and pilegate's validation sees it (code 6) and caps the idle time at the
gateway's own end.
"""

from __future__ import annotations

from datetime import tzinfo

from billing.money import div_round_half_up
from billing.records import PileBill
from gateway.adapters.ykc.codes import trade_channel
from protocol.ykc import CHINA, Bill, BillV17, Cp56Time

E4_PER_FEN = 100
NO_CARD = "0" * 16


def fen(amount_e4: int) -> int:
    return div_round_half_up(amount_e4, E4_PER_FEN)


def _ms(time: Cp56Time | None, tz: tzinfo) -> int:
    """Epoch ms, or 0 for a missing or impossible time (validation flags it, code 3)."""
    if time is None:
        return 0
    return time.epoch_ms(tz) or 0


def pile_bill(
    bill: Bill | BillV17,
    *,
    tz: tzinfo = CHINA,
    account: str | None = None,
    authorised_ms: int | None = None,
    model_prices_e5: tuple[tuple[int, int], ...] | None = None,
) -> PileBill:
    """The pile's bill in pilegate's terms. ``account`` and ``authorised_ms`` come from the
    gateway's session of this trade number when there is one; otherwise the account is the
    card (or VIN) the pile names. ``model_prices_e5``: (electricity, service) per rate number
    of the pile's billing model, to split the amounts."""
    start = _ms(bill.start_time, tz)
    end = _ms(bill.end_time, tz)
    closed = max(end, _ms(bill.trade_time, tz))
    total = fen(bill.total_amount_e4)
    energy_amount = fen(_energy_part_e4(bill, model_prices_e5)) if model_prices_e5 else total
    return PileBill(
        transaction_id=bill.trade_no,
        gun=gun_number(bill.gun) or 0,
        channel=trade_channel(bill.trade_flag),
        account=account or _pile_account(bill),
        authorised_ms=authorised_ms if authorised_ms is not None else start,
        charge_start_ms=start,
        charge_end_ms=end,
        service_end_ms=closed,
        meter_start_dwh=bill.meter_start_dwh,
        meter_stop_dwh=bill.meter_end_dwh,
        energy_dwh=bill.total_energy_dwh,
        sharp_dwh=bill.sharp_energy_dwh,
        peak_dwh=bill.peak_energy_dwh,
        flat_dwh=bill.flat_energy_dwh,
        valley_dwh=bill.valley_energy_dwh,
        energy_amount_fen=energy_amount,
        service_amount_fen=total - energy_amount,
        idle_fee_fen=0,
        total_amount_fen=total,
        stop_reason=bill.stop_reason,
        vin=bill.vin or None,
    )


def _energy_part_e4(bill: Bill | BillV17, prices_e5: tuple[tuple[int, int], ...]) -> int:
    """The electricity share of the bill's amount: each period's amount split by the model's
    electricity : service prices (rate numbers 0..3 = sharp, peak, flat, valley)."""
    amounts = (
        bill.sharp_amount_e4,
        bill.peak_amount_e4,
        bill.flat_amount_e4,
        bill.valley_amount_e4,
    )
    part = 0
    for amount, (electricity, service) in zip(amounts, prices_e5, strict=False):
        price = electricity + service
        part += div_round_half_up(amount * electricity, price) if price else amount
    return min(part, bill.total_amount_e4)


def _pile_account(bill: Bill | BillV17) -> str:
    if bill.physical_card and bill.physical_card != NO_CARD:
        return bill.physical_card
    return bill.vin or ""


def gun_number(gun: str) -> int | None:
    """A BCD gun number ("01") as an int; None when it is not decimal."""
    return int(gun) if gun.isdigit() else None


def gun_code(gun: int) -> str:
    return f"{gun:02d}"
