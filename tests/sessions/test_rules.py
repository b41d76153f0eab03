"""Each configurable rule of the session machine, with defaults and a non-default config."""

from __future__ import annotations

import pytest

from sessions import (
    AccountClaimed,
    AccountReleased,
    AlarmKind,
    AuthorisationRejected,
    BillReceived,
    Disabled,
    Flag,
    GunStatus,
    Phase,
    PileLoggedIn,
    PileOffline,
    PileOnline,
    Refusal,
    SendQueryBills,
    SendStopCharge,
    ServiceEnded,
    SessionConfig,
    StartCommandRejected,
    StartFailed,
    StartRequested,
    StatusReported,
    StopAcknowledged,
    StopConfirmed,
    StopReason,
    StopRequested,
    Timeout,
    UnmatchedBill,
    next_deadline,
    pending,
)

from .support import MIN, T0, Gun, H, S, alarms, moves, only, stops

CHARGING = StatusReported(GunStatus.CHARGING)


def test_config_defaults() -> None:
    c = SessionConfig()
    assert (c.start_timeout_ms, c.stop_timeout_ms, c.bill_wait_ms) == (300_000, 60_000, 1_800_000)
    assert (c.stop_not_honoured_reports, c.max_stop_retries, c.fault_confirm_samples) == (2, 3, 3)
    assert c.start_fault_codes == {98}


@pytest.mark.parametrize(
    "changes", [{"start_timeout_ms": 0}, {"bill_lost_ms": 1000, "bill_wait_ms": 1000}]
)
def test_config_rejects_values_that_would_stall_ticks(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SessionConfig(**changes)


# -- rule 1: start timeout -------------------------------------------------------------------


@pytest.mark.parametrize("limit", [SessionConfig().start_timeout_ms, 10 * S])
def test_start_timeout(limit: int) -> None:
    g = Gun(SessionConfig(start_timeout_ms=limit))
    g.authorise()
    g.do(StartRequested())
    assert next_deadline(g.state) == T0 + limit
    assert g.tick_at(T0 + limit - 1) == ()
    a = g.tick_at(T0 + limit)
    assert stops(a) == [SendStopCharge("T1", "start_timeout")]
    assert moves(a) == [(Phase.STARTING, Phase.CANCELLED, "start_timeout")]
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]


def test_start_rejected_cancels_without_stop() -> None:
    g = Gun()
    g.authorise()
    g.do(StartRequested())
    a = g.do(StartCommandRejected("busy"), after=S)
    assert moves(a) == [(Phase.STARTING, Phase.CANCELLED, "start_rejected")] and stops(a) == []


def test_user_cancel_before_charge_stops_only_if_a_start_was_sent() -> None:
    g = Gun()
    g.authorise()
    assert stops(g.do(StopRequested(StopReason.USER))) == []
    g2 = Gun()
    g2.authorise()
    g2.do(StartRequested())
    assert stops(g2.do(StopRequested(StopReason.USER))) == [SendStopCharge("T1", "user")]
    assert g2.session.phase is Phase.CANCELLED


# -- rule 2: failed start --------------------------------------------------------------------


def test_non_device_fault_while_starting_needs_confirmation() -> None:
    g = Gun(SessionConfig(fault_confirm_samples=2))
    g.authorise()
    g.do(StartRequested())
    assert moves(g.do(StatusReported(GunStatus.FAULTED, fault_code=5), after=S)) == []
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=5), after=S)
    assert moves(a) == [(Phase.STARTING, Phase.FAILED, "device_fault")]


def test_start_fault_codes_are_configurable() -> None:
    g = Gun(SessionConfig(start_fault_codes=frozenset({42})))
    g.authorise()
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=42), after=S)
    assert moves(a) == [(Phase.AUTHORISED, Phase.FAILED, "device_fault")]


def test_failed_start_then_late_logout_keeps_gateway_end() -> None:
    g = Gun()
    g.authorise()
    g.do(StartFailed("T1", "device_fault", 98), after=MIN)
    end = g.session.gateway_service_end_ms
    g.do(ServiceEnded(pile_time_ms=T0 + 10 * H), at=T0 + 10 * H)
    assert g.session.phase is Phase.FAILED and g.session.gateway_service_end_ms == end


