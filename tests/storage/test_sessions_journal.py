from __future__ import annotations

import pytest

from billing.anomalies import AnomalyCode
from billing.idle_fee import IdleFeeRule
from billing.tariff import ScopeKind
from gateway.storage import DEFAULT_IDLE_RULE, DEFAULT_TARIFF, JournalEntry, SessionRow, Storage
from gateway.storage.writer import Kind
from sessions.states import Session
from sessions.vocab import Flag, Phase
from tests import reads
from tests.billing.fixtures import TARIFF, station_tariff
from tests.storage.support import RECEIVED, bill, pile_id, settled, uid


def row(p: str, state: str, at: int, **kw: object) -> SessionRow:
    sid = kw.pop("session_id", None) or uid("S")
    return SessionRow(sid, uid("T"), p, 1, "U1", "card", state, at, **kw)  # type: ignore[arg-type]


async def test_sessions_upsert_transitions_in_order(storage: Storage) -> None:
    p = pile_id()
    r = row(p, "authorised", 1000, authorised_ms=1000)
    storage.record_session(r)
    storage.record_transition(r.session_id, None, "authorised", "card", 1000)
    for i, (a, b) in enumerate([("authorised", "starting"), ("starting", "charging")]):
        storage.record_session(SessionRow(**{**_fields(r), "state": b, "updated_ms": 2000 + i}))
        storage.record_transition(r.session_id, a, b, "step", 2000 + i)
    await storage.flush()
    got = await reads.get_session(storage, r.session_id)
    assert got is not None and got.state == "charging" and got.updated_ms == 2001
    assert [t.to_state for t in await reads.transitions(storage, r.session_id)] == [
        "authorised", "starting", "charging"]  # fmt: skip


def _fields(r: SessionRow) -> dict[str, object]:
    return {f: getattr(r, f) for f in SessionRow.__dataclass_fields__}


async def test_open_sessions_include_closed_ones_awaiting_their_bill(storage: Storage) -> None:
    p = pile_id()
    live = row(p, "charging", 1000)
    done = row(p, "settled", 1000)
    closed_old = row(p, "closed", 1000, gateway_service_end_ms=5000)
    closed_new = row(p, "closed", 1000, gateway_service_end_ms=50_000)
    billed = row(p, "closed", 1000, pile_service_end_ms=4000)
    for r in (live, done, closed_old, closed_new, billed):
        storage.record_session(r)
    await storage.flush()
    b = bill(billed.transaction_id)
    await storage.store_bill(p, b, settled(b), received_ms=RECEIVED)
    want = {live.session_id, closed_old.session_id, closed_new.session_id, billed.session_id}
    assert {s.session_id for s in await storage.open_sessions(p)} == want


async def test_session_row_from_the_machine_record(storage: Storage) -> None:
    s = Session(uid("S"), uid("T"), "U9", "partner_app", Phase.CANCELLED, 100, 400, "start timeout",
                end_reason="start timeout", gateway_service_end_ms=400, meter_start=10,
                last_meter=15, flags=frozenset({Flag.LATE_START}))  # fmt: skip
    r = SessionRow.from_session(s, pile_id=pile_id(), gun=2, at_ms=400)
    storage.record_session(r)
    await storage.flush()
    got = await reads.get_session(storage, s.session_id)
    assert got == r and got.cancel_reason == "start timeout" and got.observed_energy_dwh == 5
    assert got.gateway_service_end_ms == 400 and got.flags == ("late_start",)


def frame(p: str, at: int, txn: str | None = None, direction: str = "in") -> JournalEntry:
    fields = {"t": txn, "b": b"\x01"}
    return JournalEntry(at, p, direction, at % 65536, 0x0A, "BILL", "aa55", fields, 1, None, txn)


async def test_journal_batches_and_lists_in_order(storage: Storage) -> None:
    p, other = pile_id(), pile_id()
    batches = storage.stats.batches
    for at in range(1000, 0, -1):  # submitted out of time order
        storage.journal(frame(p, at, "TX" if at % 10 == 0 else None))
    storage.journal(frame(other, 500))
    await storage.flush()
    assert storage.stats.batches - batches <= 4  # 1001 rows in batches of 500
    got = [e async for e in storage.frames(p, page=128)]
    assert [e.at_ms for e in got] == list(range(1, 1001))
    assert got[0].fields == {"t": None, "b": "01"} and got[0].pile_id == p
    by_txn = [e.at_ms async for e in storage.frames(transaction_id="TX")]
    assert by_txn[:3] == [10, 20, 30] and len(by_txn) >= 100
    window = [e.at_ms async for e in storage.frames(p, since_ms=100, until_ms=110)]
    assert window == list(range(100, 110))
    assert [e.pile_id async for e in storage.frames(other)] == [other]


