"""Tariffs are shared definitions assigned to piles and stations (issue 11), both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing.tariff import PeriodPrice, ScopeKind
from gateway.storage import Storage
from gateway.storage.pricing import TariffConflict
from tests.billing.fixtures import PRICES, station_tariff
from tests.storage.support import pile_id, uid


async def test_one_tariff_on_two_piles_and_conflicting_reuse(storage: Storage) -> None:
    a, b = pile_id(), pile_id()
    for p in (a, b):
        await storage.register_pile(p)
    shared = replace(station_tariff(uid("t"), 0), scope_kind=ScopeKind.PILE, scope_id=a)
    await storage.put_tariff(shared, at_ms=1_000)
    await storage.put_tariff(replace(shared, scope_id=b), at_ms=2_000)
    assert (await storage.tariff_for(a, 5)).scope_id == a  # still on A
    assert (await storage.tariff_for(b, 5)).scope_id == b
    other_prices = {**PRICES, next(iter(PRICES)): PeriodPrice(1, 1)}
    with pytest.raises(TariffConflict):
        await storage.put_tariff(replace(shared, scope_id=b, prices=other_prices), at_ms=3_000)
    assert (await storage.tariff_for(b, 5)).prices == shared.prices


async def test_same_start_goes_to_the_one_set_last(storage: Storage) -> None:
    p = pile_id()
    await storage.register_pile(p)
    first = replace(station_tariff("zz-" + uid(), 0), scope_kind=ScopeKind.PILE, scope_id=p)
    later = replace(station_tariff("aa-" + uid(), 0), scope_kind=ScopeKind.PILE, scope_id=p)
    await storage.put_tariff(first, at_ms=1_000)
    await storage.put_tariff(later, at_ms=2_000)
    chosen = await storage.tariff_for(p, 5)
    assert chosen.tariff_id == later.tariff_id and chosen.set_ms == 2_000
