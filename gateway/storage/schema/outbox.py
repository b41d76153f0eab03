"""The outbox: northbound messages committed with the rows they describe."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from gateway.storage.schema.types import SerialId, _ms, metadata

outbox = Table(
    "outbox",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False),
    Column("payload", Text(), nullable=False),  # JSON
    _ms("created_ms", False),
    _ms("published_at_ms"),
    Index(None, "published_at_ms", "id"),
)
