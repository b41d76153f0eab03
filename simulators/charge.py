"""A car on a gun: battery, power curve and exact integer meter integration.

Energy is integrated in W*ms (``1 W for 360_000 ms = 0.1 Wh``) with the remainder carried, so
the meter (0.1 Wh) never loses or invents energy however the model is ticked. Steps are cut at
tariff period boundaries, so every 0.1 Wh lands in exactly one period and the per-period
energies sum to the total by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulators.tariff import KINDS, PileTariff, price_energies

WMS_PER_DWH = 360_000  # 1 W for 360 s = 0.1 Wh
MAX_STEP_MS = 10_000
EFFICIENCY = 0.93  # share of metered energy that ends up in the battery
DC_TAPER_SOC = 80.0
AC_TAPER_SOC = 95.0
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


@dataclass(slots=True)
class Car:
    capacity_dwh: int  # usable battery, 0.1 Wh
    soc_start: float  # percent
    soc_target: int  # percent, 1..100
    vin: str
    max_power_w: int  # what the car accepts
    user_stop_after_ms: int | None = None  # the driver stops after this much charging

    @classmethod
    def random(cls, rng: random.Random, *, dc: bool = True) -> Car:
        capacity_kwh = rng.choice((40, 50, 60, 75, 90, 100)) if dc else rng.choice((40, 60))
        target = rng.choice((80, 90, 100, 100))
        stop = rng.randint(15, 60) * 60_000 if rng.random() < 0.3 else None
        return cls(
            capacity_dwh=capacity_kwh * 10_000,
            soc_start=float(rng.randint(8, 55)),
            soc_target=target,
            vin="L" + "".join(rng.choice(VIN_CHARS) for _ in range(16)),
            max_power_w=rng.choice((60_000, 90_000, 120_000, 150_000)) if dc else 7_000,
            user_stop_after_ms=stop,
        )


def power_curve_w(soc: float, max_w: int, *, dc: bool = True) -> int:
    """Charging power at a state of charge: constant, then a linear taper to 0 at 100 %."""
    if soc >= 100.0:
        return 0
    knee = DC_TAPER_SOC if dc else AC_TAPER_SOC
    if soc < knee:
        return max_w
    # From max at the knee down to 10 % of max just below 100 %.
    share = 1.0 - 0.9 * (soc - knee) / (100.0 - knee)
    return max(1, int(max_w * share))


def voltage_current(power_w: int, soc: float, *, dc: bool = True) -> tuple[int, int]:
    """(voltage 0.1 V, current 0.1 A) consistent with power: I = P / U."""
    if power_w <= 0:
        return 0, 0
    voltage_dv = int((3_300 + 12 * min(soc, 100.0)) if dc else 2_200)
    return voltage_dv, power_w * 100 // voltage_dv


@dataclass(slots=True)
class ChargeProcess:
    """Energy flowing into one car from start_ms; advance() integrates up to a time."""

    car: Car
    pile_max_w: int
    dc: bool
    start_ms: int
    meter_start_dwh: int
    limit_energy_dwh: int = 0
    limit_amount_fen: int = 0
    limit_ms: int = 0
    last_ms: int = 0
    energy_dwh: int = 0
    remainder_wms: int = 0
    power_w: int = 0
    per_kind: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    done_ms: int | None = None  # when the car / a limit ended the charge
    done_reason: str = ""  # "full" or "limit"

    def __post_init__(self) -> None:
        self.last_ms = self.start_ms
        self.power_w = self._power()

    @property
    def meter_dwh(self) -> int:
        return self.meter_start_dwh + self.energy_dwh

    @property
    def soc(self) -> float:
        gained = self.energy_dwh * EFFICIENCY * 100.0 / self.car.capacity_dwh
        return min(100.0, self.car.soc_start + gained)

    @property
    def target(self) -> float:
        return float(min(100, self.car.soc_target))

    def _power(self) -> int:
        return power_curve_w(self.soc, min(self.pile_max_w, self.car.max_power_w), dc=self.dc)

    def voltage_current(self) -> tuple[int, int]:
        return voltage_current(self.power_w, self.soc, dc=self.dc)

    def advance(self, to_ms: int, tariff: PileTariff) -> None:
        """Integrate up to to_ms, or until the SOC target or a limit ends the charge."""
        t = self.last_ms
        if self.limit_ms:
            to_ms = min(to_ms, self.start_ms + self.limit_ms)
        while t < to_ms and self.done_ms is None:
            p = self._power()
            if p <= 0 or self.soc >= self.target:
                self._finish(t, "full")
                break
            end = min(to_ms, t + MAX_STEP_MS, tariff.next_boundary_ms(t))
            # Do not overshoot the SOC target: time for the energy still wanted at power p.
            need_dwh = (self.target - self.soc) * self.car.capacity_dwh / (100.0 * EFFICIENCY)
            need_ms = int(need_dwh * WMS_PER_DWH / p) + 1
            end = min(end, t + max(1, need_ms))
            if self.limit_energy_dwh:
                left = self.limit_energy_dwh - self.energy_dwh
                end = min(end, t + max(1, -(-left * WMS_PER_DWH // p)))
            self.remainder_wms += p * (end - t)
            dwh, self.remainder_wms = divmod(self.remainder_wms, WMS_PER_DWH)
            if self.limit_energy_dwh:
                dwh = min(dwh, self.limit_energy_dwh - self.energy_dwh)
            self.energy_dwh += dwh
            self.per_kind[tariff.kind_at(t)] += dwh
            t = end
            energy_hit = self.limit_energy_dwh and self.energy_dwh >= self.limit_energy_dwh
            if energy_hit or (
                self.limit_amount_fen and self._amount(tariff) >= self.limit_amount_fen
            ):
                self._finish(t, "limit")
            elif self.soc >= self.target:
                self._finish(t, "full")
        if self.done_ms is None:
            self.last_ms = max(self.last_ms, t)
            if self.limit_ms and t >= self.start_ms + self.limit_ms:
                self._finish(t, "limit")
        self.power_w = 0 if self.done_ms is not None else self._power()

    def _finish(self, at_ms: int, reason: str) -> None:
        self.done_ms, self.done_reason, self.power_w = at_ms, reason, 0
        self.last_ms = at_ms

    def _amount(self, tariff: PileTariff) -> int:
        a = price_energies(tariff, self.per_kind, 0)
        return a.energy_amount_fen + a.service_amount_fen

    def eta_ms(self) -> int | None:
        """Rough time the target will be reached at the present power (for wake-ups)."""
        if self.done_ms is not None or self.power_w <= 0:
            return None
        need_dwh = max(0.0, (self.target - self.soc) * self.car.capacity_dwh / (100 * EFFICIENCY))
        return self.last_ms + int(need_dwh * WMS_PER_DWH / self.power_w) + 1
