"""The frame journal: frames kept fire-and-forget, streamed back by keyset, purged by age."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import and_, or_, select

from gateway.storage.areas.base import StorageArea, where_equal
from gateway.storage.records import JournalEntry
from gateway.storage.schema import frame_journal
from gateway.storage.writer import Kind


class JournalStorage(StorageArea):
    """What `Storage` keeps of the frames in and out."""

    def journal(self, entry: JournalEntry) -> bool:
        """Keep a frame (fire-and-forget, held through a database outage, never dropped).
        Always True."""
        return self.writer.submit(Kind.JOURNAL, entry.to_row())

    async def frames(
        self,
        pile_id: str | None = None,
        *,
        transaction_id: str | None = None,
        session_id: str | None = None,
        gun: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        page: int = 1000,
    ) -> AsyncIterator[JournalEntry]:
        """Frames in time order (since <= at < until), streamed page by page (keyset)."""
        j = frame_journal
        base = where_equal(
            select(j),
            (j.c.pile_id, pile_id),
            (j.c.transaction_id, transaction_id),
            (j.c.session_id, session_id),
            (j.c.gun, gun),
        )
        if since_ms is not None:
            base = base.where(j.c.at_ms >= since_ms)
        if until_ms is not None:
            base = base.where(j.c.at_ms < until_ms)
        after: tuple[int, int] | None = None
        while True:
            q = base
            if after is not None:
                q = q.where(
                    or_(j.c.at_ms > after[0], and_(j.c.at_ms == after[0], j.c.id > after[1]))
                )
            async with self.reader.connect() as conn:
                rows = (await conn.execute(q.order_by(j.c.at_ms, j.c.id).limit(page))).mappings()
                entries = [JournalEntry.from_row(r) for r in rows]
            for e in entries:
                yield e
            if len(entries) < page:
                return
            after = (entries[-1].at_ms, entries[-1].id)  # type: ignore[assignment]

    async def purge_journal(self, older_than_ms: int, *, chunk: int = 10_000) -> int:
        """Delete journal frames older than older_than_ms (retention), in chunks."""
        j = frame_journal
        return await self._purge(j, j.c.at_ms < older_than_ms, chunk)
