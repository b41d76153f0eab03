"""Field cases 1, 2, 3, 4, 6, 7, 8 of docs/field-cases.md, replayed."""

from __future__ import annotations

import pytest

from sessions import (
    AccountClaimed,
    AccountReleased,
    AlarmKind,
    AuthorisationRejected,
    Availability,
    AvailabilityChanged,
    BillReceived,
    Disabled,
    Enabled,
    Flag,
    GunStatus,
    Phase,
    PileOffline,
    PileOnline,
    SendQueryBills,
    SendStopCharge,
    ServiceEnded,
    SessionFlagged,
    StartCommandAccepted,
    StartCommandTimedOut,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StatusConfirmed,
    StatusReported,
    StopAcknowledged,
    next_deadline,
)

from .support import MIN, T0, Gun, H, S, alarms, moves, only, stops

HEARTBEAT = 15 * S


def test_case1_failed_starts_end_at_gateway_time_and_late_bills_do_not_reopen() -> None:
    g = Gun()
    failed_at = {}
    for i in range(1, 7):  # six 60-second failed services of one account
        assert g.book.is_free("alice")
        g.authorise(f"s{i}", f"T{i}", "alice")
        g.do(StartRequested())
        g.do(StartCommandAccepted(), after=S)
        a = g.do(StartFailed(f"T{i}", "device_fault", 98), after=59 * S)
        assert moves(a) == [(Phase.STARTING, Phase.FAILED, "device_fault")]
        assert only(a, AccountReleased) == [AccountReleased("alice", f"s{i}")]
        assert g.session.gateway_service_end_ms == g.now  # no logout needed
        failed_at[f"T{i}"] = g.now
        g.now += MIN
    assert next_deadline(g.state) is None  # nothing left waiting

    # Ten hours later the pile logs out and uploads the bills, "service end" = upload time.
    g.now += 10 * H
    a = g.do(ServiceEnded(pile_time_ms=g.now))
    assert moves(a) == [] and only(a, SessionFlagged)[0].flags == {Flag.LATE_LOGOUT}
    assert g.session.pile_service_end_ms == g.now
    for i in range(1, 7):
        a = g.do(BillReceived(f"T{i}"), after=S)
        assert moves(a) == [(Phase.FAILED, Phase.SETTLED, "late_bill")]
        record = only(a, SessionFlagged)[0].record
        assert Flag.LATE_BILL in record.flags
        settled = g.state.find(transaction_id=f"T{i}")
        assert settled is not None
        assert settled.gateway_service_end_ms == failed_at[f"T{i}"]  # billing caps idle time here
        assert settled.charge_start_ms is None
        assert stops(a) == [] and only(a, AccountClaimed) == []
    assert g.book.is_free("alice")


def test_case1_device_fault_report_while_starting_fails_at_once() -> None:
    g = Gun()
    g.authorise()
    g.do(StartRequested())
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=98), after=60 * S)
    assert moves(a) == [(Phase.STARTING, Phase.FAILED, "device_fault")]
    assert g.session.gateway_service_end_ms == T0 + 60 * S
    a = g.do(BillReceived("T1"), at=T0 + 10 * H)
    assert moves(a) == [(Phase.FAILED, Phase.SETTLED, "late_bill")]
    assert g.session.gateway_service_end_ms == T0 + 60 * S