# -- rule 3: stop not honoured ---------------------------------------------------------------


def _stopping(config: SessionConfig | None = None) -> Gun:
    g = Gun(config)
    g.charging()
    g.do(StopRequested(StopReason.REMOTE), after=MIN)
    g.do(StopAcknowledged(), after=S)
    return g


def test_stop_not_honoured_resends_after_n_reports_with_bounded_retries() -> None:
    g = _stopping(SessionConfig(stop_not_honoured_reports=3, max_stop_retries=2))
    sent = []
    for _ in range(12):
        a = g.do(CHARGING, after=10 * S)
        sent.extend(stops(a))
        if stops(a):
            assert alarms(a) == [AlarmKind.STOP_NOT_HONOURED]
    assert sent == [SendStopCharge("T1", "remote")] * 2  # bounded
    assert alarms(g.log).count(AlarmKind.STOP_NOT_HONOURED) == 4  # alarms continue
    assert Flag.STOP_NOT_HONOURED in g.session.flags
    assert g.session.phase is Phase.STOPPING


def test_stop_timeout_resends_then_gives_up() -> None:
    g = _stopping(SessionConfig(stop_timeout_ms=30 * S, max_stop_retries=1))
    first = g.now - S
    a = g.tick_at(first + 30 * S)
    assert stops(a) == [SendStopCharge("T1", "remote")]
    a = g.tick_at(first + 60 * S)
    assert stops(a) == [] and moves(a) == [(Phase.STOPPING, Phase.FINISHED, "stop_timeout")]
    assert alarms(a) == [AlarmKind.STOP_NOT_HONOURED]


def test_finishing_or_unplug_report_completes_a_stop() -> None:
    g = _stopping()
    a = g.do(StatusReported(GunStatus.FINISHING), after=S)
    assert moves(a) == [(Phase.STOPPING, Phase.FINISHED, "remote")]
    a = g.do(StatusReported(GunStatus.AVAILABLE), after=MIN)
    assert moves(a) == [(Phase.FINISHED, Phase.CLOSED, "unplugged")]


# -- rule 4: charging without a session ------------------------------------------------------


def test_charging_after_failed_start_reclaims_account_until_it_stops() -> None:
    g = Gun()
    g.authorise()
    g.do(StartFailed("T1"), after=MIN)
    a = g.do(CHARGING, after=MIN)
    assert stops(a) == [SendStopCharge("T1", "charging_without_session")]
    assert alarms(a) == [AlarmKind.CHARGING_WITHOUT_SESSION]
    assert only(a, AccountClaimed) == [AccountClaimed("alice", "s1")]
    a = g.do(StopConfirmed(), after=MIN)
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]
    assert g.state.rogue is None


def test_rogue_hold_is_released_when_reports_stop_coming() -> None:
    g = Gun(SessionConfig(rogue_release_ms=5 * MIN))
    g.authorise()
    g.do(StartFailed("T1"), after=MIN)
    g.do(CHARGING, after=MIN)
    seen = g.now
    assert next_deadline(g.state) == seen + 5 * MIN
    a = g.tick_at(seen + 5 * MIN)
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]


def test_transient_fault_does_not_end_a_rogue_charge() -> None:
    g = Gun()
    g.do(CHARGING)
    g.do(StatusReported(GunStatus.FAULTED), after=S)
    assert g.state.rogue is not None


# -- rule 5: transient faults ----------------------------------------------------------------


def test_fault_confirmation_is_configurable() -> None:
    g = Gun(SessionConfig(fault_confirm_samples=1))
    g.charging()
    a = g.do(StatusReported(GunStatus.FAULTED, fault_code=8), after=S)
    assert moves(a) == [(Phase.CHARGING, Phase.FINISHED, "device_fault")]
    g.do(ServiceEnded(), after=S)
    with pytest.raises(AuthorisationRejected) as err:  # faulted guns take no new service
        g.authorise("s2", "T2", "bob")
    assert err.value.reason == "gun_faulted"