async def test_journal_retention_purge(database_url: str) -> None:
    storage = await Storage.open(database_url, upgrade=False)
    try:
        p = pile_id()
        base = 10**12 + 10**9  # later than every other test's frames
        for at in range(base, base + 300):
            storage.journal(frame(p, at))
        await storage.flush()
        assert await storage.purge_journal(base + 200, chunk=64) >= 200
        assert [e.at_ms async for e in storage.frames(p)] == list(range(base + 200, base + 300))
    finally:
        await storage.close()


async def test_over_the_bound_nothing_is_dropped_and_back_pressure_is_signalled(
    database_url: str,
) -> None:
    storage = await Storage.open(database_url, upgrade=False, max_pending=10, flush_ms=50)
    signals: list[bool] = []
    storage.on_backlog(signals.append)
    try:
        p = pile_id()
        accepted = [storage.journal(frame(p, at)) for at in range(1, 31)]
        assert all(accepted) and storage.stats.pending == 30
        assert signals == [True] and storage.stats.backlog
        sid = uid("S")
        for i in range(30):
            storage.record_transition(sid, None, "authorised", f"r{i}", i)
        await storage.flush()
        assert len(await reads.transitions(storage, sid)) == 30
        assert len([e async for e in storage.frames(p)]) == 30
        assert signals == [True, False] and storage.stats.pending == 0
        assert not storage.stats.lost
    finally:
        await storage.close()


async def test_anomaly_resolution_keeps_history(storage: Storage) -> None:
    p = pile_id()
    aid = storage.record_anomaly(AnomalyCode.BILL_LOST, "no bill after 24 h", at_ms=100, pile_id=p,
                                 session_id="S-x")  # fmt: skip
    await storage.flush()
    (a,) = await storage.anomalies(pile_id=p, status="open")
    assert a.anomaly_id == aid and a.code == 1
    assert await storage.resolve_anomaly(aid, at_ms=200, who="ops", note="found on pile")
    assert not await storage.resolve_anomaly(aid, at_ms=201, who="ops")
    assert await reads.reopen_anomaly(storage, aid, at_ms=300, who="audit")
    assert await storage.resolve_anomaly(aid, at_ms=400, who="ops", note="refunded")
    (a,) = await storage.anomalies(pile_id=p)
    assert (a.status, a.resolved_ms, a.resolved_by, a.resolution) == ("resolved", 400, "ops",
                                                                       "refunded")  # fmt: skip
    history = [(e.action, e.at_ms) for e in await reads.anomaly_history(storage, aid)]
    assert history == [("opened", 100), ("resolved", 200), ("reopened", 300), ("resolved", 400)]


async def test_tariffs_by_pile_and_station_with_defaults(storage: Storage) -> None:
    station = uid("ST")
    await storage.add_station(station, "depot")
    p, lone = pile_id(), pile_id()
    await storage.register_pile(p, station_id=station)
    assert await storage.idle_rule_for(p) == DEFAULT_IDLE_RULE
    (default,) = await storage.tariffs_for(lone)
    assert default.prices == DEFAULT_TARIFF.prices and default.scope_kind is ScopeKind.DEFAULT
    assert (await storage.tariff_for(lone, 5)).tariff_id == DEFAULT_TARIFF.tariff_id
    st = station_tariff(uid("t"), 0, station)
    later = station_tariff(uid("t"), 10_000, station)
    await storage.put_tariff(st)
    await storage.put_tariff(later)
    rule = IdleFeeRule(10, 40, 2000)
    await storage.put_idle_rule(station, rule)
    assert {t.tariff_id for t in await storage.tariffs_for(p)} == {st.tariff_id, later.tariff_id}
    assert await storage.tariff_for(p, 5_000) == st
    assert await storage.tariff_for(p, 20_000) == later
    own = station_tariff(uid("t"), 0, station)
    from dataclasses import replace

    own = replace(own, scope_kind=ScopeKind.PILE, scope_id=p)
    await storage.put_tariff(own)
    assert await storage.tariff_for(p, 20_000) == own
    assert await storage.idle_rule_for(p) == rule
    assert TARIFF.prices == st.prices


async def test_writer_refuses_awaited_kinds_as_fire_and_forget(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.writer.submit(Kind.BILL, None)
