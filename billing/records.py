"""Inputs to reconciliation: the pile's bill and the gateway's own observation."""

from __future__ import annotations

from dataclasses import dataclass

from billing.tariff import PeriodKind


@dataclass(frozen=True, slots=True)
class PileBill:
    """A bill as uploaded by the pile, in project units (ms, dwh, fen).

    Every field is the pile's, named as in the BILL frame: `service_end_ms` here is the pile's
    end of service (`pile_service_end_ms` wherever it sits beside the gateway's own)."""

    transaction_id: str
    gun: int
    channel: str
    account: str
    authorised_ms: int
    charge_start_ms: int
    charge_end_ms: int
    service_end_ms: int
    meter_start_dwh: int
    meter_stop_dwh: int
    energy_dwh: int
    sharp_dwh: int
    peak_dwh: int
    flat_dwh: int
    valley_dwh: int
    energy_amount_fen: int
    service_amount_fen: int
    idle_fee_fen: int
    total_amount_fen: int
    stop_reason: int
    vin: str | None = None
    # False: the pile reports meter readings only (OCPP), so the amounts and period energies
    # above are not its own and are neither validated nor compared with ours.
    amounts_reported: bool = True

    def energy_by_kind(self) -> dict[PeriodKind, int]:
        return {
            PeriodKind.SHARP: self.sharp_dwh,
            PeriodKind.PEAK: self.peak_dwh,
            PeriodKind.FLAT: self.flat_dwh,
            PeriodKind.VALLEY: self.valley_dwh,
        }


@dataclass(frozen=True, slots=True)
class GatewayObservation:
    """What the gateway saw itself; None means it does not know."""

    charge_start_ms: int | None = None  # first confirmed "charging" status
    charge_end_ms: int | None = None  # charging confirmed ended
    energy_dwh: int | None = None  # from the gateway's meter readings
    idle_ms: int | None = None  # from status and logout
    gateway_service_end_ms: int | None = None  # the gateway's end (logout, cancel, timeout)
    cancelled: bool = False  # the gateway cancelled the service
    start_failed: bool = False
    overlapping_transaction_ids: tuple[str, ...] = ()  # same account, overlapping in time
    meter_samples: tuple[tuple[int, int], ...] = ()  # (at_ms, meter_dwh)
