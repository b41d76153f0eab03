"""The `bill_corrected` event: an operator's correction of a bill, for MQTT subscribers and
the log (docs/mqtt.md). Money changed hands, so it is published like a bill: through the
outbox, never lost."""

from __future__ import annotations

from typing import Any

KIND = "bill_corrected"


def correction_payload(
    correction: Any,
    *,
    who: str,
    reason: str,
    refund_from: str,
    pile_refund_fen: int | None,
    pilegate_refund_fen: int,
) -> dict[str, Any]:
    """The event's fields (besides kind, pile_id, at_ms): both refunds and the one chosen."""
    return {
        "bill_id": correction.bill_id,
        "correction_id": correction.correction_id,
        "tariff_id": correction.tariff_id,
        "who": who,
        "reason": reason,
        "original_energy_dwh": correction.original_energy_dwh,
        "corrected_energy_dwh": correction.corrected_energy_dwh,
        "original_total_fen": correction.original_total_fen,
        "corrected_total_fen": correction.corrected_total_fen,
        "refund_fen": correction.refund_fen,
        "refund_from": refund_from,
        "pile_refund_fen": pile_refund_fen,
        "pilegate_refund_fen": pilegate_refund_fen,
    }


def correction_event(pile_id: str, payload: dict[str, Any], at_ms: int) -> tuple[str, dict]:
    """(topic, body) on pilegate/v1/events/{pile_id}/bill_corrected."""
    body = {"kind": KIND, "pile_id": pile_id, "at_ms": at_ms, **payload}
    return f"pilegate/v1/events/{pile_id}/{KIND}", body
