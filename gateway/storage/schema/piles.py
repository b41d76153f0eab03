"""Stations, piles and what belongs to one pile: its guns, firmware history and login secrets."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from gateway.storage.schema.types import SerialId, _ms, metadata

stations = Table(
    "stations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    _ms("created_ms", False),
)


piles = Table(
    "piles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("station_id", String(64), ForeignKey("stations.id"), nullable=True, index=True),
    Column("vendor", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("firmware", String(64), nullable=False),
    Column("gun_count", Integer(), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    _ms("registered_at_ms", False),
    _ms("last_login_ms"),
    _ms("last_seen_ms"),
    Column("online", Boolean(), nullable=False),
)


# Login secrets (docs/protocol.md §6.1.1), apart from `piles` so that no listing of piles can
# carry them. Stored as the key itself (hex): an HMAC is verified by recomputing it, so the
# gateway needs the key, not a hash of it; whoever can read this table can sign as the pile.
pile_secrets = Table(
    "pile_secrets",
    metadata,
    Column("pile_id", String(32), ForeignKey("piles.id"), primary_key=True),
    Column("secret_hex", String(64), nullable=False),
    _ms("set_at_ms", False),
    # the secret before the last rotation, accepted until previous_until_ms (grace period)
    Column("previous_hex", String(64), nullable=True),
    _ms("previous_until_ms"),
)


firmware_history = Table(
    "firmware_history",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("pile_id", String(32), ForeignKey("piles.id"), nullable=False),
    Column("firmware", String(64), nullable=False),
    _ms("first_seen_ms", False),
    Index(None, "pile_id", "first_seen_ms"),
    Index(None, "firmware"),
)


guns = Table(
    "guns",
    metadata,
    Column("pile_id", String(32), ForeignKey("piles.id"), primary_key=True),
    Column("gun", Integer(), primary_key=True),
    Column("enabled", Boolean(), nullable=False),
)
