"""The frame journal: every frame in and out, decoded."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from gateway.storage.schema.types import SerialId, _ms, metadata

frame_journal = Table(
    "frame_journal",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    _ms("at_ms", False),
    Column("pile_id", String(32), nullable=False),
    Column("direction", String(3), nullable=False),  # in | out
    Column("seq", Integer(), nullable=False),
    Column("msg_type", Integer(), nullable=False),
    Column("type_name", String(32), nullable=False),
    Column("gun", Integer(), nullable=True),
    Column("hex", Text(), nullable=False),
    Column("fields", Text(), nullable=False),  # JSON of the decoded message
    Column("session_id", String(64), nullable=True),
    Column("transaction_id", String(64), nullable=True),
    Index(None, "pile_id", "at_ms"),
    Index(None, "transaction_id", "at_ms"),
    Index(None, "at_ms"),
)
