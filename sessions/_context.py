"""Scratch builder used inside one step(): holds the new state and collects actions.

It is created and discarded by step(), so step() stays pure from the caller's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .actions import AccountReleased, Action, SessionFlagged, SessionTransition
from .config import SessionConfig
from .errors import UndeclaredMove
from .states import LIVE, GunState, Session
from .vocab import Flag, Phase, Reason

# Entering these ends the service: the gateway's end time is recorded once (case 1).
_SERVICE_ENDED = frozenset({Phase.CLOSED, Phase.SETTLED, Phase.CANCELLED, Phase.FAILED})
_CHARGE_ENDED = _SERVICE_ENDED | {Phase.FINISHED}
NOWHERE: frozenset[Phase] = frozenset()


@dataclass(slots=True)
class Ctx:
    gun: GunState
    now: int
    actions: list[Action] = field(default_factory=list)
    # The phases the running table cell declares it may move a session to (machine.Cell.to);
    # nothing outside a cell moves a session.
    allowed: frozenset[Phase] = NOWHERE

    @property
    def cfg(self) -> SessionConfig:
        return self.gun.config

    def emit(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def update_gun(self, **changes: Any) -> None:
        gun = self.gun
        # A steady heartbeat re-sets values to what they are: keep the same object then, so
        # the caller can see that nothing changed (the heartbeat hot path relies on it).
        if any(getattr(gun, key) != value for key, value in changes.items()):
            self.gun = replace(gun, **changes)

    def put(self, s: Session) -> Session:
        """Store s in place of the session with the same id (current or past)."""
        current = self.gun.session
        if current is not None and current.session_id == s.session_id:
            self.update_gun(session=s)
        else:
            past = tuple(s if p.session_id == s.session_id else p for p in self.gun.past)
            self.update_gun(past=past)
        return s

    def move(self, s: Session, to: Phase, reason: str, **changes: Any) -> Session:
        """Change phase, record end times, release the account on leaving LIVE, emit the record."""
        if to not in self.allowed:
            raise UndeclaredMove(s.phase, to)
        if to in _CHARGE_ENDED and s.charge_start_ms is not None and s.charge_end_ms is None:
            changes.setdefault("charge_end_ms", self.now)
        if to in _SERVICE_ENDED and s.gateway_service_end_ms is None:
            changes.setdefault("gateway_service_end_ms", self.now)
        if to in _CHARGE_ENDED and s.end_reason is None:
            changes.setdefault("end_reason", reason)
        new = self.put(replace(s, phase=to, phase_since_ms=self.now, reason=reason, **changes))
        if s.phase in LIVE and to not in LIVE:
            self.emit(AccountReleased(s.account, s.session_id))
        self.emit(SessionTransition(s.session_id, s.phase, to, reason, self.now, new))
        return new

    def close(self, s: Session, reason: str, **changes: Any) -> Session:
        """Service over: CLOSED, or straight on to SETTLED when the bill is already in."""
        s = self.move(s, Phase.CLOSED, reason, **changes)
        if s.bill_received_ms is not None:
            s = self.move(s, Phase.SETTLED, Reason.BILL_RECEIVED)
        return s

    def flag(self, s: Session, *flags: Flag) -> Session:
        added = frozenset(flags) - s.flags
        if not added:
            return s
        new = self.put(replace(s, flags=s.flags | added))
        self.emit(SessionFlagged(s.session_id, added, self.now, new))
        return new
