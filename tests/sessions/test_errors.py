"""Impossible transitions are typed errors and never corrupt the state."""

from __future__ import annotations

import pytest

from sessions import (
    TRANSITIONS,
    Authorised,
    BillReceived,
    GunState,
    ImpossibleTransition,
    Phase,
    ServiceEnded,
    SessionError,
    StartCommandAccepted,
    StartCommandRejected,
    StartCommandTimedOut,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StopAcknowledged,
    StopConfirmed,
    StopRequested,
    TransactionMismatch,
    step,
)

from .support import gun_in

SESSION_EVENTS = [
    Authorised("sX", "TX", "zed", "app"),
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
]


@pytest.mark.parametrize("phase", [None, *Phase])
def test_every_session_event_is_either_in_the_table_or_a_typed_error(phase: Phase | None) -> None:
    g = gun_in(phase)
    for event in SESSION_EVENTS:
        before = g.state
        if (phase, type(event)) in TRANSITIONS:
            continue
        with pytest.raises(ImpossibleTransition) as err:
            step(before, event, g.now + 1)
        assert err.value.phase is phase and err.value.event == event
        assert g.state is before and g.state == gun_in(phase).state


def test_every_session_event_has_a_cell_somewhere() -> None:
    """No event type is impossible everywhere (a forgotten row would make it so)."""
    triggers = {trigger for (_phase, trigger) in TRANSITIONS}
    assert {type(e) for e in SESSION_EVENTS} <= triggers


def test_transaction_mismatch_is_typed_and_harmless() -> None:
    g = gun_in(Phase.STARTING)
    before = g.state
    with pytest.raises(TransactionMismatch) as err:
        step(before, StartConfirmed("T999"), g.now)
    assert isinstance(err.value, SessionError) and err.value.expected == "T1"
    assert g.state is before


def test_states_are_immutable() -> None:
    state = GunState()
    with pytest.raises(AttributeError):
        state.disabled = True  # type: ignore[misc]
