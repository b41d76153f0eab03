"""No session stays open forever (case 7): every state, only Ticks, always terminal."""

from __future__ import annotations

import pytest

from sessions import (
    GunStatus,
    Phase,
    PileOffline,
    StatusReported,
    Timeout,
    next_deadline,
    pending,
)

from .support import MIN, gun_in


@pytest.mark.parametrize("phase", [None, *Phase])
@pytest.mark.parametrize("offline", [False, True])
def test_ticks_alone_drive_every_state_to_terminal(phase: Phase | None, offline: bool) -> None:
    g = gun_in(phase)
    if offline:
        g.do(PileOffline(), after=MIN)
    g.run_out()
    assert g.state.settled and next_deadline(g.state) is None
    assert all(s.terminal for s in g.state.sessions())
    assert g.book.holds == {}


def test_charging_without_session_also_runs_out() -> None:
    g = gun_in(Phase.FAILED)
    g.do(StatusReported(GunStatus.CHARGING), after=MIN)
    assert {d.timeout for d in pending(g.state)} == {Timeout.ROGUE_RELEASE}
    g.run_out()
    assert g.state.rogue is None and g.book.holds == {}


def test_every_named_timeout_fires_somewhere() -> None:
    seen: set[Timeout] = set()
    for phase in [*Phase]:
        for offline in (False, True):
            g = gun_in(phase)
            if offline:
                g.do(PileOffline(), after=MIN)
            for _ in range(50):
                due = pending(g.state)
                if not due:
                    break
                first = min(due, key=lambda d: d.at_ms)
                seen.add(first.timeout)
                g.tick_at(max(first.at_ms, g.now))
    g = gun_in(None)
    g.do(StatusReported(GunStatus.CHARGING))
    seen |= {d.timeout for d in pending(g.state)}
    assert seen == set(Timeout)
