"""The transition table is the whole truth about phase changes: every cell is driven here, and
the phases each one reaches are exactly the ones it declares (sessions.machine.TRANSITIONS)."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sessions import (
    TERMINAL,
    TRANSITIONS,
    AuthorisationRejected,
    Authorised,
    BillReceived,
    Event,
    GunStatus,
    Phase,
    PileOffline,
    PileOnline,
    ServiceEnded,
    SessionConfig,
    SessionTransition,
    StartCommandAccepted,
    StartCommandRejected,
    StartCommandTimedOut,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StatusReported,
    StopAcknowledged,
    StopConfirmed,
    StopRequested,
    Timeout,
    UndeclaredMove,
    machine,
    pending,
)

from .support import MIN, Gun, gun_in

SESSION_EVENTS: dict[type, Event] = {
    type(e): e
    for e in (
        Authorised("s2", "T2", "bob", "app"),
        StartRequested(),
        StartCommandAccepted(),
        StartCommandRejected(),
        StartCommandTimedOut(),
        StartConfirmed("T1"),
        StartFailed("T1"),
        StopRequested(),
        StopAcknowledged(),
        StopConfirmed(),
        ServiceEnded(),
        BillReceived("T1"),
    )
}
CONFIGS = (
    SessionConfig(),
    # retries run out at once, the pile's absence outlasts nothing, one fault sample is believed
    SessionConfig(max_stop_retries=0, offline_timeout_ms=MIN, fault_confirm_samples=1),
)
Key = tuple[Phase | None, Any]


def _starts(phase: Phase | None) -> Iterator[Gun]:
    """Guns with a session in phase, in each configuration; FINISHED also with its bill in."""
    for config in CONFIGS:
        yield gun_in(phase, config)
        if phase is Phase.FINISHED:
            g = gun_in(phase, config)
            g.do(BillReceived("T1"), after=MIN)
            yield g


def _drive(g: Gun, trigger: Any) -> None:
    if isinstance(trigger, type) and trigger in SESSION_EVENTS:
        # A live gun refuses a new session: the cell ran and moved nothing.
        with contextlib.suppress(AuthorisationRejected):
            g.do(SESSION_EVENTS[trigger], after=MIN)
    elif isinstance(trigger, GunStatus):
        codes = (98, None) if trigger is GunStatus.FAULTED else (None,)
        for code in codes:
            for _ in range(3):  # enough samples for a fault to be believed
                g.do(StatusReported(trigger, code), after=MIN)
    elif trigger is PileOnline:
        for status in GunStatus:
            copy = Gun(g.state.config, g.now)
            copy.state = g.state
            copy.do(PileOffline(), after=MIN)
            copy.do(PileOnline(status), after=MIN)
    elif isinstance(trigger, Timeout):
        if trigger is Timeout.OFFLINE:
            g.do(PileOffline(), after=1)
        for _ in range(6):  # a retried stop re-arms its timeout
            due = [d for d in pending(g.state) if d.timeout is trigger]
            if not due:
                return
            g.tick_at(max(g.now, due[0].at_ms))
    else:
        raise AssertionError(f"no way to drive {trigger!r}")


def _walk(monkeypatch: pytest.MonkeyPatch) -> dict[Key, set[Phase]]:
    """Drive every cell from every start; the phases each cell moved its session to."""
    cell_keys = {
        (phase, id(cell)): (phase, trigger) for (phase, trigger), cell in TRANSITIONS.items()
    }
    reached: dict[Key, set[Phase]] = defaultdict(set)
    real = machine._run

    def spy(ctx: Any, cell: machine.Cell, s: Any, arg: Any) -> None:
        key = cell_keys[(s.phase if s is not None else None, id(cell))]
        seen = len(ctx.actions)
        reached[key]  # the cell ran, even if it raises or stays
        real(ctx, cell, s, arg)
        for a in ctx.actions[seen:]:
            if isinstance(a, SessionTransition):
                reached[key].add(a.to_phase)

    monkeypatch.setattr(machine, "_run", spy)
    for phase, trigger in TRANSITIONS:
        for g in _starts(phase):
            _drive(g, trigger)
    return reached


def test_every_cell_runs_and_moves_exactly_where_it_declares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reached = _walk(monkeypatch)
    never_ran = set(TRANSITIONS) - set(reached)
    assert not never_ran, f"cells no drive reaches: {never_ran}"
    wrong = {
        key: (sorted(reached[key]), sorted(cell.to))
        for key, cell in TRANSITIONS.items()
        if reached[key] != cell.to
    }
    assert not wrong, f"(reached, declared) differ: {wrong}"


def test_a_move_the_cell_does_not_declare_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cell = TRANSITIONS[(Phase.CHARGING, StopRequested)]
    monkeypatch.setitem(
        TRANSITIONS, (Phase.CHARGING, StopRequested), machine.Cell(cell.handler, frozenset())
    )
    g = gun_in(Phase.CHARGING)
    before = g.state
    with pytest.raises(UndeclaredMove):
        g.do(StopRequested())
    assert g.state is before


LEAVING = {
    phase: {
        cell_phase for (p, _t), cell in TRANSITIONS.items() if p is phase for cell_phase in cell.to
    }
    - {phase}
    for phase in Phase
}


@pytest.mark.parametrize("phase", sorted(set(Phase) - TERMINAL))
def test_every_open_phase_has_a_way_out(phase: Phase) -> None:
    assert LEAVING[phase], f"no cell leaves {phase}"


@pytest.mark.parametrize("phase", sorted(set(Phase) - TERMINAL))
def test_every_waiting_phase_has_a_named_timeout_that_leaves_it(phase: Phase) -> None:
    """Nothing waits for the pile forever (case 7): a timeout cell leaves every open phase
    (CLOSED's is the lost bill, CHARGING's the longest charge)."""
    exits = {
        trigger
        for (p, trigger), cell in TRANSITIONS.items()
        if p is phase and isinstance(trigger, Timeout) and cell.to - {phase}
    }
    assert exits, f"{phase} has no timeout that leaves it"


def test_triggers_of_different_kinds_never_collide() -> None:
    # Statuses and timeouts are str enums: a shared value would merge two cells silently.
    assert not {s.value for s in GunStatus} & {t.value for t in Timeout}


def test_the_table_lists_each_pair_once() -> None:
    table: Callable[..., Any] = machine._index
    doubled = ((Phase.CHARGING, StopRequested, machine.h.ignore, ()),) * 2
    with pytest.raises(ValueError, match="two cells"):
        table(doubled)
