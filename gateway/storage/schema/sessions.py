"""Charging sessions and their state transitions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, false

from gateway.storage.schema.types import PileDwh, PileMs, SerialId, _ms, metadata

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("transaction_id", String(64), nullable=False),
    Column("pile_id", String(32), nullable=False),
    Column("gun", Integer(), nullable=False),
    Column("account", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    _ms("authorised_ms"),
    _ms("charge_start_ms"),
    _ms("charge_end_ms"),
    Column("pile_service_end_ms", PileMs(), nullable=True),  # the pile's end (its logout)
    _ms("gateway_service_end_ms"),  # the gateway's own known end (billing caps idle here)
    Column("meter_start_dwh", PileDwh(), nullable=True),
    Column("meter_stop_dwh", PileDwh(), nullable=True),
    Column("observed_energy_dwh", PileDwh(), nullable=True),  # meter difference, may be < 0
    Column("stop_reason", String(64), nullable=True),
    Column("cancel_reason", String(64), nullable=True),
    Column("flags", Text(), nullable=False),  # JSON list of strings
    _ms("updated_ms", False),
    # What the session machine's timers and alarms depend on (restored after a restart).
    _ms("phase_since_ms"),
    Column("end_reason", String(64), nullable=True),
    Column("start_command", String(16), nullable=True),
    _ms("stop_sent_ms"),
    Column("stop_acked", Boolean(), nullable=False, server_default=false()),
    Column("stop_retries", Integer(), nullable=False, server_default="0"),
    Column("charging_reports_since_stop", Integer(), nullable=False, server_default="0"),
    _ms("bill_received_ms"),
    Column("bill_wait_alarmed", Boolean(), nullable=False, server_default=false()),
    # Energy for the account after the gateway ended the session (end NULL: still flowing).
    _ms("late_charge_start_ms"),
    _ms("late_charge_end_ms"),
    _ms("late_charge_seen_ms"),
    Column("late_charge_reports", Integer(), nullable=False, server_default="0"),
    Column("late_charge_stop_retries", Integer(), nullable=False, server_default="0"),
    # Which version of the row this is: an upsert never replaces a newer one
    # (gateway/storage/session_rows.py: claims write rows the writer may still hold).
    Column("row_version", BigInteger(), nullable=False, server_default="0"),
    Index(None, "pile_id", "transaction_id"),
    Index(None, "state", "updated_ms"),
    # One account's sessions in time order: the overlap query of every bill (code 7).
    Index(None, "account", "authorised_ms"),
)


session_transitions = Table(
    "session_transitions",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=False),
    Column("reason", String(200), nullable=False),
    _ms("at_ms", False),
    Index(None, "session_id", "id"),
)
