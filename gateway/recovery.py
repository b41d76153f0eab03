"""Restart recovery: sessions the database says are open are put back on their guns when the
pile first logs in to this process, so late logouts and bills still match, timers run again
and account claims (held in the database) are released when the service really ends."""

from __future__ import annotations

from dataclasses import replace

from gateway.storage import SessionRow
from sessions import LIVE, Flag, GunState, Phase, Session


def session_from_row(row: SessionRow) -> Session:
    return Session(
        session_id=row.session_id,
        transaction_id=row.transaction_id,
        account=row.account,
        channel=row.channel,
        phase=Phase(row.state),
        authorised_ms=row.authorised_ms or row.updated_ms,
        phase_since_ms=row.updated_ms,
        reason="restored_after_restart",
        end_reason=row.cancel_reason,
        charge_start_ms=row.charge_start_ms,
        charge_end_ms=row.charge_end_ms,
        service_end_ms=row.gateway_service_end_ms,
        pile_service_end_ms=row.service_end_ms,
        meter_start=row.meter_start_dwh,
        meter_stop=row.meter_stop_dwh,
        last_meter=row.meter_stop_dwh,
        stop_reason=row.stop_reason,
        flags=frozenset(Flag(f) for f in row.flags if f in Flag._value2member_map_),
    )


def restore(guns: dict[int, GunState], rows: list[SessionRow]) -> int:
    """Put open sessions back: the newest live one as the gun's session, closed ones (still
    waiting for their bill) into its history. Returns how many were restored."""
    restored = 0
    for row in sorted(rows, key=lambda r: r.updated_ms):
        state = guns.get(row.gun)
        if state is None:
            continue
        session = session_from_row(row)
        current = state.session
        if session.phase in LIVE or current is None:
            past = state.past if current is None else (current, *state.past)
            guns[row.gun] = replace(state, session=session, past=past)
        else:
            guns[row.gun] = replace(state, past=(*state.past, session))
        restored += 1
    return restored
