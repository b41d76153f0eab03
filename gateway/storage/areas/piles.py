"""Stations and piles: registration, logins, online state, firmware history, login secrets,
last-seen touches (kept in memory and written in batches)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage import pile_secrets
from gateway.storage.areas.base import StorageArea
from gateway.storage.inserts import dialect_insert
from gateway.storage.pile_secrets import PileSecrets
from gateway.storage.records import FirmwareSeen, PileRecord
from gateway.storage.schema import firmware_history, guns, piles, stations
from gateway.storage.writer import Kind
from protocol.pile_ids import canonical_pile_id


class PileStorage(StorageArea):
    """What `Storage` keeps of stations and piles."""

    async def add_station(self, station_id: str, name: str, *, at_ms: int | None = None) -> None:
        """Create or rename a station."""
        at = self.clock() if at_ms is None else at_ms
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, stations).values(id=station_id, name=name, created_ms=at)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name})
            )

    async def register_pile(
        self,
        pile_id: str,
        *,
        station_id: str | None = None,
        vendor: str = "",
        model: str = "",
        firmware: str = "",
        gun_count: int = 1,
        enabled: bool = True,
        at_ms: int | None = None,
    ) -> PileRecord:
        """Operator registration (or update of station/enabled) ahead of the first login."""
        pile_id = canonical_pile_id(pile_id)
        at = self.clock() if at_ms is None else at_ms
        async with self.engine.begin() as conn:
            row = await self._pile_row(conn, pile_id)
            if row is None:
                await self._insert_pile(
                    conn, pile_id, station_id, vendor, model, firmware, gun_count, enabled, at
                )
            else:
                await conn.execute(
                    update(piles)
                    .where(piles.c.id == pile_id)
                    .values(station_id=station_id, enabled=enabled)
                )
            self._tariff_cache.pop(pile_id, None)
            return PileRecord.from_row(await self._pile_row(conn, pile_id))

    async def login_pile(
        self,
        pile_id: str,
        vendor: str,
        model: str,
        firmware: str,
        gun_count: int,
        at_ms: int,
        auto_register: bool,
        *,
        station_id: str | None = None,
    ) -> PileRecord | None:
        """A pile logged in: None if unknown and auto_register is off; otherwise the record,
        marked online, with firmware history appended when the firmware changed (or on
        registration). A disabled pile is returned with enabled=False: the caller decides."""
        async with self.engine.begin() as conn:
            row = await self._pile_row(conn, pile_id)
            if row is None:
                if not auto_register:
                    return None
                await self._insert_pile(
                    conn, pile_id, station_id, vendor, model, firmware, gun_count, True, at_ms,
                    online=True,
                )  # fmt: skip
                row = await self._pile_row(conn, pile_id)
                assert row is not None
                return PileRecord.from_row(row, registered_now=True, firmware_changed=True)
            changed = row["firmware"] != firmware
            if changed:
                await conn.execute(
                    insert(firmware_history).values(
                        pile_id=pile_id, firmware=firmware, first_seen_ms=at_ms
                    )
                )
            await conn.execute(
                update(piles)
                .where(piles.c.id == pile_id)
                .values(
                    vendor=vendor,
                    model=model,
                    firmware=firmware,
                    gun_count=gun_count,
                    online=True,
                    last_login_ms=at_ms,
                    last_seen_ms=at_ms,
                )
            )
            if gun_count > row["gun_count"]:
                await self._ensure_guns(conn, pile_id, gun_count)
            self._touches.pop(pile_id, None)
            seen_before = row["last_seen_ms"]
            row = await self._pile_row(conn, pile_id)
            assert row is not None
            return PileRecord.from_row(
                row, firmware_changed=changed, seen_before_login_ms=seen_before
            )

    async def pile_offline(self, pile_id: str, at_ms: int) -> None:
        self._touches.pop(pile_id, None)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(piles)
                .where(piles.c.id == pile_id)
                .values(
                    online=False,
                    last_seen_ms=func.coalesce(
                        func.greatest(piles.c.last_seen_ms, at_ms)
                        if self.dialect == "postgresql"
                        else func.max(piles.c.last_seen_ms, at_ms),
                        at_ms,
                    ),
                )
            )

    async def set_pile_enabled(self, pile_id: str, enabled: bool) -> bool:
        """Operator enable/disable (field case 8). False if the pile is unknown."""
        pile_id = canonical_pile_id(pile_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(piles).where(piles.c.id == pile_id).values(enabled=enabled)
            )
            return result.rowcount > 0

    async def pile_secrets(self, pile_id: str) -> PileSecrets | None:
        """The pile's login secrets (None: pile not registered); gateway/storage/pile_secrets."""
        return await pile_secrets.load(self.reader, pile_id)

    async def set_pile_secret(
        self, pile_id: str, secret: bytes, *, grace_ms: int = 0, at_ms: int | None = None
    ) -> bool:
        """Set or rotate the pile's login secret; the old one stays valid ``grace_ms``."""
        at = self.clock() if at_ms is None else at_ms
        return await pile_secrets.set_secret(
            self.engine, pile_id, secret, at_ms=at, grace_ms=grace_ms
        )

    async def clear_pile_secret(self, pile_id: str) -> bool:
        return await pile_secrets.clear(self.engine, pile_id)

    async def get_pile(self, pile_id: str) -> PileRecord | None:
        pile_id = canonical_pile_id(pile_id)
        async with self.reader.connect() as conn:
            row = await self._pile_row(conn, pile_id)
        return None if row is None else PileRecord.from_row(row)

    async def firmware_history(self, pile_id: str) -> list[FirmwareSeen]:
        pile_id = canonical_pile_id(pile_id)
        q = (
            select(firmware_history.c.firmware, firmware_history.c.first_seen_ms)
            .where(firmware_history.c.pile_id == pile_id)
            .order_by(firmware_history.c.first_seen_ms, firmware_history.c.id)
        )
        async with self.reader.connect() as conn:
            return [FirmwareSeen(pile_id, fw, at) for fw, at in await conn.execute(q)]

    def touch(self, pile_id: str, at_ms: int) -> None:
        """Last-seen (heartbeat): kept in memory, written in one batch every interval."""
        if at_ms > self._touches.get(pile_id, -1):
            self._touches[pile_id] = at_ms

    def _submit_touches(self) -> None:
        if self._touches and not self.writer._closing:
            touches, self._touches = self._touches, {}
            self.writer.submit(Kind.TOUCH, touches)

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(self._touch_interval_s)
            self._submit_touches()

    async def _pile_row(self, conn: AsyncConnection, pile_id: str) -> Any:
        return (await conn.execute(select(piles).where(piles.c.id == pile_id))).mappings().first()

    async def _insert_pile(
        self,
        conn: AsyncConnection,
        pile_id: str,
        station_id: str | None,
        vendor: str,
        model: str,
        firmware: str,
        gun_count: int,
        enabled: bool,
        at_ms: int,
        *,
        online: bool = False,
    ) -> None:
        await conn.execute(
            insert(piles).values(
                id=pile_id,
                station_id=station_id,
                vendor=vendor,
                model=model,
                firmware=firmware,
                gun_count=gun_count,
                enabled=enabled,
                registered_at_ms=at_ms,
                last_login_ms=at_ms if online else None,
                last_seen_ms=at_ms if online else None,
                online=online,
            )
        )
        await conn.execute(
            insert(firmware_history).values(pile_id=pile_id, firmware=firmware, first_seen_ms=at_ms)
        )
        await self._ensure_guns(conn, pile_id, gun_count)

    async def _ensure_guns(self, conn: AsyncConnection, pile_id: str, gun_count: int) -> None:
        have = set(
            (await conn.execute(select(guns.c.gun).where(guns.c.pile_id == pile_id))).scalars()
        )
        rows = [
            {"pile_id": pile_id, "gun": n, "enabled": True}
            for n in range(1, gun_count + 1)
            if n not in have
        ]
        if rows:
            await conn.execute(insert(guns), rows)
