"""Every time limit and threshold of the session machine, with the fleet's defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

DEVICE_FAULT_CODE = 98  # the operator's "control board / device fault" stop reason (case 1)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Named timeouts (ms) and thresholds. Validated so every Tick makes progress."""

    # AUTHORISED/STARTING: no confirmed charge this long after authorisation -> stop + CANCELLED.
    start_timeout_ms: int = 5 * MINUTE
    # STOPPING: no StopConfirmed this long after a stop was sent -> re-send (bounded), then give up.
    stop_timeout_ms: int = 1 * MINUTE
    # CHARGING reports after a stop (or with no live session) before the stop is re-sent.
    stop_not_honoured_reports: int = 2
    max_stop_retries: int = 3
    # Consecutive FAULTED samples before a fault is believed (case 3).
    fault_confirm_samples: int = 3
    # Fault codes that end a start at once, without waiting for confirmation (case 1).
    start_fault_codes: frozenset[int] = frozenset({DEVICE_FAULT_CODE})
    # CHARGING: longest charge before the gateway stops it.
    max_charge_ms: int = 24 * HOUR
    # FINISHED: still plugged this long after the charge ended -> CLOSED.
    unplug_timeout_ms: int = 4 * HOUR
    # CLOSED: alarm + query bills this long after close, settle as lost after bill_lost_ms.
    bill_wait_ms: int = 30 * MINUTE
    bill_lost_ms: int = 24 * HOUR
    # Pile offline this long -> live sessions end (pile-bound timers are paused until then).
    offline_timeout_ms: int = 2 * HOUR
    # Charging without a session: no CHARGING report this long -> release the re-claimed account.
    rogue_release_ms: int = 10 * MINUTE
    # Ended sessions kept per gun so late bills/logouts still match (CLOSED ones are never dropped).
    history_limit: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and value < (0 if f.name == "max_stop_retries" else 1):
                raise ValueError(f"SessionConfig.{f.name} must be positive, got {value}")
        if self.bill_lost_ms <= self.bill_wait_ms:
            raise ValueError("SessionConfig.bill_lost_ms must exceed bill_wait_ms")


DEFAULT_CONFIG = SessionConfig()
