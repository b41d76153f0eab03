"""An OCPP transaction as the gateway's own bill.

An OCPP charger reports meter readings, never amounts or a time-of-use split, so the bill is
built from the transaction: the charger's times and meter readings (Wh -> 0.1 Wh), the end of
service when its connector went Available, and ``amounts_reported=False``, which tells
billing that the amounts and period energies are not the charger's (no amount-mismatch or
period-sum finding for figures it never sent). The settlement prices the energy by tariff
on the gateway's own split of the meter samples (MeterValues and transactionData).
"""

from __future__ import annotations

from billing.records import PileBill
from gateway.adapters.ocpp16.mapping import WH_TO_DWH, stop_reason_number
from gateway.storage.areas.ocpp import OcppTransaction


def bill_of(tx: OcppTransaction, *, channel: str, service_end_ms: int) -> PileBill:
    """The bill of a stopped transaction that opened a session (``tx.session_tx``)."""
    assert tx.session_tx is not None and tx.stop_ms is not None and tx.meter_stop_wh is not None
    start_dwh = tx.meter_start_wh * WH_TO_DWH
    stop_dwh = tx.meter_stop_wh * WH_TO_DWH
    return PileBill(
        transaction_id=tx.session_tx,
        gun=tx.connector_id,
        channel=channel,
        account=tx.account or "",
        authorised_ms=tx.start_ms,
        charge_start_ms=tx.start_ms,
        charge_end_ms=tx.stop_ms,
        service_end_ms=max(service_end_ms, tx.stop_ms),
        meter_start_dwh=start_dwh,
        meter_stop_dwh=stop_dwh,
        energy_dwh=stop_dwh - start_dwh,
        sharp_dwh=0,
        peak_dwh=0,
        flat_dwh=0,
        valley_dwh=0,
        energy_amount_fen=0,
        service_amount_fen=0,
        idle_fee_fen=0,
        total_amount_fen=0,
        stop_reason=stop_reason_number(tx.stop_reason),
        amounts_reported=False,
    )
