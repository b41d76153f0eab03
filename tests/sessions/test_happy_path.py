from __future__ import annotations

from sessions import (
    AccountClaimed,
    AccountReleased,
    Availability,
    AvailabilityChanged,
    BillReceived,
    CommandState,
    GunStatus,
    MeterSample,
    Phase,
    SendStartCharge,
    SendStopCharge,
    ServiceEnded,
    SessionUpdated,
    StartCommandAccepted,
    StartConfirmed,
    StartRequested,
    StatusConfirmed,
    StatusReported,
    StopAcknowledged,
    StopConfirmed,
    StopReason,
    StopRequested,
    next_deadline,
)

from .support import MIN, T0, Gun, S, moves, only


def test_full_service_from_authorisation_to_settlement() -> None:
    g = Gun()
    a = g.authorise()
    assert only(a, AccountClaimed) == [AccountClaimed("alice", "s1")]
    assert moves(a) == [(None, Phase.AUTHORISED, "authorised")]
    assert only(a, AvailabilityChanged)[0].availability is Availability.BUSY
    assert next_deadline(g.state) == T0 + 5 * MIN

    a = g.do(StartRequested())
    assert only(a, SendStartCharge) == [SendStartCharge("s1", "T1", "alice", "app")]
    a = g.do(StartCommandAccepted(), after=S)  # nothing to send; the record is persisted
    assert [type(x) for x in a] == [SessionUpdated]
    assert a[0].record.start_command is CommandState.ACCEPTED
    a = g.do(StartConfirmed("T1", meter_start=1000), after=20 * S)
    assert moves(a) == [(Phase.STARTING, Phase.CHARGING, "start_confirmed")]
    assert g.session.charge_start_ms == T0 + 21 * S

    a = g.do(StatusReported(GunStatus.CHARGING, meter=1500), after=15 * S)
    assert only(a, StatusConfirmed)[0].status is GunStatus.CHARGING
    g.do(MeterSample(2000, power=7000), after=15 * S)
    assert g.session.last_meter == 2000

    a = g.do(StopRequested(StopReason.USER), after=30 * MIN)
    assert only(a, SendStopCharge) == [SendStopCharge("T1", "user")]
    assert moves(a) == [(Phase.CHARGING, Phase.STOPPING, "user")]
    a = g.do(StopAcknowledged(), after=S)
    assert [type(x) for x in a] == [SessionUpdated] and a[0].record.stop_acked
    a = g.do(StopConfirmed(meter_stop=9000), after=2 * S)
    assert moves(a) == [(Phase.STOPPING, Phase.FINISHED, "user")]
    assert g.session.charge_end_ms == g.now and g.session.meter_stop == 9000

    a = g.do(ServiceEnded(pile_time_ms=g.now + 5 * MIN), after=5 * MIN)
    assert moves(a) == [(Phase.FINISHED, Phase.CLOSED, "service_ended")]
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]
    assert g.session.gateway_service_end_ms == g.now
    assert g.book.is_free("alice")

    a = g.do(BillReceived("T1"), after=MIN)
    assert moves(a) == [(Phase.CLOSED, Phase.SETTLED, "bill_received")]
    assert g.state.settled and next_deadline(g.state) is None
    assert g.state.availability is Availability.AVAILABLE


def test_bill_before_unplug_settles_on_close() -> None:
    g = Gun()
    g.charging()
    g.do(StopConfirmed(meter_stop=5000), after=MIN)  # pile-side stop (battery full)
    assert g.session.end_reason == "pile_stopped"
    g.do(BillReceived("T1"), after=MIN)
    assert g.session.phase is Phase.FINISHED
    a = g.do(StatusReported(GunStatus.AVAILABLE), after=MIN)  # unplugged
    assert [m[1] for m in moves(a)] == [Phase.CLOSED, Phase.SETTLED]


def test_card_start_at_the_pile_needs_no_start_command() -> None:
    g = Gun()
    g.authorise(channel="card")
    a = g.do(StartConfirmed("T1", meter_start=0), after=30 * S)
    assert moves(a) == [(Phase.AUTHORISED, Phase.CHARGING, "start_confirmed")]
