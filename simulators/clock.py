"""The pile clock of a simulation run: wall time scaled by ``time_scale``.

``now_ms()`` is the piles' simulated UTC epoch ms: ``sim_start_ms + elapsed_wall * scale``.
With scale 60 a 20-minute charge takes 20 wall seconds, and every timestamp the piles send
(LOGIN, STATUS_CHANGE, START/STOP_RESULT, METER_VALUES, LOGOUT, BILL) is on this one clock,
so bills are self-consistent. Heartbeats, ack time-outs and reconnect back-off stay in wall
time (they are about the connection, which the gateway times in wall time).

So that no timestamp lies in the gateway's future, a run of known duration D at scale X > 1
starts the pile clock D*X in the past: it reaches real time as the run ends.
"""

from __future__ import annotations

import time


class SimClock:
    __slots__ = ("_mono0", "scale", "start_ms")

    def __init__(self, time_scale: float = 1.0, start_ms: int | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be > 0")
        self.scale = time_scale
        self.start_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._mono0 = time.monotonic()

    @classmethod
    def for_run(cls, time_scale: float, duration_s: float | None) -> SimClock:
        now = int(time.time() * 1000)
        if time_scale > 1 and duration_s:
            return cls(time_scale, now - int(duration_s * time_scale * 1000))
        return cls(time_scale, now)

    def now_ms(self) -> int:
        return self.start_ms + int((time.monotonic() - self._mono0) * 1000 * self.scale)

    def wall_delay_s(self, sim_ms: int) -> float:
        """Wall seconds until the pile clock reads sim_ms (0 when already past)."""
        return max(0.0, (sim_ms - self.now_ms()) / 1000 / self.scale)

    def sync(self, server_ms: int) -> bool:
        """TIME_SYNC: adopt the gateway's time. Only at scale 1 (a scaled clock keeps its own
        consistent timeline); returns whether the clock moved."""
        if self.scale != 1:
            return False
        self.start_ms += server_ms - self.now_ms()
        return True