def test_case2_stop_acknowledged_but_pile_keeps_charging() -> None:
    gun_a = Gun(now=T0 + 71 * MIN)  # 04:51 scan and authorise
    gun_a.authorise("s1", "T1", "alice")
    gun_a.do(StartRequested(), after=4 * MIN)  # 04:55 start command, pile acks
    gun_a.do(StartCommandAccepted(), after=S)
    gun_a.do(StatusReported(GunStatus.PREPARING), after=HEARTBEAT)  # "gun ready"
    # 04:56: five minutes after authorisation, no charge: the gateway stops and cancels.
    a = gun_a.tick_at(next_deadline(gun_a.state))
    assert stops(a) == [SendStopCharge("T1", "start_timeout")]
    assert moves(a) == [(Phase.STARTING, Phase.CANCELLED, "start_timeout")]
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]
    assert gun_a.do(StopAcknowledged(), after=S) == ()  # pile acks the stop...

    # ...but charges anyway; the first heartbeat that says so is caught at once.
    a = gun_a.do(StatusReported(GunStatus.CHARGING, meter=10), after=HEARTBEAT)
    assert stops(a) == [SendStopCharge("T1", "charging_without_session")]
    assert set(alarms(a)) == {
        AlarmKind.CHARGING_WITHOUT_SESSION,
        AlarmKind.START_LATE_AFTER_TIMEOUT,
    }
    assert only(a, AccountClaimed) == [AccountClaimed("alice", "s1")]
    assert Flag.OVERLAP in gun_a.session.flags
    # 05:34: the same account on a second gun is refused by the global registry.
    assert not gun_a.book.is_free("alice")

    # Later heartbeats still say charging: re-send the stop every N=2 reports and alarm.
    a = gun_a.do(StatusReported(GunStatus.CHARGING), after=HEARTBEAT)
    assert not stops(a) and not alarms(a)  # only the late charge's bookkeeping is persisted
    assert gun_a.session.late_charge_reports == 1
    a = gun_a.do(StatusReported(GunStatus.CHARGING), after=HEARTBEAT)
    assert stops(a) == [SendStopCharge("T1", "charging_without_session")]
    assert alarms(a) == [AlarmKind.STOP_NOT_HONOURED]

    a = gun_a.do(StatusReported(GunStatus.FINISHING), after=HEARTBEAT)
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]
    assert gun_a.book.is_free("alice")
    a = gun_a.do(BillReceived("T1"), at=T0 + 2 * H + 38 * MIN)  # 06:18
    assert moves(a) == [(Phase.CANCELLED, Phase.SETTLED, "late_bill")]
    assert {Flag.OVERLAP, Flag.LATE_START, Flag.LATE_BILL} <= gun_a.session.flags


def test_case2_overlap_is_visible_when_the_account_already_runs_elsewhere() -> None:
    gun_a, gun_b = Gun(), Gun()
    gun_a.authorise("s1", "T1", "alice")
    gun_a.do(StartRequested())
    gun_a.tick_at(T0 + 5 * MIN)  # start timeout, account released
    gun_b.authorise("s2", "T2", "alice")  # gateway believed alice free
    a = gun_a.do(StatusReported(GunStatus.CHARGING), after=MIN)
    book = gun_b.book.apply(gun_a.log)
    assert book.overlaps() == {"alice": frozenset({"s1", "s2"})}
    assert len(stops(a)) == 1


def test_case3_single_fault_sample_is_not_the_end_of_a_charge() -> None:
    g = Gun()
    g.charging()
    g.do(StatusReported(GunStatus.CHARGING), after=HEARTBEAT)
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=8), after=HEARTBEAT)  # 12:28
    assert a == ()  # no transition, no alarm, no user notification
    for _ in range(3):
        assert g.do(StatusReported(GunStatus.CHARGING), after=HEARTBEAT) == ()
    assert g.session.phase is Phase.CHARGING and g.state.confirmed is GunStatus.CHARGING

    # Two faults, a charging sample, a fault: still never three in a row.
    for status in (GunStatus.FAULTED, GunStatus.FAULTED, GunStatus.CHARGING, GunStatus.FAULTED):
        assert moves(g.do(StatusReported(status, fault_code=8), after=HEARTBEAT)) == []
    g.do(StatusReported(GunStatus.FAULTED, fault_code=8), after=HEARTBEAT)
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=8), after=HEARTBEAT)  # third in a row
    assert moves(a) == [(Phase.CHARGING, Phase.FINISHED, "device_fault")]
    assert alarms(a) == [AlarmKind.FAULT]
    confirmed = only(a, StatusConfirmed)
    assert [(c.previous, c.status) for c in confirmed] == [(GunStatus.CHARGING, GunStatus.FAULTED)]


def test_case4_charging_without_any_session_is_stopped_at_the_first_sample() -> None:
    g = Gun()
    a = g.do(StatusReported(GunStatus.CHARGING, power=7000))
    assert stops(a) == [SendStopCharge(None, "charging_without_session")]
    assert alarms(a) == [AlarmKind.CHARGING_WITHOUT_SESSION]
    assert only(a, AccountClaimed) == []
    assert only(a, AvailabilityChanged)[0].availability is Availability.BUSY
    with pytest.raises(AuthorisationRejected):
        g.authorise()
    a = g.do(StatusReported(GunStatus.AVAILABLE), after=HEARTBEAT)
    assert g.state.rogue is None and only(a, AccountReleased) == []
    g.authorise()  # the gun serves again


