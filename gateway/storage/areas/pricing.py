"""Tariffs and idle-fee rules: assignments, and the pricing of a pile (cached)."""

from __future__ import annotations

import time

from sqlalchemy import and_, or_, select

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff, TariffScope
from billing.tariff import select_tariff as _select_tariff
from gateway.storage import pricing
from gateway.storage.areas.base import StorageArea
from gateway.storage.pricing import IdleFeeScope
from gateway.storage.schema import idle_fee_rules, piles, tariff_assignments
from protocol.pile_ids import canonical_pile_id

#: The tariff of a pile with no pile, station or stored default tariff (docs/protocol.md
#: §7.8): 1.00 CNY/kWh in every period, no service fee. Replace it with
#: `pilegate tariff set-default` (a tariff of scope "default").
DEFAULT_TARIFF = Tariff(
    "default",
    ScopeKind.DEFAULT,
    "",
    0,
    dict.fromkeys(PeriodKind, PeriodPrice(energy_e4=10_000, service_e4=0)),  # 1.00 CNY/kWh
    (Segment(0, PeriodKind.FLAT),),
)
#: No idle fee, until `pilegate idle-fee set` stores a rule (pile, station or default scope).
DEFAULT_IDLE_RULE = IdleFeeRule(grace_minutes=15, rate_fen_per_minute=0)


class PricingStorage(StorageArea):
    """What `Storage` keeps of tariffs and idle-fee rules."""

    async def put_tariff(self, tariff: Tariff, *, at_ms: int | None = None) -> None:
        """Assign a tariff to its scope from its effective_from_ms (defining its id on first
        use). Piles and stations already using the id keep it. Raises
        pricing.TariffConflict if the id already names other prices."""
        async with self.engine.begin() as conn:
            await pricing.assign_tariff(conn, tariff, self.clock() if at_ms is None else at_ms)
        self._tariff_cache.clear()

    async def put_idle_rule(
        self,
        scope_id: str,
        rule: IdleFeeRule,
        *,
        scope_kind: ScopeKind = ScopeKind.STATION,
        at_ms: int | None = None,
    ) -> None:
        """Create or replace the idle-fee rule of a pile, a station or the default (scope_id
        "")."""
        if scope_kind is ScopeKind.PILE:
            scope_id = canonical_pile_id(scope_id)
        elif scope_kind is ScopeKind.DEFAULT:
            scope_id = ""
        async with self.engine.begin() as conn:
            await pricing.upsert_idle_rule(
                conn, scope_kind, scope_id, rule, self.clock() if at_ms is None else at_ms
            )
        self._tariff_cache.clear()

    async def idle_rules(self) -> list[tuple[ScopeKind, str, IdleFeeRule]]:
        """Every stored idle-fee rule: (scope kind, scope id, rule)."""
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(idle_fee_rules).order_by(
                        idle_fee_rules.c.scope_kind, idle_fee_rules.c.scope_id
                    )
                )
            ).mappings()
            return [
                (ScopeKind(r["scope_kind"]), r["scope_id"], pricing.idle_rule_from_row(r))
                for r in rows
            ]

    async def _pricing(self, pile_id: str) -> tuple[list[Tariff], IdleFeeRule, IdleFeeScope]:
        pile_id = canonical_pile_id(pile_id)
        now = time.monotonic()
        hit = self._tariff_cache.get(pile_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2], hit[3]
        async with self.reader.connect() as conn:
            station = (
                await conn.execute(select(piles.c.station_id).where(piles.c.id == pile_id))
            ).scalar()
            scopes = [(ScopeKind.PILE, pile_id), (ScopeKind.DEFAULT, "")]
            if station is not None:
                scopes.insert(1, (ScopeKind.STATION, station))
            a = tariff_assignments
            tariff_scope = or_(
                *(and_(a.c.scope_kind == k.value, a.c.scope_id == i) for k, i in scopes)
            )
            # Assignment order: select_tariff gives equal start dates to the one set last.
            q = pricing.ASSIGNED_TARIFFS.where(tariff_scope).order_by(a.c.effective_from_ms, a.c.id)
            rows = (await conn.execute(q)).mappings()
            found = [pricing.tariff_from_row(r) for r in rows]
            rule_scope = or_(
                *(
                    and_(idle_fee_rules.c.scope_kind == k.value, idle_fee_rules.c.scope_id == i)
                    for k, i in scopes
                )
            )
            rule_rows = {
                (r["scope_kind"], r["scope_id"]): r
                for r in (await conn.execute(select(idle_fee_rules).where(rule_scope))).mappings()
            }
        if not found:
            found = [self.default_tariff]
        rule, rule_scope_used = self.default_idle_rule, IdleFeeScope(ScopeKind.DEFAULT, "", True)
        for kind, scope_id in scopes:  # most specific first
            row = rule_rows.get((kind.value, scope_id))
            if row is not None:
                rule = pricing.idle_rule_from_row(row)
                rule_scope_used = IdleFeeScope(kind, scope_id, False)
                break
        self._tariff_cache[pile_id] = (now + self._tariff_cache_s, found, rule, rule_scope_used)
        return found, rule, rule_scope_used

    async def tariffs_for(self, pile_id: str) -> list[Tariff]:
        """Tariffs of the pile, of its station and the default ones (cached for
        tariff_cache_s); the built-in default tariff when none is stored at all."""
        return list((await self._pricing(pile_id))[0])

    async def tariff_for(self, pile_id: str, at_ms: int) -> Tariff:
        """The tariff in force for the pile at at_ms: the pile's own beats its station's, which
        beats a default one; each the latest effective by at_ms."""
        found = await self.tariffs_for(pile_id)
        station = next((t.scope_id for t in found if t.scope_kind is ScopeKind.STATION), "")
        chosen = _select_tariff(found, TariffScope(station, canonical_pile_id(pile_id)), at_ms)
        if chosen is None:  # all configured ones start later: the earliest one
            chosen = min(found, key=lambda t: t.effective_from_ms)
        return chosen

    async def idle_rule_for(self, pile_id: str) -> IdleFeeRule:
        """The idle-fee rule of the pile, else of its station, else the default rule."""
        return (await self._pricing(pile_id))[1]

    async def idle_rule_scope(self, pile_id: str) -> IdleFeeScope:
        """Where the pile's idle-fee rule comes from."""
        return (await self._pricing(pile_id))[2]