# -- rule 7: offline -------------------------------------------------------------------------


def test_offline_pauses_pile_timers_and_the_offline_timeout_ends_the_session() -> None:
    g = _stopping(SessionConfig(offline_timeout_ms=H))
    g.do(PileOffline(), after=S)
    off = g.now
    assert [d.timeout for d in pending(g.state)] == [Timeout.OFFLINE]
    assert g.tick_at(off + 59 * MIN) == ()  # stop timeout paused
    a = g.tick_at(off + H)
    assert moves(a) == [(Phase.STOPPING, Phase.CLOSED, "offline_timeout")]
    assert AlarmKind.OFFLINE_TIMEOUT in alarms(a)
    assert Flag.ENDED_OFFLINE in g.session.flags
    assert {d.timeout for d in pending(g.state)} == {Timeout.BILL_WAIT, Timeout.BILL_LOST}


def test_a_login_after_the_offline_deadline_fires_the_timeout_before_going_online() -> None:
    # No Tick ran while the pile was away (the gateway restarted, say): the login must not
    # erase a timeout that was already due.
    g = _stopping(SessionConfig(offline_timeout_ms=H))
    g.do(PileOffline(), after=S)
    a = g.do(PileLoggedIn(), after=2 * H)
    assert moves(a) == [(Phase.STOPPING, Phase.CLOSED, "offline_timeout")]
    assert AlarmKind.OFFLINE_TIMEOUT in alarms(a)
    assert not g.state.offline


def test_offline_session_charging_on_reconnect_keeps_charging() -> None:
    g = Gun()
    g.charging()
    g.do(PileOffline(), after=MIN)
    a = g.do(PileOnline(GunStatus.CHARGING), after=MIN)
    assert moves(a) == [] and stops(a) == []


def test_reconnect_finishing_gun_finishes_and_queries_bills() -> None:
    g = Gun()
    g.charging()
    g.do(PileOffline(), after=MIN)
    a = g.do(PileOnline(GunStatus.FINISHING), after=MIN)
    assert moves(a) == [(Phase.CHARGING, Phase.FINISHED, "ended_while_offline")]
    assert only(a, SendQueryBills) == [SendQueryBills(("T1",))]


def test_start_timeout_still_runs_while_offline() -> None:
    g = Gun()
    g.authorise()
    g.do(StartRequested())
    g.do(PileOffline(), after=S)
    a = g.tick_at(T0 + 5 * MIN)
    assert moves(a) == [(Phase.STARTING, Phase.CANCELLED, "start_timeout")]


def test_offline_pile_refuses_new_sessions() -> None:
    g = Gun()
    g.do(PileOffline())
    with pytest.raises(AuthorisationRejected) as err:
        g.authorise()
    assert err.value.reason == "pile_offline"


# -- rule 8: bill wait -----------------------------------------------------------------------


def test_bill_wait_alarms_and_queries_then_settles_as_lost() -> None:
    g = Gun(SessionConfig(bill_wait_ms=10 * MIN, bill_lost_ms=H))
    g.charging()
    g.do(ServiceEnded(), after=H)
    closed = g.now
    a = g.tick_at(closed + 10 * MIN)
    assert alarms(a) == [AlarmKind.BILL_WAIT_TIMEOUT]
    assert only(a, SendQueryBills) == [SendQueryBills(("T1",))]
    assert g.tick_at(closed + 30 * MIN) == ()
    a = g.tick_at(closed + H)
    assert moves(a) == [(Phase.CLOSED, Phase.SETTLED, "bill_lost")]
    assert alarms(a) == [AlarmKind.BILL_LOST]


def test_unplug_timeout_closes_a_finished_session() -> None:
    g = Gun(SessionConfig(unplug_timeout_ms=H))
    g.charging()
    g.do(StopConfirmed(), after=MIN)
    a = g.tick_at(g.now + H)
    assert moves(a) == [(Phase.FINISHED, Phase.CLOSED, "unplug_timeout")]
    assert g.session.gateway_service_end_ms == g.now


