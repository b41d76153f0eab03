"""Named timeouts and the deadlines they put on a gun.

Offline rule: while the pile is offline, timers that wait for the pile (stop, unplug, max
charge, bill wait/lost) are paused and only the offline timeout runs; once it fires, they run
again from their original anchors. The start timeout never pauses (a user waits at most
start_timeout_ms), nor does the rogue-charge release.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .states import GunState
from .vocab import Phase


class Timeout(StrEnum):
    START = "start_timeout"
    MAX_CHARGE = "max_charge_timeout"
    STOP = "stop_timeout"
    UNPLUG = "unplug_timeout"
    BILL_WAIT = "bill_wait_timeout"
    BILL_LOST = "bill_lost_timeout"
    OFFLINE = "offline_timeout"
    ROGUE_RELEASE = "rogue_release_timeout"


@dataclass(frozen=True, slots=True)
class Deadline:
    at_ms: int
    timeout: Timeout
    session_id: str | None = None


def pending(state: GunState) -> list[Deadline]:
    """Every armed timeout of the gun, unordered."""
    cfg = state.config
    out: list[Deadline] = []
    paused = state.offline and not state.offline_expired
    if paused and state.offline_since_ms is not None:
        out.append(Deadline(state.offline_since_ms + cfg.offline_timeout_ms, Timeout.OFFLINE))
    for s in state.sessions():
        sid = s.session_id
        if s.phase in (Phase.AUTHORISED, Phase.STARTING):
            out.append(Deadline(s.authorised_ms + cfg.start_timeout_ms, Timeout.START, sid))
        elif paused:
            continue
        elif s.phase is Phase.CHARGING:
            start = s.charge_start_ms if s.charge_start_ms is not None else s.phase_since_ms
            out.append(Deadline(start + cfg.max_charge_ms, Timeout.MAX_CHARGE, sid))
        elif s.phase is Phase.STOPPING:
            sent = s.stop_sent_ms if s.stop_sent_ms is not None else s.phase_since_ms
            out.append(Deadline(sent + cfg.stop_timeout_ms, Timeout.STOP, sid))
        elif s.phase is Phase.FINISHED:
            out.append(Deadline(s.phase_since_ms + cfg.unplug_timeout_ms, Timeout.UNPLUG, sid))
        elif s.phase is Phase.CLOSED:
            if not s.bill_wait_alarmed:
                at = s.phase_since_ms + cfg.bill_wait_ms
                out.append(Deadline(at, Timeout.BILL_WAIT, sid))
            at = s.phase_since_ms + cfg.bill_lost_ms
            out.append(Deadline(at, Timeout.BILL_LOST, sid))
    if state.rogue is not None:
        at = state.rogue.last_seen_ms + cfg.rogue_release_ms
        out.append(Deadline(at, Timeout.ROGUE_RELEASE, state.rogue.session_id))
    return out


def next_deadline(state: GunState) -> int | None:
    """Epoch ms at which the gateway must feed Tick(), or None if nothing is awaited."""
    return min((d.at_ms for d in pending(state)), default=None)
