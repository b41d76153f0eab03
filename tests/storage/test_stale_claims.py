"""A claim whose release was lost (a database outage, a crash) cannot lock an account for
good: once its session is over in the database, the next claim replaces it and the sweep
releases it (pilegate issue 10, found by the soak with a database outage)."""

from __future__ import annotations

from dataclasses import replace

from gateway.storage import SessionRow, Storage
from gateway.storage.areas.accounts import ORPHAN_CLAIM_AGE_MS, STALE_CLAIM_AGE_MS
from tests import reads
from tests.storage.support import WriterGate, pile_id, uid

T = 1_800_000_000_000


def session(account: str, pile: str, state: str, **extra: int) -> SessionRow:
    return SessionRow(uid("S"), uid("T"), pile, 1, account, "card", state, T, **extra)  # type: ignore[arg-type]


async def test_a_claim_of_an_ended_session_is_replaced_once_old_enough(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    ended = session(a, p, "settled")
    storage.record_session(ended)
    await storage.flush()
    assert await storage.claim_account(a, ended.session_id, p, 1, T) is None
    # Young: its session's row may lag the claim (a late charge re-claims an ended session).
    assert await storage.claim_account(a, "S-new", p, 2, T + 1_000) == ended.session_id
    later = T + STALE_CLAIM_AGE_MS + 1
    assert await storage.claim_account(a, "S-new", p, 2, later) is None
    held = await reads.active_service(storage, a)
    assert held is not None and (held.session_id, held.gun) == ("S-new", 2)


async def test_live_sessions_and_running_late_charges_keep_their_claims(storage: Storage) -> None:
    a, b, p = uid("A"), uid("A"), pile_id()
    live = session(a, p, "charging")
    late = session(b, p, "settled", late_charge_start_ms=T + 5)
    for row in (live, late):
        storage.record_session(row)
    await storage.flush()
    assert await storage.claim_account(a, live.session_id, p, 1, T) is None
    assert await storage.claim_account(b, late.session_id, p, 2, T) is None
    much_later = T + 10 * STALE_CLAIM_AGE_MS
    assert await storage.claim_account(a, "S-x", p, 1, much_later) == live.session_id
    assert await storage.claim_account(b, "S-y", p, 2, much_later) == late.session_id
    await storage.release_stale_claims(much_later)  # (the module's database is shared)
    assert await reads.active_service(storage, a) is not None
    assert await reads.active_service(storage, b) is not None

    storage.record_session(replace(late, late_charge_end_ms=T + 60_000))  # the charge ended
    storage.record_session(replace(live, state="closed"))
    await storage.flush()
    assert await storage.release_stale_claims(much_later) >= 2
    assert await reads.active_service(storage, a) is None
    assert await reads.active_service(storage, b) is None


async def test_a_claim_without_a_session_row_is_kept_until_it_is_an_orphan(
    storage: Storage,
) -> None:
    # A claim commits with its session's row (test_claim_rows.py): one without a row was
    # written by an older gateway version, and is released once old enough, even while this
    # process's writer holds rows.
    a, p = uid("A"), pile_id()
    t = T + 10**9  # later than the module's other tests: their orphans are released first
    gate = WriterGate(storage.writer)
    storage.record_session(session(uid("A"), p, "charging"))  # held meanwhile
    assert await storage.claim_account(a, "S-unwritten", p, 1, t) is None
    await storage.release_stale_claims(t + ORPHAN_CLAIM_AGE_MS - 1)
    assert await reads.active_service(storage, a) is not None
    young = await storage.claim_account(a, "S-next", p, 1, t + ORPHAN_CLAIM_AGE_MS - 1)
    assert young == "S-unwritten"
    await storage.release_stale_claims(t + ORPHAN_CLAIM_AGE_MS + 1)
    assert await reads.active_service(storage, a) is None
    assert await storage.claim_account(a, "S-next", p, 1, t + ORPHAN_CLAIM_AGE_MS + 2) is None
    gate.open()
