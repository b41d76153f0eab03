"""An account claim and its session's row commit together, whatever the batch writer holds
(pilegate issue 10: after a database outage the writer lagged minutes behind the claims, and
a kill -9 in that time left 820 claims whose sessions the database did not know).

The writer is held at its door (`WriterGate`): what the database shows meanwhile is what a
kill -9 would leave behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from gateway.storage import SessionRow, Storage
from gateway.storage.session_rows import RowVersions
from sessions import Authorised, GunState, SessionTransition, step
from tests import reads
from tests.storage.support import WriterGate, pile_id, uid

T = 1_800_000_000_000


def opening(account: str, pile: str, gun: int, at_ms: int = T) -> SessionRow:
    sid = uid("S")
    return SessionRow.authorised(
        sid, transaction_id=sid, pile_id=pile, gun=gun, account=account, channel="card",
        at_ms=at_ms,
    )  # fmt: skip


async def state_of(storage: Storage, session_id: str) -> str | None:
    row = await reads.get_session(storage, session_id)
    return None if row is None else row.state


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached within {timeout} s")


async def test_a_claim_commits_with_its_session_row_however_far_the_writer_lags(
    storage: Storage,
) -> None:
    a, b, p = uid("A"), uid("A"), pile_id()
    before = replace(opening(b, p, 1), state="charging")  # the gun's previous service
    storage.record_session(before)
    await storage.flush()
    gate = WriterGate(storage.writer)
    storage.record_session(replace(before, state="cancelled", updated_ms=T + 1))  # held
    elsewhere = replace(opening(b, p, 2), state="charging")  # held, another gun
    storage.record_session(elsewhere)

    new = opening(a, p, 1, T + 2)
    assert await storage.claim_account(a, new.session_id, p, 1, T + 2, opens=new) is None

    # A kill -9 now leaves the claim with its session, and the gun's history in order.
    held = await reads.active_service(storage, a)
    assert held is not None and held.session_id == new.session_id
    row = await reads.get_session(storage, new.session_id)
    assert row is not None
    assert (row.state, row.account, row.channel, row.gun) == ("authorised", a, "card", 1)
    assert await state_of(storage, before.session_id) == "cancelled"
    assert await state_of(storage, elsewhere.session_id) is None  # not the claim's gun

    gate.open()
    await storage.flush()
    assert await state_of(storage, elsewhere.session_id) == "charging"
    assert await state_of(storage, new.session_id) == "authorised"


async def test_a_claim_in_the_way_writes_nothing(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    first, second = opening(a, p, 1), opening(a, p, 2)
    assert await storage.claim_account(a, first.session_id, p, 1, T, opens=first) is None
    busy = await storage.claim_account(a, second.session_id, p, 2, T + 1, opens=second)
    assert busy == first.session_id
    assert await state_of(storage, second.session_id) is None


async def test_a_release_commits_with_the_end_of_its_session(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    s = opening(a, p, 1)
    assert await storage.claim_account(a, s.session_id, p, 1, T, opens=s) is None
    gate = WriterGate(storage.writer)
    storage.record_session(replace(s, state="charging", updated_ms=T + 1))
    storage.record_session(replace(s, state="closed", updated_ms=T + 2))
    assert await storage.release_account(a, s.session_id)
    # A kill -9 now: the account is free and its session is not left live in the database.
    assert await reads.active_service(storage, a) is None
    assert await state_of(storage, s.session_id) == "closed"
    gate.open()
    await storage.flush()
    assert await state_of(storage, s.session_id) == "closed"


async def test_a_claim_whose_session_never_opened_leaves_nothing(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    s = opening(a, p, 1)
    assert await storage.claim_account(a, s.session_id, p, 1, T, opens=s) is None
    assert await state_of(storage, s.session_id) == "authorised"
    # The gun became busy while the claim was written: the authorisation is refused.
    assert await storage.release_account(a, s.session_id, opened=False)
    assert await reads.active_service(storage, a) is None
    assert await state_of(storage, s.session_id) is None


async def test_an_older_version_of_a_row_never_replaces_a_newer_one(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    s = opening(a, p, 1)
    assert await storage.claim_account(a, s.session_id, p, 1, T, opens=s) is None
    gate = WriterGate(storage.writer)
    storage.record_session(replace(s, state="charging", updated_ms=T + 1))
    await until(lambda: gate.waiting == 1)  # that batch is on its way to the database
    storage.record_session(replace(s, state="stopping", updated_ms=T + 2))
    # The pile charges on after the stop: the re-claim writes the session's newest row.
    assert await storage.claim_account(a, s.session_id, p, 1, T + 3) is None
    assert await state_of(storage, s.session_id) == "stopping"

    batches = storage.stats.batches
    gate.step()  # the older version reaches the database after the newer one
    await until(lambda: storage.stats.batches > batches)
    assert await state_of(storage, s.session_id) == "stopping"
    gate.open()
    await storage.flush()
    assert await state_of(storage, s.session_id) == "stopping"


def test_row_versions_increase_whatever_the_wall_clock_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    versions = RowVersions()
    first = versions.next()
    monkeypatch.setattr("gateway.storage.session_rows.time.time_ns", lambda: 1_000_000_000)
    second = versions.next()  # the wall clock stepped back 56 years
    assert second > first
    versions.observe(second + 10**9)  # a row the previous process wrote, read back
    assert versions.next() > second + 10**9


def test_the_row_a_claim_opens_is_the_one_the_machine_writes() -> None:
    # The claim writes the row before the session machine has run; the machine's first row
    # (a newer version of it) must say the same, or a kill -9 in between would restore
    # something the machine never had.
    _, actions = step(GunState(), Authorised("S1", "S1", "A1", "card"), T)
    opened = next(a for a in actions if isinstance(a, SessionTransition))
    machine = SessionRow.from_session(opened.record, pile_id="P", gun=2, at_ms=T)
    claim = SessionRow.authorised(
        "S1", transaction_id="S1", pile_id="P", gun=2, account="A1", channel="card", at_ms=T
    )
    assert claim == machine
