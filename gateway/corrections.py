"""An operator's correction of a bill (field case 12), the one path for the CLI and the admin
API: refuse an implausible figure unless forced, store the correction with its audit row,
count the refund from the base the operator chose, and publish `bill_corrected` through the
outbox (money changed hands: never lost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from billing.correction import implausible_correction
from gateway.northbound.corrections import KIND, correction_event, correction_payload
from gateway.storage import Storage, queries
from protocol.error_root import PilegateError

RefundFrom = Literal["pile", "pilegate"]

__all__ = ["KIND", "Corrected", "CorrectionRefused", "RefundFrom", "UnknownBill", "correct_bill"]


class CorrectionRefused(PilegateError, ValueError):
    """The corrected figure is not believable; nothing was stored."""


class UnknownBill(PilegateError, LookupError):
    """No bill with that id."""


@dataclass(frozen=True, slots=True)
class Corrected:
    pile_id: str
    pile_charged_fen: int  # what the driver was charged before this correction
    payload: dict[str, Any]  # the bill_corrected event's fields


async def correct_bill(
    storage: Storage,
    bill_id: str,
    energy_dwh: int,
    *,
    reason: str,
    who: str,
    at_ms: int,
    refund_from: RefundFrom = "pilegate",
    force: bool = False,
    max_power_kw: int,
    publish: bool,
) -> Corrected:
    """Correct the bill's energy; raises UnknownBill, CorrectionRefused (unless force)."""
    from gateway.storage.bills import BillNotFound

    reason = reason.strip()
    if not reason:
        raise CorrectionRefused("a correction needs a reason")
    bill = await queries.get_bill(storage.reader, bill_id)
    if bill is None:
        raise UnknownBill(bill_id)
    charge_ms = max(0, (bill["charge_end_ms"] or 0) - (bill["charge_start_ms"] or 0))
    why = implausible_correction(bill["energy_dwh"], energy_dwh, charge_ms, max_power_kw)
    if why and not force:
        raise CorrectionRefused(f"refused: {why}; check the figure (kWh, not Wh?) or force it")
    # What the driver was charged: the pile's energy + service amounts, until a correction
    # replaced them (then both bases are that correction's total).
    first = not bill["corrections"]
    pile_charged = bill["energy_amount_fen"] + bill["service_amount_fen"]
    base = pile_charged if refund_from == "pile" and first else None
    try:
        c = await storage.correct_bill(
            bill_id, energy_dwh, reason, who, at_ms, refund_base_fen=base
        )
    except BillNotFound:
        raise UnknownBill(bill_id) from None
    ours = c.original_total_fen - c.corrected_total_fen
    theirs = pile_charged - c.corrected_total_fen if first else ours
    payload = correction_payload(
        c, who=who, reason=reason, refund_from=refund_from,
        pile_refund_fen=theirs, pilegate_refund_fen=ours,
    )  # fmt: skip
    if publish:  # the gateway's bridge publishes it from the outbox
        storage.publish(*correction_event(bill["pile_id"], payload, at_ms), at_ms=at_ms)
    return Corrected(bill["pile_id"], pile_charged, payload)
