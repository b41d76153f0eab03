"""Operator registration writes: piles, stations and accounts created, edited, removed and
imported in bulk (one transaction per import, so a bad file changes nothing).

Functions take the `Storage` (its write engine and clock) and return plain dicts. Pile ids
are put in their canonical form by protocol.normalize_pile_id (PileIdError, a ValueError, for
anything that is not 16 or 20 digits), as at every other entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.schema import (
    accounts,
    active_services,
    firmware_history,
    guns,
    piles,
    stations,
)
from protocol.error_root import PilegateError
from protocol.pile_ids import normalize_pile_id

PILE_FIELDS = ("station_id", "vendor", "model", "gun_count", "enabled")
ACCOUNT_FIELDS = ("balance_fen", "card_token", "vin", "password", "enabled")


class RegistryError(PilegateError, ValueError):
    """A registration the database cannot take (unknown row, conflict, pile in use)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated}


async def _ensure_station(
    conn: AsyncConnection, station_id: str, name: str | None, at: int
) -> None:
    row = (await conn.execute(select(stations.c.name).where(stations.c.id == station_id))).first()
    if row is None:
        await conn.execute(insert(stations).values(id=station_id, name=name or station_id,
                                                   created_ms=at))  # fmt: skip
    elif name and row[0] != name:
        await conn.execute(update(stations).where(stations.c.id == station_id).values(name=name))


async def _ensure_guns(conn: AsyncConnection, pile_id: str, gun_count: int) -> None:
    have = set((await conn.execute(select(guns.c.gun).where(guns.c.pile_id == pile_id))).scalars())
    rows = [
        {"pile_id": pile_id, "gun": n, "enabled": True}
        for n in range(1, gun_count + 1)
        if n not in have
    ]
    if rows:
        await conn.execute(insert(guns), rows)


async def _upsert_pile(conn: AsyncConnection, row: Mapping[str, Any], at: int) -> bool:
    """True if created. Keys: pile_id, and any of PILE_FIELDS, station_name."""
    pile_id = row["pile_id"]  # canonical: upsert_piles normalised it
    if row.get("station_id"):
        await _ensure_station(conn, row["station_id"], row.get("station_name"), at)
    exists = (await conn.execute(select(piles.c.id).where(piles.c.id == pile_id))).first()
    if exists is None:
        gun_count = int(row.get("gun_count") or 1)
        await conn.execute(
            insert(piles).values(
                id=pile_id,
                station_id=row.get("station_id") or None,
                vendor=row.get("vendor") or "",
                model=row.get("model") or "",
                firmware="",
                gun_count=gun_count,
                enabled=bool(row.get("enabled", True)),
                registered_at_ms=at,
                last_login_ms=None,
                last_seen_ms=None,
                online=False,
            )
        )
        await conn.execute(
            insert(firmware_history).values(pile_id=pile_id, firmware="", first_seen_ms=at)
        )
        await _ensure_guns(conn, pile_id, gun_count)
        return True
    changes = {k: row[k] for k in PILE_FIELDS if k in row}
    if "station_id" in changes:
        changes["station_id"] = changes["station_id"] or None
    if changes:
        await conn.execute(update(piles).where(piles.c.id == pile_id).values(**changes))
    if "gun_count" in changes:
        await _ensure_guns(conn, pile_id, int(changes["gun_count"]))
    return False


async def upsert_piles(storage: Any, rows: Iterable[Mapping[str, Any]]) -> ImportResult:
    """Register new piles and update the given fields of known ones, all or nothing (a bad
    pile id raises PileIdError before anything is written)."""
    rows = [{**row, "pile_id": normalize_pile_id(row["pile_id"])} for row in rows]
    at = storage.clock()
    created = updated = 0
    async with storage.engine.begin() as conn:
        for row in rows:
            if await _upsert_pile(conn, row, at):
                created += 1
            else:
                updated += 1
    storage._tariff_cache.clear()  # a pile may have moved to another station
    return ImportResult(created, updated)


async def update_pile(storage: Any, pile_id: str, changes: Mapping[str, Any]) -> None:
    pile_id = normalize_pile_id(pile_id)
    if not await _exists(storage, piles, pile_id):
        raise RegistryError(f"unknown pile {pile_id}")
    await upsert_piles(storage, [{**changes, "pile_id": pile_id}])


async def delete_pile(storage: Any, pile_id: str) -> None:
    """Remove a pile's registration (its bills, sessions and journal stay)."""
    pile_id = normalize_pile_id(pile_id)
    async with storage.engine.begin() as conn:
        await conn.execute(delete(guns).where(guns.c.pile_id == pile_id))
        await conn.execute(delete(firmware_history).where(firmware_history.c.pile_id == pile_id))
        result = await conn.execute(delete(piles).where(piles.c.id == pile_id))
        if result.rowcount == 0:
            raise RegistryError(f"unknown pile {pile_id}")
    storage._tariff_cache.pop(pile_id, None)


async def _exists(storage: Any, table: Any, key: str) -> bool:
    async with storage.engine.connect() as conn:
        return (await conn.execute(select(table.c.id).where(table.c.id == key))).first() is not None


async def _upsert_account(conn: AsyncConnection, row: Mapping[str, Any], at: int) -> bool:
    from gateway.storage.areas.accounts import hash_password

    account_id = row["account"]
    values: dict[str, Any] = {}
    for key in ("balance_fen", "card_token", "vin", "enabled"):
        if key in row:
            values[key] = row[key]
    for key in ("card_token", "vin"):
        if key in values and not values[key]:
            values[key] = None
    if row.get("password"):
        values["password_hash"] = hash_password(str(row["password"]))
    exists = (await conn.execute(select(accounts.c.id).where(accounts.c.id == account_id))).first()
    if exists is None:
        await conn.execute(
            insert(accounts).values(
                id=account_id,
                card_token=values.get("card_token"),
                vin=values.get("vin"),
                password_hash=values.get("password_hash"),
                balance_fen=int(values.get("balance_fen", 0)),
                enabled=bool(values.get("enabled", True)),
                created_ms=at,
            )
        )
        return True
    if values:
        await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
    return False


async def upsert_accounts(storage: Any, rows: Iterable[Mapping[str, Any]]) -> ImportResult:
    """Create new accounts and update the given fields of known ones, all or nothing.
    A card token or VIN already held by another account is a RegistryError."""
    from sqlalchemy.exc import IntegrityError

    at = storage.clock()
    created = updated = 0
    try:
        async with storage.engine.begin() as conn:
            for row in rows:
                if await _upsert_account(conn, row, at):
                    created += 1
                else:
                    updated += 1
    except IntegrityError as exc:
        raise RegistryError(
            f"a card token or VIN is already another account's: {exc.orig}"
        ) from None
    return ImportResult(created, updated)


async def update_account(storage: Any, account_id: str, changes: Mapping[str, Any]) -> None:
    if not await _exists(storage, accounts, account_id):
        raise RegistryError(f"unknown account {account_id}")
    await upsert_accounts(storage, [{**changes, "account": account_id}])


async def delete_account(storage: Any, account_id: str) -> None:
    """Remove an account; refused while it has an active service."""
    async with storage.engine.begin() as conn:
        busy = await conn.execute(
            select(active_services.c.session_id).where(active_services.c.account_id == account_id)
        )
        if busy.first() is not None:
            raise RegistryError(f"account {account_id} has an active service")
        result = await conn.execute(delete(accounts).where(accounts.c.id == account_id))
        if result.rowcount == 0:
            raise RegistryError(f"unknown account {account_id}")
