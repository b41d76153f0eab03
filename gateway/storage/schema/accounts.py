"""Accounts and the one-account-one-active-service claims."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from gateway.storage.schema.types import Fen, _ms, metadata

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("card_token", String(64), nullable=True, unique=True),
    Column("vin", String(32), nullable=True, unique=True),
    Column("password_hash", String(128), nullable=True),  # "sha256$<salt>$<hex>"
    Column("balance_fen", Fen(), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    _ms("created_ms", False),
)


# The global one-account-one-active-service rule: the primary key makes a claim atomic
# across gateway instances (INSERT ... ON CONFLICT DO NOTHING). Accounts of roaming partners
# need not exist in `accounts`, hence no foreign key.
active_services = Table(
    "active_services",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("pile_id", String(32), nullable=False),
    Column("gun", Integer(), nullable=False),
    _ms("since_ms", False),
    Index(None, "pile_id", "gun"),
)
