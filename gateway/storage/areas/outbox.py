"""The outbox: messages for the MQTT publisher, committed with what they describe."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import select, update

from gateway.storage.areas.base import StorageArea
from gateway.storage.schema import outbox
from gateway.storage.writer import Kind


def outbox_row(topic: str, payload: Any, at_ms: int) -> dict[str, Any]:
    return {
        "topic": topic,
        "payload": orjson.dumps(payload).decode(),
        "created_ms": at_ms,
        "published_at_ms": None,
    }


class OutboxStorage(StorageArea):
    """What `Storage` keeps for the northbound publisher."""

    def publish(self, topic: str, payload: Any, *, at_ms: int | None = None) -> None:
        """Queue a message for the MQTT publisher (fire-and-forget, never dropped)."""
        self.writer.submit(
            Kind.OUTBOX, outbox_row(topic, payload, self.clock() if at_ms is None else at_ms)
        )

    async def outbox_pending(self, limit: int = 500) -> list[tuple[int, str, Any]]:
        """Unpublished messages, oldest first: (id, topic, payload)."""
        q = (
            select(outbox.c.id, outbox.c.topic, outbox.c.payload)
            .where(outbox.c.published_at_ms.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.reader.connect() as conn:
            return [(i, t, orjson.loads(p)) for i, t, p in await conn.execute(q)]

    async def outbox_published(self, ids: Iterable[int], at_ms: int) -> None:
        ids = list(ids)
        if ids:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(outbox).where(outbox.c.id.in_(ids)).values(published_at_ms=at_ms)
                )

    async def purge_outbox(self, older_than_ms: int, *, chunk: int = 10_000) -> int:
        """Delete outbox rows published before older_than_ms; unpublished ones never."""
        o = outbox
        published = o.c.published_at_ms.is_not(None) & (o.c.published_at_ms < older_than_ms)
        return await self._purge(o, published, chunk)
