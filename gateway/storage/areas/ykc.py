"""YKC piles: the facts of their logins and the operator's source allow-list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from gateway.storage.areas.base import StorageArea
from gateway.storage.inserts import dialect_insert
from gateway.storage.schema.ykc import ykc_piles


@dataclass(frozen=True, slots=True)
class YkcPileRecord:
    pile_id: str
    protocol_version: int | None
    crc_order: str | None
    peer: str | None
    last_login_ms: int | None
    allowed_sources: tuple[str, ...]  # empty: any address

    @classmethod
    def from_row(cls, row: Any) -> YkcPileRecord:
        sources = tuple(s.strip() for s in (row["allowed_sources"] or "").split(",") if s.strip())
        return cls(
            row["pile_id"], row["protocol_version"], row["crc_order"], row["peer"],
            row["last_login_ms"], sources,
        )  # fmt: skip


class YkcStorage(StorageArea):
    async def ykc_pile(self, pile_id: str) -> YkcPileRecord | None:
        async with self.reader.connect() as conn:
            query = select(ykc_piles).where(ykc_piles.c.pile_id == pile_id)
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else YkcPileRecord.from_row(row)

    async def ykc_piles(self) -> dict[str, YkcPileRecord]:
        async with self.reader.connect() as conn:
            rows = (await conn.execute(select(ykc_piles))).mappings().all()
        return {r["pile_id"]: YkcPileRecord.from_row(r) for r in rows}

    async def ykc_login(
        self, pile_id: str, *, protocol_version: int, crc_order: str, peer: str, at_ms: int
    ) -> None:
        """Record a YKC login (the pile's row in `piles` exists: login_pile made it)."""
        values = {
            "protocol_version": protocol_version,
            "crc_order": crc_order,
            "peer": peer[:64],
            "last_login_ms": at_ms,
        }
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, ykc_piles).values(pile_id=pile_id, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["pile_id"], set_=values))

    async def ykc_crc_order(self, pile_id: str, crc_order: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(ykc_piles).where(ykc_piles.c.pile_id == pile_id).values(crc_order=crc_order)
            )

    async def set_ykc_allowed_sources(self, pile_id: str, sources: list[str]) -> None:
        """The addresses (or CIDR networks) a YKC pile may log in from; [] lifts the limit."""
        text = ",".join(s.strip() for s in sources if s.strip()) or None
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, ykc_piles).values(pile_id=pile_id, allowed_sources=text)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["pile_id"], set_={"allowed_sources": text}
                )
            )
