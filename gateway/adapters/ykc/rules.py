"""YKC's operating rules as named, configurable session rules (docs/ykc.md §8).

The session machine's timeouts are per gun (`GunState.config`), so a YKC pile's guns get a
`SessionConfig` of their own, derived from the gateway's: what YKC fixes replaces the
gateway-wide value, everything else (offline and unplug timeouts, fault confirmation, ...)
stays the operator's.

- ``start_confirm_s`` (90): the pile must confirm a start (0x33 success and a "charging"
  0x13) within 90 s, or the platform closes the order (SPEC §13.3 #1). It is both the
  session's start timeout and how long a remote start awaits its 0x33.
- ``bill_due_s`` (30): the bill is due within 30 s of the end of charging (§13.3 #7); after
  it the gateway raises its bill-wait alarm and records the bill as overdue.
- ``idle_frames_end_charge`` (2): while charging, the pile must not report "idle"; the second
  idle 0x13 in a row ends the charge as abnormal (§13.3 #4). One alone is ignored.
- ``stop_not_honoured_reports`` (2): charging reports after a stop before it is re-sent and
  alarmed, as for protocol v1 (§13.3 #3: the pile must obey a stop).
- ``stop_check_s`` (5): YKC's heartbeat carries no gun status, so after a pile accepts a stop
  the gateway asks for the gun's real-time data (0x12) this often while the gun still reports
  charging, up to one more time than ``stop_not_honoured_reports``: a stop that is not obeyed
  is seen in seconds, not at the pile's next 15-second report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sessions import SessionConfig

SECOND_MS = 1_000


@dataclass(frozen=True, slots=True)
class YkcRules:
    start_confirm_s: float = 90.0
    bill_due_s: float = 30.0
    idle_frames_end_charge: int = 2
    stop_not_honoured_reports: int = 2
    stop_check_s: float = 5.0

    def __post_init__(self) -> None:
        if self.start_confirm_s <= 0 or self.bill_due_s <= 0 or self.stop_check_s <= 0:
            raise ValueError("YKC start_confirm_s, bill_due_s and stop_check_s must be positive")
        if self.idle_frames_end_charge < 1 or self.stop_not_honoured_reports < 1:
            raise ValueError("YKC idle_frames_end_charge and stop_not_honoured_reports >= 1")

    def session_config(self, base: SessionConfig) -> SessionConfig:
        """The gateway's session configuration with YKC's own limits in place."""
        bill_wait_ms = int(self.bill_due_s * SECOND_MS)
        return replace(
            base,
            start_timeout_ms=int(self.start_confirm_s * SECOND_MS),
            bill_wait_ms=bill_wait_ms,
            bill_lost_ms=max(base.bill_lost_ms, bill_wait_ms + SECOND_MS),
            stop_not_honoured_reports=self.stop_not_honoured_reports,
        )


DEFAULT_RULES = YkcRules()
