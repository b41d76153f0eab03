"""Restart recovery: when a pile first logs in to this process, the sessions the database says
are still awaited (live ones, closed ones waiting for their bill) and the most recent ended
ones (late bills and late starts still match them) are put back on their guns, with what
their timers and alarms depend on, so deadlines run on from their original anchors, an alarm
already raised is not raised again, and account claims (held in the database) are released
when the service really ends.

Gun-level state is not stored, except a charge the pile kept drawing for an ended session's
account (its `late_charge_*` interval): that holds the account, so it is rebuilt here; and the
pile's absence, from when it was last heard of (`piles.last_seen_ms`). The rest is the pile's
to tell again: the first heartbeat after login reconciles the gun (`PileOnline`), faults are
re-confirmed from fresh samples, and enable/disable comes from the piles table. See
docs/architecture.md, "What survives a restart"."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from gateway.storage import SessionRow
from sessions import (
    CommandState,
    Flag,
    GunState,
    Phase,
    PileOffline,
    RogueCharge,
    Session,
    step,
)

RESTORED = "restored_after_restart"


def session_from_row(row: SessionRow) -> Session:
    last_meter = row.meter_stop_dwh
    if last_meter is None and row.meter_start_dwh is not None and row.observed_energy_dwh:
        last_meter = row.meter_start_dwh + row.observed_energy_dwh
    return Session(
        session_id=row.session_id,
        transaction_id=row.transaction_id,
        account=row.account,
        channel=row.channel,
        phase=Phase(row.state),
        authorised_ms=row.authorised_ms or row.updated_ms,
        phase_since_ms=row.phase_since_ms if row.phase_since_ms is not None else row.updated_ms,
        reason=RESTORED,
        end_reason=row.end_reason if row.end_reason is not None else row.cancel_reason,
        start_command=CommandState(row.start_command or CommandState.NONE),
        charge_start_ms=row.charge_start_ms,
        charge_end_ms=row.charge_end_ms,
        gateway_service_end_ms=row.gateway_service_end_ms,
        pile_service_end_ms=row.pile_service_end_ms,
        meter_start=row.meter_start_dwh,
        meter_stop=row.meter_stop_dwh,
        last_meter=last_meter,
        stop_reason=row.stop_reason,
        stop_sent_ms=row.stop_sent_ms,
        stop_acked=row.stop_acked,
        stop_retries=row.stop_retries,
        charging_reports_since_stop=row.charging_reports_since_stop,
        bill_received_ms=row.bill_received_ms,
        bill_wait_alarmed=row.bill_wait_alarmed,
        late_charge_start_ms=row.late_charge_start_ms,
        late_charge_end_ms=row.late_charge_end_ms,
        late_charge_seen_ms=row.late_charge_seen_ms,
        late_charge_reports=row.late_charge_reports,
        late_charge_stop_retries=row.late_charge_stop_retries,
        flags=frozenset(Flag(f) for f in row.flags if f in Flag._value2member_map_),
    )


def _late_charge(s: Session) -> RogueCharge | None:
    """The pile was still charging for this ended session's account when the gateway went
    down: the gun's charge without a session, as it was."""
    if s.live or s.late_charge_start_ms is None or s.late_charge_end_ms is not None:
        return None
    return RogueCharge(
        since_ms=s.late_charge_start_ms,
        last_seen_ms=s.late_charge_seen_ms or s.late_charge_start_ms,
        transaction_id=s.transaction_id,
        session_id=s.session_id,
        account=s.account,
        reports_since_stop=s.late_charge_reports,
        stop_retries=s.late_charge_stop_retries,
    )


def restore(
    guns: dict[int, GunState], rows: list[SessionRow], offline_since_ms: int | None = None
) -> int:
    """Put sessions back on their guns: per gun the newest (by authorisation) is the current
    session, the older ones its history. Returns how many were restored.

    offline_since_ms: when the pile was last heard of (by any process) before this login. The
    guns given sessions are offline since then, as they would have been in a process that
    kept running: the offline timeout fires if the pile was away longer, and the first
    heartbeat after the login reconciles the rest (`PileOnline`)."""
    by_gun: dict[int, list[Session]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.authorised_ms or r.updated_ms, r.updated_ms)):
        if row.gun in guns:
            by_gun[row.gun].append(session_from_row(row))
    restored = 0
    for gun, sessions in by_gun.items():
        state = guns[gun]
        current = sessions[-1]
        past = (*state.past, *([state.session] if state.session else []), *sessions[:-1])
        rogue = state.rogue or _late_charge(current)
        state = replace(state, session=current, past=past, rogue=rogue)
        if offline_since_ms is not None:
            state, _ = step(state, PileOffline(), offline_since_ms)  # it only pauses timers
        guns[gun] = state
        restored += len(sessions)
    return restored