def test_max_charge_duration_stops_the_charge() -> None:
    g = Gun(SessionConfig(max_charge_ms=2 * H))
    g.charging()
    a = g.tick_at(g.session.charge_start_ms + 2 * H)
    assert stops(a) == [SendStopCharge("T1", "max_duration")]


# -- rules 9, 10: disabled, one session per gun ----------------------------------------------


def test_disabling_keeps_the_live_session_running() -> None:
    g = Gun()
    g.charging()
    assert moves(g.do(Disabled(), after=MIN)) == []
    assert g.session.phase is Phase.CHARGING


def test_one_live_session_per_gun() -> None:
    g = Gun()
    g.authorise()
    before = g.state
    with pytest.raises(AuthorisationRejected) as err:
        g.authorise("s2", "T2", "bob")
    assert err.value.reason is Refusal.GUN_BUSY and g.state is before


def test_closed_session_waits_for_its_bill_while_the_gun_serves_again() -> None:
    g = Gun()
    g.charging()
    g.do(ServiceEnded(), after=H)
    g.authorise("s2", "T2", "bob")
    assert [s.session_id for s in g.state.past] == ["s1"]
    assert Timeout.BILL_WAIT in {d.timeout for d in pending(g.state)}
    a = g.do(BillReceived("T1"), after=MIN)
    assert moves(a) == [(Phase.CLOSED, Phase.SETTLED, "bill_received")]
    assert g.session.session_id == "s2" and g.session.phase is Phase.AUTHORISED


def test_bill_for_a_forgotten_transaction_is_never_dropped() -> None:
    g = Gun()
    a = g.do(BillReceived("T404"))
    assert a == (UnmatchedBill("T404", T0),)


def test_charging_report_confirms_a_start_whose_message_never_came() -> None:
    g = Gun()
    g.authorise()
    g.do(StartRequested())
    a = g.do(StatusReported(GunStatus.CHARGING, meter=321), after=30 * S)
    assert moves(a) == [(Phase.STARTING, Phase.CHARGING, "start_confirmed_by_status")]
    assert g.session.meter_start == 321 and stops(a) == []


def test_plugged_report_completes_a_stop() -> None:
    g = _stopping()
    a = g.do(StatusReported(GunStatus.PREPARING), after=S)
    assert moves(a) == [(Phase.STOPPING, Phase.FINISHED, "remote")]


def test_bill_during_charge_ends_the_charge_and_bill_before_start_settles() -> None:
    g = Gun()
    g.charging()
    a = g.do(BillReceived("T1"), after=H)
    assert moves(a) == [(Phase.CHARGING, Phase.FINISHED, "bill_received")]
    g2 = Gun()
    g2.authorise()
    a = g2.do(BillReceived("T1"), after=MIN)
    assert moves(a) == [(Phase.AUTHORISED, Phase.SETTLED, "bill_before_start")]
    assert only(a, AccountReleased) == [AccountReleased("alice", "s1")]


def test_offline_timeout_cancels_a_start_when_it_is_the_shorter_limit() -> None:
    g = Gun(SessionConfig(offline_timeout_ms=MIN))
    g.authorise()
    g.do(PileOffline(), after=S)
    a = g.tick_at(g.now + MIN)
    assert moves(a) == [(Phase.AUTHORISED, Phase.CANCELLED, "offline_timeout")]


def test_history_keeps_closed_sessions_and_drops_oldest_ended_ones() -> None:
    g = Gun(SessionConfig(history_limit=2))
    g.charging("s0", "T0")
    g.do(ServiceEnded(), after=H)  # CLOSED, waits for its bill
    for i in range(1, 5):
        g.authorise(f"s{i}", f"T{i}")
        g.do(StartFailed(f"T{i}"), after=MIN)
    g.authorise("s9", "T9")
    assert [s.session_id for s in g.state.past] == ["s0", "s4"]
    assert only(g.do(BillReceived("T1"), after=MIN), UnmatchedBill)  # forgotten, still kept
    assert moves(g.do(BillReceived("T0"), after=MIN))[0][1] is Phase.SETTLED
