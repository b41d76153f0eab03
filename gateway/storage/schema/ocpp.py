"""What the OCPP 1.6J side keeps per charge point (docs/ocpp.md): Basic Auth passwords,
transactions with their database-issued integer ids, stops nothing matched, configuration
keys as the charger reported them, and reservations.

A charge point is a row of ``piles`` like any pile; these tables only add what OCPP needs.
Energy here is the charger's own Wh (OCPP's unit), times are UTC epoch ms as the charger
stamped them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.storage.schema.types import SerialId, _ms, metadata

# Basic Auth (security profiles 1 and 2): only a salted KDF hash of the password is kept.
ocpp_chargers = Table(
    "ocpp_chargers",
    metadata,
    Column("pile_id", String(32), ForeignKey("piles.id"), primary_key=True),
    Column("security_profile", Integer(), nullable=False),  # 0, 1 or 2
    Column("password_hash", String(200), nullable=True),
    _ms("password_set_ms"),
)

# One row per StartTransaction. `id` is the OCPP transactionId: issued by the database, so it
# is unique across gateway instances. A retried StartTransaction (same charger, connector,
# idTag, timestamp and meterStart) finds its row and gets the same id.
ocpp_transactions = Table(
    "ocpp_transactions",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("pile_id", String(32), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("id_tag", String(20), nullable=False),
    _ms("start_ms", False),  # the charger's timestamp
    Column("meter_start_wh", BigInteger(), nullable=False),
    Column("reservation_id", Integer(), nullable=True),
    Column("id_tag_status", String(20), nullable=False),  # what StartTransaction.conf said
    Column("session_tx", String(64), nullable=True),  # the gateway's session; None: refused
    Column("account", String(64), nullable=True),
    _ms("created_ms", False),
    _ms("stop_ms"),  # the charger's StopTransaction timestamp
    Column("meter_stop_wh", BigInteger(), nullable=True),
    Column("stop_reason", String(32), nullable=True),
    _ms("stop_received_ms"),
    # The connector went Available with no StopTransaction: the gateway ended it (OCPP's
    # lost bill); a StopTransaction arriving later resolves it.
    _ms("ended_by_gateway_ms"),
    _ms("billed_ms"),
    UniqueConstraint("pile_id", "connector_id", "id_tag", "start_ms", "meter_start_wh"),
    Index(None, "pile_id", "stop_ms"),
    Index(None, "session_tx"),
)

# A StopTransaction whose transactionId matched nothing: answered anyway, kept for the operator.
ocpp_orphan_stops = Table(
    "ocpp_orphan_stops",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("pile_id", String(32), nullable=False),
    Column("transaction_id", BigInteger(), nullable=False),
    Column("id_tag", String(20), nullable=True),
    _ms("stop_ms", False),
    Column("meter_stop_wh", BigInteger(), nullable=False),
    Column("reason", String(32), nullable=True),
    _ms("received_ms", False),
    Column("payload", Text(), nullable=False),  # the request as sent (JSON)
    UniqueConstraint("pile_id", "transaction_id", "stop_ms", "meter_stop_wh"),
)

# GetConfiguration results, one row per key, with the charger's read-only flag.
ocpp_config_keys = Table(
    "ocpp_config_keys",
    metadata,
    Column("pile_id", String(32), primary_key=True),
    Column("key", String(50), primary_key=True),
    Column("value", Text(), nullable=True),
    Column("readonly", Boolean(), nullable=False),
    _ms("read_ms", False),
)

# ReserveNow: the id is issued by the database; the row records the charger's answer.
ocpp_reservations = Table(
    "ocpp_reservations",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("pile_id", String(32), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("id_tag", String(20), nullable=False),
    Column("parent_id_tag", String(20), nullable=True),
    _ms("expiry_ms", False),
    Column("status", String(16), nullable=False),  # accepted, used, cancelled
    Column("transaction_id", BigInteger(), nullable=True),
    _ms("created_ms", False),
    Index(None, "pile_id", "status"),
)
