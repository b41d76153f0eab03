"""Random event sequences: only typed errors, sane invariants, and every run terminates."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import (
    AccountClaimed,
    AccountReleased,
    Authorised,
    BillReceived,
    Disabled,
    Enabled,
    Event,
    GunState,
    GunStatus,
    MeterSample,
    PileOffline,
    PileOnline,
    ServiceEnded,
    SessionConfig,
    SessionError,
    StartCommandAccepted,
    StartCommandRejected,
    StartCommandTimedOut,
    StartConfirmed,
    StartFailed,
    StartRequested,
    StatusReported,
    StopAcknowledged,
    StopConfirmed,
    StopReason,
    StopRequested,
    Tick,
    next_deadline,
    step,
)

from .support import MIN, T0

TXS = st.sampled_from(["T0", "T1", "T2", "T3"])
STATUS = st.sampled_from(list(GunStatus))
FAULT_CODES = st.sampled_from([None, 8, 98])

# Authorised ids are made unique by position below (a gateway never reuses them).
EVENTS = st.one_of(
    st.just(Authorised("?", "?", "alice", "app")),
    st.sampled_from(
        [
            StartRequested(),
            StartCommandAccepted(),
            StartCommandRejected(),
            StartCommandTimedOut(),
            StopAcknowledged(),
            PileOffline(),
            Disabled(),
            Enabled(),
            Tick(),
            *(StopRequested(r) for r in StopReason),
        ]
    ),
    st.builds(StartConfirmed, TXS, st.none() | st.integers(0, 10**6)),
    st.builds(StartFailed, TXS, st.just("device_fault"), FAULT_CODES),
    st.builds(StopConfirmed, st.none() | st.integers(0, 10**6), st.none() | TXS),
    st.builds(StatusReported, STATUS, FAULT_CODES, st.none() | st.integers(0, 10**6)),
    st.builds(MeterSample, st.integers(0, 10**6)),
    st.builds(ServiceEnded, st.none() | st.integers(T0, T0 + 10**9)),
    st.builds(BillReceived, TXS),
    st.builds(PileOnline, STATUS, FAULT_CODES),
)
GAPS = st.one_of(st.integers(0, 20_000), st.integers(0, 3 * 60 * MIN))
CONFIGS = st.sampled_from(
    [
        SessionConfig(),
        SessionConfig(stop_not_honoured_reports=1, max_stop_retries=0, fault_confirm_samples=1),
        SessionConfig(start_timeout_ms=MIN, offline_timeout_ms=MIN, history_limit=1),
    ]
)


def _unique(event: Event, position: int) -> Event:
    if isinstance(event, Authorised):
        account = ("alice", "bob")[position % 2]
        # Transactions repeat across sessions so that random bills and starts can match.
        return Authorised(f"s{position}", f"T{position % 4}", account, "app")
    return event


def _check_accounts(holds: Counter, actions: tuple) -> None:
    for a in actions:
        if isinstance(a, AccountClaimed):
            holds[(a.account, a.session_id)] += 1
            assert holds[(a.account, a.session_id)] == 1, "claimed twice"
        elif isinstance(a, AccountReleased):
            holds[(a.account, a.session_id)] -= 1
            assert holds[(a.account, a.session_id)] == 0, "released without a claim"


@settings(max_examples=150, deadline=None)
@given(CONFIGS, st.lists(st.tuples(EVENTS, GAPS), max_size=40))
def test_random_sequences_only_raise_typed_errors_and_always_terminate(
    config: SessionConfig, script: list[tuple[Event, int]]
) -> None:
    state = GunState(config=config)
    now = T0
    holds: Counter = Counter()
    for position, (event, gap) in enumerate(script):
        now += gap
        try:
            new, actions = step(state, _unique(event, position), now)
        except SessionError:
            continue  # the old state stays current
        _check_accounts(holds, actions)
        if new.rogue is not None:
            assert new.live_session is None
        if isinstance(event, Tick):
            deadline = next_deadline(new)
            assert deadline is None or deadline > now  # every due timeout was handled
        state = new

    for _ in range(100):
        deadline = next_deadline(state)
        if deadline is None:
            break
        now = max(now, deadline)
        state, actions = step(state, Tick(), now)
        _check_accounts(holds, actions)
    assert next_deadline(state) is None
    assert state.settled
    assert +holds == Counter()  # every claimed account was released
