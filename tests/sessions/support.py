"""A fake-clock driver for one gun: plain ints, no sleeps."""

from __future__ import annotations

from collections.abc import Sequence

from sessions import (
    AccountBook,
    Action,
    AlarmKind,
    Authorised,
    BillReceived,
    Event,
    GunState,
    Phase,
    RaiseAlarm,
    SendStopCharge,
    ServiceEnded,
    Session,
    SessionConfig,
    SessionTransition,
    StartCommandAccepted,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StopConfirmed,
    StopRequested,
    Tick,
    next_deadline,
    step,
)

T0 = 1_577_850_000_000  # 2020-01-01T03:40:00Z
S = 1_000
MIN = 60 * S
H = 60 * MIN


class Gun:
    """Feeds events at a fake time and keeps every action and the account book."""

    def __init__(self, config: SessionConfig | None = None, now: int = T0) -> None:
        self.state = GunState(config=config or SessionConfig())
        self.now = now
        self.log: list[Action] = []
        self.book = AccountBook()

    @property
    def session(self) -> Session:
        assert self.state.session is not None
        return self.state.session

    def do(self, event: Event, *, at: int | None = None, after: int = 0) -> tuple[Action, ...]:
        if at is not None:
            self.now = at
        self.now += after
        self.state, actions = step(self.state, event, self.now)
        self.log.extend(actions)
        self.book = self.book.apply(actions)
        return actions

    def tick_at(self, at: int) -> tuple[Action, ...]:
        return self.do(Tick(), at=at)

    def run_out(self, limit: int = 200) -> list[Action]:
        """Feed Tick at every deadline until none is left."""
        out: list[Action] = []
        for _ in range(limit):
            deadline = next_deadline(self.state)
            if deadline is None:
                return out
            out.extend(self.tick_at(max(deadline, self.now)))
        raise AssertionError("deadlines never ran out")

    def authorise(
        self, sid: str = "s1", tx: str = "T1", account: str = "alice", channel: str = "app"
    ) -> tuple[Action, ...]:
        return self.do(Authorised(sid, tx, account, channel))

    def charging(self, sid: str = "s1", tx: str = "T1", account: str = "alice") -> None:
        self.authorise(sid, tx, account)
        self.do(StartRequested())
        self.do(StartCommandAccepted(), after=2 * S)
        self.do(StartConfirmed(tx, meter_start=1000), after=10 * S)
        assert self.session.phase is Phase.CHARGING


def gun_in(phase: Phase | None, config: SessionConfig | None = None) -> Gun:
    """A gun whose current session is in phase (None: no session), reached by events."""
    g = Gun(config)
    if phase is None:
        return g
    g.authorise()
    path: dict[Phase, list] = {
        Phase.AUTHORISED: [],
        Phase.STARTING: [StartRequested()],
        Phase.CHARGING: [StartConfirmed("T1")],
        Phase.STOPPING: [StartConfirmed("T1"), StopRequested()],
        Phase.FINISHED: [StartConfirmed("T1"), StopConfirmed()],
        Phase.CLOSED: [StartConfirmed("T1"), ServiceEnded()],
        Phase.SETTLED: [StartConfirmed("T1"), ServiceEnded(), BillReceived("T1")],
        Phase.CANCELLED: [StopRequested()],
        Phase.FAILED: [StartFailed("T1")],
    }
    for event in path[phase]:
        g.do(event, after=MIN)
    assert g.session.phase is phase
    return g


def only(actions: Sequence[Action], kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]


def stops(actions: Sequence[Action]) -> list[SendStopCharge]:
    return only(actions, SendStopCharge)


def alarms(actions: Sequence[Action]) -> list[AlarmKind]:
    return [a.kind for a in only(actions, RaiseAlarm)]


def moves(actions: Sequence[Action]) -> list[tuple[Phase | None, Phase, str]]:
    return [(t.from_phase, t.to_phase, t.reason) for t in only(actions, SessionTransition)]
