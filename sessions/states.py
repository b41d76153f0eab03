"""Immutable per-gun state: the gun's conditions, its current session and recent ended ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from operator import attrgetter

from .config import SessionConfig
from .vocab import Availability, CommandState, Flag, GunStatus, Phase

# A live session holds the gun and its account.
LIVE = frozenset({Phase.AUTHORISED, Phase.STARTING, Phase.CHARGING, Phase.STOPPING, Phase.FINISHED})
PRE_START = frozenset({Phase.AUTHORISED, Phase.STARTING})
IN_CHARGE = frozenset({Phase.CHARGING, Phase.STOPPING})
# Nothing more is awaited: no timer runs for these.
TERMINAL = frozenset({Phase.SETTLED, Phase.CANCELLED, Phase.FAILED})


@dataclass(frozen=True, slots=True)
class Session:
    """One service on a gun, as the gateway knows it. All times are UTC epoch ms."""

    session_id: str
    transaction_id: str
    account: str
    channel: str
    phase: Phase
    authorised_ms: int
    phase_since_ms: int
    reason: str  # of the latest transition
    end_reason: str | None = None  # why the charge/service ended (first end wins)
    start_command: CommandState = CommandState.NONE
    charge_start_ms: int | None = None
    charge_end_ms: int | None = None
    # The gateway's own end of service: billing caps idle time here (case 1).
    gateway_service_end_ms: int | None = None
    # The pile's end of service (its logout time), if it ever sent one: data only.
    pile_service_end_ms: int | None = None
    meter_start: int | None = None
    meter_stop: int | None = None
    last_meter: int | None = None
    stop_reason: str | None = None
    stop_sent_ms: int | None = None
    stop_acked: bool = False
    stop_retries: int = 0
    charging_reports_since_stop: int = 0
    bill_received_ms: int | None = None
    bill_wait_alarmed: bool = False
    # Energy the pile drew for this session's account after the gateway had ended the session
    # (a stop not honoured, a late start: cases 2, 6). End None while it still flows.
    # While it flows the gun's RogueCharge mirrors into these, so a restart rebuilds it.
    late_charge_start_ms: int | None = None
    late_charge_end_ms: int | None = None
    late_charge_seen_ms: int | None = None  # its latest CHARGING report
    late_charge_reports: int = 0  # CHARGING reports since the last stop sent for it
    late_charge_stop_retries: int = 0
    flags: frozenset[Flag] = frozenset()

    @property
    def live(self) -> bool:
        return self.phase in LIVE

    def durable(self) -> tuple[object, ...]:
        """The part of the session a restart must keep: all of it but the latest meter
        sample, which changes with every report and is re-read from the pile."""
        durable: tuple[object, ...] = _DURABLE(self)
        return durable

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL


# Read as one tuple: cheap enough for the heartbeat path, which compares it on every report.
_DURABLE = attrgetter(*(f.name for f in fields(Session) if f.name != "last_meter"))


@dataclass(frozen=True, slots=True)
class RogueCharge:
    """A gun reporting CHARGING with no live session (cases 2, 4, 6)."""

    since_ms: int
    last_seen_ms: int
    transaction_id: str | None  # the pile's transaction if known, else stop by gun
    session_id: str | None  # the gun's most recent session, if any
    account: str | None  # that session's account, re-claimed while energy flows
    reports_since_stop: int = 0
    stop_retries: int = 0


@dataclass(frozen=True, slots=True)
class GunState:
    """Everything the machine knows about one gun. Never mutated: step() returns a new one."""

    config: SessionConfig = field(default_factory=SessionConfig)
    session: Session | None = None  # current or most recent
    past: tuple[Session, ...] = ()  # older CLOSED (awaiting bill) and recently ended sessions
    reported: GunStatus = GunStatus.AVAILABLE  # last raw report
    confirmed: GunStatus = GunStatus.AVAILABLE  # last status believed (faults need K samples)
    fault_streak: int = 0
    fault_code: int | None = None
    disabled: bool = False
    offline_since_ms: int | None = None
    offline_expired: bool = False  # the offline timeout fired; paused timers run again
    rogue: RogueCharge | None = None

    @property
    def offline(self) -> bool:
        return self.offline_since_ms is not None

    @property
    def faulted(self) -> bool:
        return self.confirmed is GunStatus.FAULTED

    @property
    def live_session(self) -> Session | None:
        return self.session if self.session is not None and self.session.live else None

    def sessions(self) -> Iterator[Session]:
        """Current session first, then the older ones."""
        if self.session is not None:
            yield self.session
        yield from self.past

    def find(self, *, transaction_id: str) -> Session | None:
        return next((s for s in self.sessions() if s.transaction_id == transaction_id), None)

    @property
    def availability(self) -> Availability:
        if self.offline:
            return Availability.OFFLINE
        if self.disabled:
            return Availability.DISABLED
        if self.faulted:
            return Availability.FAULTED
        if self.live_session is not None or self.rogue is not None:
            return Availability.BUSY
        return Availability.AVAILABLE

    @property
    def settled(self) -> bool:
        """True when nothing is awaited: every session terminal, no charge without a session."""
        return self.rogue is None and all(s.terminal for s in self.sessions())
