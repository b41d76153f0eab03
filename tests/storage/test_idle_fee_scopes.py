"""Idle-fee rules per pile, station and default, and default tariffs (own database: the
default scope is global)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from gateway.storage import Storage
from gateway.storage.storage import DEFAULT_IDLE_RULE, DEFAULT_TARIFF
from tests.db import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(request.param) as url:
        s = await Storage.open(url, upgrade=False, tariff_cache_s=0)
        try:
            yield s
        finally:
            await s.close()


def flat(tariff_id: str, kind: ScopeKind, scope_id: str, e4: int, since: int = 0) -> Tariff:
    prices = dict.fromkeys(PeriodKind, PeriodPrice(e4, 0))
    return Tariff(tariff_id, kind, scope_id, since, prices, (Segment(0, PeriodKind.FLAT),))


async def test_pile_beats_station_beats_default_beats_builtin(storage: Storage) -> None:
    await storage.add_station("S1", "depot")
    await storage.register_pile("4403060003000031", station_id="S1")
    pile = "00004403060003000031"
    assert await storage.idle_rule_for(pile) == DEFAULT_IDLE_RULE
    assert (await storage.idle_rule_scope(pile)).builtin
    default, station, own = IdleFeeRule(1, 1), IdleFeeRule(2, 2, 200), IdleFeeRule(3, 3)
    await storage.put_idle_rule("", default, scope_kind=ScopeKind.DEFAULT)
    assert await storage.idle_rule_for(pile) == default
    await storage.put_idle_rule("S1", station)
    assert await storage.idle_rule_for(pile) == station
    await storage.put_idle_rule("4403060003000031", own, scope_kind=ScopeKind.PILE)  # 16 digits
    assert await storage.idle_rule_for("4403060003000031") == own
    scope = await storage.idle_rule_scope(pile)
    assert (scope.scope_kind, scope.scope_id, scope.builtin) == (ScopeKind.PILE, pile, False)
    assert {(k, i) for k, i, _ in await storage.idle_rules()} == {
        (ScopeKind.DEFAULT, ""), (ScopeKind.STATION, "S1"), (ScopeKind.PILE, pile),
    }  # fmt: skip
    await storage.put_idle_rule("", IdleFeeRule(4, 4), scope_kind=ScopeKind.DEFAULT)  # replace
    assert len(await storage.idle_rules()) == 3


async def test_default_tariff_is_stored_and_loses_to_station_tariffs(storage: Storage) -> None:
    await storage.add_station("S2", "depot")
    await storage.register_pile("44030600030000000032", station_id="S2")
    pile = "44030600030000000032"
    assert (await storage.tariff_for(pile, 10)).tariff_id == DEFAULT_TARIFF.tariff_id
    await storage.put_tariff(flat("std", ScopeKind.DEFAULT, "", 12_000))
    assert (await storage.tariff_for(pile, 10)).tariff_id == "std"
    await storage.put_tariff(flat("st2", ScopeKind.STATION, "S2", 9_000, since=100))
    assert (await storage.tariff_for(pile, 10)).tariff_id == "std"  # the station's starts later
    assert (await storage.tariff_for(pile, 100)).tariff_id == "st2"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migration_keeps_station_rules(kind: str, request: pytest.FixtureRequest) -> None:
    """specgaps: the per-station table becomes a scoped one; station rules survive both ways."""
    from sqlalchemy import text

    from gateway.storage.engine import create_engine
    from gateway.storage.migrate import downgrade, upgrade

    if kind == "postgresql":
        request.getfixturevalue("postgres_url")
    async with fresh_database(kind, upgrade=False) as url:
        await upgrade(url, "0001")
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO stations (id, name, created_ms) VALUES ('S9', 'depot', 0)"
                ))  # fmt: skip
                await conn.execute(text(
                    "INSERT INTO idle_fee_rules (station_id, grace_minutes, rate_fen_per_minute,"
                    " cap_fen, updated_ms) VALUES ('S9', 10, 40, 2000, 5)"
                ))  # fmt: skip
        finally:
            await engine.dispose()
        await upgrade(url)
        storage = await Storage.open(url, upgrade=False)
        try:
            rules = await storage.idle_rules()
        finally:
            await storage.close()
        assert rules == [(ScopeKind.STATION, "S9", IdleFeeRule(10, 40, 2000))]
        await downgrade(url, "0001")
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT * FROM idle_fee_rules"))).all()
        finally:
            await engine.dispose()
        assert [tuple(r) for r in rows] == [("S9", 10, 40, 2000, 5)]
