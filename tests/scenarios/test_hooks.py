"""The pile hook the scenarios use: fixed delays instead of the random ones."""

from __future__ import annotations

from protocol.pilegate.codes import GunStatus
from protocol.pilegate.messages import Logout, StartResult, StatusChange, StopCharge
from simulators.faults import Faults
from tests.simulators.helpers import T930, Driver, big_car, make_pile


def test_fixed_delays_replace_the_random_ones() -> None:
    pile = make_pile()
    pile.delays.update(handshake=300, unplug=400, swipe=200)
    d = Driver(pile, T930)
    pile.plug_in(1, T930, auth="card", car=big_car())
    d.run_until(T930 + 1_000, step_ms=100)
    (start,) = d.of(StartResult)
    assert start.time_ms == T930 + 200 + 300  # swipe, then the car handshake
    d.send(StopCharge(1, start.transaction_id, 0))
    stop_at = d.now
    d.run_until(stop_at + 1_000, step_ms=100)
    (logout,) = d.of(Logout)
    assert logout.time_ms == stop_at + 400


def test_a_fixed_rogue_delay_for_unauthorised_charging() -> None:
    pile = make_pile(faults=Faults.named("unauthorised_charge"))
    pile.delays["rogue"] = 300
    d = Driver(pile, T930)
    pile.plug_in(1, T930, auth="card", car=big_car())
    d.run_until(T930 + 1_000, step_ms=100)
    charging = [m for m in d.of(StatusChange) if m.status == GunStatus.CHARGING]
    assert [(m.time_ms, m.transaction_id) for m in charging] == [(T930 + 300, "")]
