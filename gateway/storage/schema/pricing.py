"""Tariff definitions, their assignments to piles and stations, idle-fee rules."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from gateway.storage.schema.types import Fen, SerialId, _ms, metadata

# A tariff is a shared definition (prices and day table) named by its id; which piles and
# stations use it, and from when, are its assignments. One id never changes its prices.
tariffs = Table(
    "tariffs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sharp_energy_e4", Integer(), nullable=False),
    Column("sharp_service_e4", Integer(), nullable=False),
    Column("peak_energy_e4", Integer(), nullable=False),
    Column("peak_service_e4", Integer(), nullable=False),
    Column("flat_energy_e4", Integer(), nullable=False),
    Column("flat_service_e4", Integer(), nullable=False),
    Column("valley_energy_e4", Integer(), nullable=False),
    Column("valley_service_e4", Integer(), nullable=False),
    Column("segments", Text(), nullable=False),  # JSON [[start_minute, kind], ...]
    Column("utc_offset_minutes", Integer(), nullable=False),
    _ms("created_ms", False),
)


tariff_assignments = Table(
    "tariff_assignments",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),  # ties: the later one wins
    Column("tariff_id", String(64), ForeignKey("tariffs.id"), nullable=False),
    Column("scope_kind", String(16), nullable=False),  # station | pile
    Column("scope_id", String(64), nullable=False),
    _ms("effective_from_ms", False),
    _ms("assigned_ms", False),  # when the operator set it
    Index(None, "scope_kind", "scope_id", "effective_from_ms"),
)


idle_fee_rules = Table(
    "idle_fee_rules",
    metadata,
    # pile (scope_id = pile id) beats station (station id) beats default (scope_id "")
    Column("scope_kind", String(16), primary_key=True),
    Column("scope_id", String(64), primary_key=True),
    Column("grace_minutes", Integer(), nullable=False),
    Column("rate_fen_per_minute", Integer(), nullable=False),
    Column("cap_fen", Fen(), nullable=True),
    _ms("updated_ms", False),
)