def test_case4_charging_after_a_settled_session_is_theft_too() -> None:
    g = Gun()
    g.charging()
    g.do(ServiceEnded(), after=H)
    g.do(BillReceived("T1"), after=MIN)
    a = g.do(StatusReported(GunStatus.CHARGING), after=H)
    assert stops(a) == [SendStopCharge(None, "charging_without_session")]
    assert alarms(a) == [AlarmKind.CHARGING_WITHOUT_SESSION]
    assert only(a, AccountClaimed) == []  # that service was billed and closed


def test_case6_partner_start_times_out_then_the_pile_starts_late() -> None:
    g = Gun()
    g.authorise("s1", "T1", "bob", channel="xiaoju")
    g.do(StartRequested())
    a = g.do(StartCommandTimedOut(), after=30 * S)
    assert moves(a) == [(Phase.STARTING, Phase.CANCELLED, "start_command_timeout")]
    assert only(a, AccountReleased) == [AccountReleased("bob", "s1")]
    assert stops(a) == []
    a = g.do(StartConfirmed("T1", meter_start=0), after=40 * S)
    assert stops(a) == [SendStopCharge("T1", "charging_without_session")]
    assert AlarmKind.START_LATE_AFTER_TIMEOUT in alarms(a)
    assert only(a, AccountClaimed) == [AccountClaimed("bob", "s1")]
    assert {Flag.OVERLAP, Flag.LATE_START} <= g.session.flags


def test_case6_charging_report_after_start_timeout() -> None:
    g = Gun()
    g.authorise()
    g.do(StartRequested())
    g.tick_at(T0 + 5 * MIN)
    a = g.do(StatusReported(GunStatus.CHARGING), after=10 * S)
    assert stops(a) == [SendStopCharge("T1", "charging_without_session")]
    assert AlarmKind.START_LATE_AFTER_TIMEOUT in alarms(a)


def test_case7_lost_update_reconciled_when_the_pile_reconnects() -> None:
    g = Gun()
    g.charging()
    g.do(PileOffline(), after=H)
    a = g.do(PileOnline(GunStatus.AVAILABLE), after=10 * MIN)  # stop + unplug were lost
    assert moves(a) == [(Phase.CHARGING, Phase.CLOSED, "ended_while_offline")]
    assert only(a, SendQueryBills) == [SendQueryBills(("T1",))]
    assert g.book.is_free("alice")
    g.authorise("s2", "T2", "alice")  # the user can start again
    a = g.do(BillReceived("T1"), after=MIN)  # the old bill still settles the old session
    assert moves(a) == [(Phase.CLOSED, Phase.SETTLED, "bill_received")]


def test_case7_no_session_stays_open_forever_even_if_every_update_is_lost() -> None:
    g = Gun()
    g.charging()
    a = g.run_out()
    assert [m[1] for m in moves(a)] == [
        Phase.STOPPING,  # max charge duration
        Phase.FINISHED,  # stop never confirmed, retries exhausted
        Phase.CLOSED,  # never unplugged
        Phase.SETTLED,  # bill never came: settled as lost
    ]
    assert g.session.reason == "bill_lost" and Flag.BILL_LOST in g.session.flags
    assert AlarmKind.BILL_WAIT_TIMEOUT in alarms(a)
    assert g.book.is_free("alice") and g.state.settled


def test_case8_disabled_gun_refuses_service_until_enabled() -> None:
    g = Gun()
    a = g.do(Disabled())
    assert only(a, AvailabilityChanged)[0].availability is Availability.DISABLED
    before = g.state
    with pytest.raises(AuthorisationRejected) as err:
        g.authorise()
    assert err.value.reason == "gun_disabled" and g.state is before
    a = g.do(Enabled(), after=MIN)
    assert only(a, AvailabilityChanged)[0].availability is Availability.AVAILABLE
    g.authorise()
    assert g.session.phase is Phase.AUTHORISED
