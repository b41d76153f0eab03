"""What the gateway persists is what a restart needs: every change to the durable part of a
session reaches the gateway in an action carrying the session's final record of that step."""

from __future__ import annotations

from sessions import (
    GunStatus,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StartConfirmed,
    StatusReported,
    StopAcknowledged,
    StopReason,
    StopRequested,
    Tick,
)
from sessions.states import GunState, Session

from .support import MIN, Gun, S, gun_in


def persisted(before: GunState, actions: tuple, after: GunState) -> dict[str, Session]:
    """The record the gateway last wrote for each session, after applying the actions."""
    last = {s.session_id: s for s in before.sessions()}
    for a in actions:
        if isinstance(a, SessionTransition | SessionFlagged | SessionUpdated):
            last[a.session_id] = a.record
    return last


def check(g: Gun, event: object, after: int = 0) -> tuple:
    before = g.state
    actions = g.do(event, after=after)  # type: ignore[arg-type]
    written = persisted(before, actions, g.state)
    for s in g.state.sessions():
        assert written[s.session_id].durable() == s.durable(), (event, s)
    return actions


def test_every_durable_change_of_a_service_is_carried_by_an_action() -> None:
    g = gun_in(None)
    g.authorise()
    check(g, StartConfirmed("T1", meter_start=1000), after=10 * S)
    check(g, StatusReported(GunStatus.CHARGING, meter=2000), after=30 * S)
    check(g, StopRequested(StopReason.OPERATOR), after=MIN)
    a = check(g, StopAcknowledged(), after=S)
    assert [type(x) for x in a] == [SessionUpdated]  # nothing else happens, yet it is kept
    for _ in range(4):  # the pile keeps charging: reports counted, retries, alarms
        check(g, StatusReported(GunStatus.CHARGING, meter=3000), after=30 * S)
    assert g.session.stop_retries == 2
    check(g, Tick(), after=2 * MIN)  # stop timeout: one more retry
    check(g, StatusReported(GunStatus.FINISHING), after=S)
    check(g, StatusReported(GunStatus.AVAILABLE), after=MIN)
    a = check(g, Tick(), after=31 * MIN)  # the bill-wait alarm
    assert g.session.bill_wait_alarmed
    assert [x.record.bill_wait_alarmed for x in a if isinstance(x, SessionUpdated)] == [True]


def test_a_late_charge_for_an_ended_session_is_carried_by_actions() -> None:
    g = gun_in(None)
    g.authorise()
    check(g, Tick(), after=5 * MIN + S)  # start timeout: cancelled
    check(g, StatusReported(GunStatus.CHARGING, meter=1000), after=MIN)
    assert g.session.late_charge_start_ms == g.now and g.session.late_charge_end_ms is None
    for _ in range(3):
        check(g, StatusReported(GunStatus.CHARGING, meter=2000), after=30 * S)
    assert (g.session.late_charge_reports, g.session.late_charge_stop_retries) == (1, 1)
    check(g, StatusReported(GunStatus.AVAILABLE), after=30 * S)
    assert g.session.late_charge_end_ms == g.now and g.state.rogue is None


def test_a_steady_meter_report_persists_nothing() -> None:
    g = gun_in(None)
    g.authorise()
    check(g, StartConfirmed("T1", meter_start=1000), after=10 * S)
    a = check(g, StatusReported(GunStatus.CHARGING, meter=2000), after=30 * S)
    a = check(g, StatusReported(GunStatus.CHARGING, meter=2500), after=30 * S)
    assert a == ()  # only the meter moved: the heartbeat path writes no row
