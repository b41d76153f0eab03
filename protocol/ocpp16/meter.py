"""Meter readings: MeterValues / StopTransaction.transactionData samples and their Wh figures.

A sampled value is text on the wire (``"1234.5"``) with optional measurand, unit, context, phase
and location. The spec's defaults apply when a field is absent: measurand
``Energy.Active.Import.Register``, unit ``Wh``, context ``Sample.Periodic``, location ``Outlet``.
``wh`` gives an energy reading as whole watt-hours (kWh scaled by 1000, rounded half up);
``import_register_wh`` picks the reading the gateway bills on: the total (no phase) active
import register of a meter value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from protocol.ocpp16.convert import EpochMs

IMPORT_REGISTER = "Energy.Active.Import.Register"
_MAX_DIGITS = 18
_ENERGY_SCALE = {"Wh": 1, "kWh": 1000, "varh": 1, "kvarh": 1000}


@dataclass(slots=True, frozen=True, kw_only=True)
class SampledValue:
    value: str
    context: str | None = None
    format: str | None = None
    measurand: str | None = None
    phase: str | None = None
    location: str | None = None
    unit: str | None = None

    @property
    def measurand_or_default(self) -> str:
        return self.measurand or IMPORT_REGISTER

    @property
    def wh(self) -> int | None:
        """The reading in Wh (varh for reactive energy); None when not a plain energy number."""
        if self.format == "SignedData" or not self.measurand_or_default.startswith("Energy."):
            return None
        scale = _ENERGY_SCALE.get(self.unit or "Wh")
        if scale is None:
            return None
        try:
            amount = Decimal(self.value) * scale
        except ArithmeticError:  # InvalidOperation, Overflow, ...: not a usable number
            return None
        # A finite reading below 10**18 Wh; anything else is nonsense (and a huge exponent would
        # make int() build an enormous number).
        if not amount.is_finite() or amount.adjusted() >= _MAX_DIGITS:
            return None
        return int(amount.to_integral_value(ROUND_HALF_UP))


@dataclass(slots=True, frozen=True, kw_only=True)
class MeterValue:
    timestamp: EpochMs
    sampled_value: list[SampledValue]

    def import_register_wh(self) -> int | None:
        """The total active import register in Wh (a per-phase reading only if no total)."""
        per_phase = None
        for sample in self.sampled_value:
            if sample.measurand_or_default != IMPORT_REGISTER:
                continue
            wh = sample.wh
            if wh is None:
                continue
            if sample.phase is None:
                return wh
            per_phase = wh if per_phase is None else per_phase
        return per_phase
