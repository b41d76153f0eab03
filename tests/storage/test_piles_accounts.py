from __future__ import annotations

import asyncio

import pytest

from gateway.storage import Storage
from gateway.storage.writer import Kind
from tests import reads
from tests.storage.support import pile_id, uid


async def test_login_unknown_pile_without_auto_registration(storage: Storage) -> None:
    assert await storage.login_pile(pile_id(), "V", "M", "1.0", 2, 1000, False) is None


async def test_firmware_history_only_on_change(storage: Storage) -> None:
    p = pile_id()
    rec = await storage.login_pile(p, "V", "M", "1.0", 2, 1000, True)
    assert rec is not None and rec.registered_now and rec.online and rec.enabled
    rec = await storage.login_pile(p, "V", "M", "1.0", 2, 2000, True)
    assert rec is not None and not rec.firmware_changed and rec.last_login_ms == 2000
    rec = await storage.login_pile(p, "V", "M", "1.1", 2, 3000, True)
    assert rec is not None and rec.firmware_changed and rec.firmware == "1.1"
    await storage.login_pile(p, "V", "M", "1.1", 2, 4000, True)
    history = await storage.firmware_history(p)
    assert [(h.firmware, h.first_seen_ms) for h in history] == [("1.0", 1000), ("1.1", 3000)]


async def test_offline_enable_and_listing(storage: Storage) -> None:
    station = uid("ST")
    await storage.add_station(station, "Futian depot")
    p = pile_id()
    await storage.register_pile(p, station_id=station, gun_count=2, at_ms=10)
    assert await storage.login_pile(p, "V", "M", "2.0", 2, 1000, False) is not None
    await storage.pile_offline(p, 5000)
    rec = await storage.get_pile(p)
    assert rec is not None and not rec.online and rec.last_seen_ms == 5000
    assert await storage.set_pile_enabled(p, False)
    assert not await storage.set_pile_enabled(pile_id(), False)
    (listed,) = await reads.list_piles(storage, station_id=station)
    assert listed.pile_id == p and not listed.enabled and listed.station_id == station


async def test_touches_are_kept_in_memory_and_written_in_one_batch(storage: Storage) -> None:
    ps = [pile_id() for _ in range(3)]
    for p in ps:
        await storage.login_pile(p, "V", "M", "1", 1, 1000, True)
    items = storage.stats.items
    for t in range(2000, 3000):
        for p in ps:
            storage.touch(p, t)
    await asyncio.sleep(0.05)
    assert storage.stats.items == items and storage.writer.pending == 0  # nothing written
    assert [(await storage.get_pile(p)).last_seen_ms for p in ps] == [1000] * 3  # type: ignore[union-attr]
    await storage.flush()
    assert storage.stats.items == items + 2  # one touch batch + the flush barrier
    assert [(await storage.get_pile(p)).last_seen_ms for p in ps] == [2999] * 3  # type: ignore[union-attr]


async def test_touches_flush_on_their_interval(database_url: str) -> None:
    storage = await Storage.open(database_url, upgrade=False, touch_interval_s=0.05)
    try:
        p = pile_id()
        await storage.login_pile(p, "V", "M", "1", 1, 1000, True)
        storage.touch(p, 7000)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if (await storage.get_pile(p)).last_seen_ms == 7000:  # type: ignore[union-attr]
                break
        else:
            pytest.fail("touch never written")
    finally:
        await storage.close()


async def test_find_account_by_channel(storage: Storage) -> None:
    a = uid("A")
    card = uid("C")
    await storage.add_account(a, balance_fen=5000, card_token=card, password="1234")
    assert (await storage.find_account("card", card)).account_id == a  # type: ignore[union-attr]
    assert (await storage.find_account("CARD", card)).balance_fen == 5000  # type: ignore[union-attr]
    assert (await storage.find_account("password", a, "1234")) is not None
    assert (await storage.find_account("password", a, "9999")) is None
    assert (await storage.find_account("password", a)) is None
    assert (await storage.find_account("own_app", a)) is not None
    assert (await storage.find_account("card", uid())) is None


async def test_claim_is_exclusive_and_released(storage: Storage) -> None:
    a, p = uid("A"), pile_id()
    assert await storage.claim_account(a, "S1", p, 1, 1000) is None
    assert await storage.claim_account(a, "S1", p, 1, 1001) is None  # idempotent
    assert await storage.claim_account(a, "S2", p, 2, 1002) == "S1"
    assert not await storage.release_account(a, "S2")
    svc = await reads.active_service(storage, a)
    assert svc is not None and (svc.session_id, svc.gun, svc.since_ms) == ("S1", 1, 1001)  # renewed
    assert await storage.release_account(a, "S1")
    assert await storage.claim_account(a, "S2", p, 2, 1003) is None


async def test_concurrent_claims_from_two_instances_one_wins(database_url: str) -> None:
    one = await Storage.open(database_url, upgrade=False)
    two = await Storage.open(database_url, upgrade=False)
    try:
        for _ in range(20):
            a = uid("A")
            results = await asyncio.gather(
                *(
                    s.claim_account(a, f"S{i}", pile_id(), 1, 1000)
                    for i, s in enumerate([one, two] * 4)
                )
            )
            winners = [i for i, r in enumerate(results) if r is None]
            assert len(winners) == 1, results
            assert all(r == f"S{winners[0]}" for r in results if r is not None)
    finally:
        await one.close()
        await two.close()


async def test_fire_and_forget_submissions_do_not_wait(storage: Storage) -> None:
    storage.writer.submit(Kind.OUTBOX, {"topic": "t", "payload": "{}", "created_ms": 1,
                                        "published_at_ms": None})  # fmt: skip
    storage.publish("bills/1", {"fen": 100}, at_ms=2)
    await storage.flush()
    pending = await storage.outbox_pending()
    assert [t for _, t, _ in pending][-2:] == ["t", "bills/1"]
    await storage.outbox_published([i for i, _, _ in pending], 3)
    assert await storage.outbox_pending() == []
