"""Real-time data (0x13) as gun reports, with YKC's rule on idle frames during a charge.

YKC forbids a pile to report "idle" while it charges and treats two idle frames in a row as
the abnormal end of the charge (SPEC §13.3 #4). So while a gun charges, an idle-and-plugged
frame is held back (not reported) until the rule's count is reached; then the gun is reported
FINISHING, which ends the charge in the session machine. A pile's bill for the gun ends the
charge too (a YKC pile sends it as soon as charging stops), after which idle is simply idle.
Unplugging, faults and "offline" are never held: they are reported as they come.

The first "charging" frame that carries a trade number confirms that trade's start
(`StartConfirmed`, meter 0: YKC reports the trade's energy, not a meter reading, so the
session's meter runs from 0 with the energy of the trade).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gateway.adapters.ykc.codes import gun_status
from gateway.adapters.ykc.trade import is_idle_trade
from gateway.dialect import GunReport
from protocol.ykc import Realtime
from sessions import GunStatus


@dataclass(frozen=True, slots=True)
class Outcome:
    report: GunReport | None  # None: nothing to report (held, or a status YKC does not define)
    start_confirmed: str | None = None  # the trade whose start this frame confirms
    abnormal_end: bool = False  # the idle rule ended the charge
    charging: bool = False

    def report_with(self, *, power_w: int | None, soc: int | None) -> GunReport:
        assert self.report is not None
        return replace(self.report, power_w=power_w, soc=soc)


@dataclass(slots=True)
class _Gun:
    charging: bool = False
    idle_frames: int = 0
    confirmed: str | None = None


@dataclass(slots=True)
class RealtimeTracker:
    idle_frames_end_charge: int = 2
    _guns: dict[int, _Gun] = field(default_factory=dict)

    def observe(self, gun: int, m: Realtime) -> Outcome:
        status = gun_status(m.status, m.plugged)
        if status is None:
            return Outcome(None)
        g = self._guns.setdefault(gun, _Gun())
        fault = (m.faults or 1) if status is GunStatus.FAULTED else None
        confirmed = None
        abnormal = False
        if status is GunStatus.CHARGING:
            g.charging, g.idle_frames = True, 0
            if not is_idle_trade(m.trade_no) and m.trade_no != g.confirmed:
                g.confirmed = confirmed = m.trade_no
        elif status is GunStatus.PREPARING and g.charging:
            g.idle_frames += 1
            if g.idle_frames < self.idle_frames_end_charge:
                return Outcome(None)
            g.charging, g.idle_frames = False, 0
            status, abnormal = GunStatus.FINISHING, True
        elif status is not GunStatus.FAULTED:  # a fault may pass (field case 3)
            g.charging, g.idle_frames = False, 0
        report = GunReport(gun, status, fault)
        return Outcome(report, confirmed, abnormal, status is GunStatus.CHARGING)

    def charging(self, gun: int) -> bool:
        """The gun's last real-time frame said it charges (held idle frames aside)."""
        g = self._guns.get(gun)
        return g is not None and g.charging

    def confirm(self, gun: int, trade: str) -> bool:
        """A 0x33 confirmed ``trade``'s start: True unless a real-time frame did already."""
        g = self._guns.setdefault(gun, _Gun())
        if g.confirmed == trade:
            return False
        g.confirmed = trade
        return True

    def bill_received(self, gun: int) -> None:
        """The pile billed the gun's charge: it has ended, idle frames are no longer odd."""
        g = self._guns.get(gun)
        if g is not None:
            g.charging, g.idle_frames = False, 0
