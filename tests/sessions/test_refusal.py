"""One refusal rule (sessions.refusal), typed reasons, the same in the machine and the gateway."""

from __future__ import annotations

import pytest

from sessions import (
    AuthorisationRejected,
    Authorised,
    Disabled,
    GunState,
    GunStatus,
    Phase,
    PileOffline,
    Refusal,
    StatusReported,
    refusal,
    step,
)

from .support import MIN, Gun, gun_in


def _faulted() -> Gun:
    g = Gun()
    for _ in range(g.state.config.fault_confirm_samples):
        g.do(StatusReported(GunStatus.FAULTED, 98), after=MIN)
    return g


def _charging_without_session() -> Gun:
    g = Gun()
    g.do(StatusReported(GunStatus.CHARGING), after=MIN)
    assert g.state.rogue is not None
    return g


def _after(event: object) -> Gun:
    g = Gun()
    g.do(event, after=MIN)  # type: ignore[arg-type]
    return g


GUNS = {
    Refusal.GUN_DISABLED: lambda: _after(Disabled()),
    Refusal.PILE_OFFLINE: lambda: _after(PileOffline()),
    Refusal.GUN_FAULTED: _faulted,
    Refusal.GUN_BUSY: lambda: gun_in(Phase.CHARGING),
}


@pytest.mark.parametrize("reason", list(GUNS), ids=str)
def test_the_machine_refuses_with_the_rules_reason(reason: Refusal) -> None:
    g = GUNS[reason]()
    assert refusal(g.state) is reason
    before = g.state
    with pytest.raises(AuthorisationRejected) as err:
        step(before, Authorised("s9", "T9", "zed", "app"), g.now + 1)
    assert err.value.reason is reason and g.state is before


@pytest.mark.parametrize(
    "phase", [Phase.AUTHORISED, Phase.STARTING, Phase.STOPPING, Phase.FINISHED]
)
def test_every_live_phase_is_busy(phase: Phase) -> None:
    assert refusal(gun_in(phase).state) is Refusal.GUN_BUSY


def test_charging_without_a_session_is_busy() -> None:
    assert refusal(_charging_without_session().state) is Refusal.GUN_BUSY


@pytest.mark.parametrize(
    "phase", [None, Phase.CLOSED, Phase.SETTLED, Phase.CANCELLED, Phase.FAILED]
)
def test_an_idle_gun_may_start(phase: Phase | None) -> None:
    assert refusal(gun_in(phase).state) is None


def test_what_only_the_gateway_knows_comes_in_order() -> None:
    idle = GunState()
    assert refusal(idle, pile_enabled=False) is Refusal.PILE_DISABLED
    assert refusal(None) is Refusal.UNKNOWN_GUN
    assert refusal(idle, command_in_progress=True) is Refusal.COMMAND_IN_PROGRESS
    # The gun's own condition is the better answer than a command racing for it.
    busy = gun_in(Phase.CHARGING).state
    assert refusal(busy, command_in_progress=True) is Refusal.GUN_BUSY
