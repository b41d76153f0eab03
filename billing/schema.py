"""The database schema of pilegate: one SQLAlchemy ``MetaData`` for every table.

It lives in ``billing`` because billing persists bills and may not import ``gateway``; the
gateway's storage layer (``gateway/storage``) uses the same metadata. The Alembic migrations
in ``gateway/storage/migrations`` are the source of truth in production; a test checks that
the migrated schema equals this metadata on SQLite and PostgreSQL.

Units: times are UTC epoch ms (BIGINT), energy 0.1 Wh (``_dwh``, BIGINT), money integer fen,
prices 0.0001 CNY/kWh (``_e4``). JSON is stored as TEXT (orjson), identical on both dialects.
Values a pile sends as u64 (its times and meter readings, protocol §3.4) can exceed BIGINT:
their columns are `WideInt`, so that every bill the codec can read can be stored as sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identity.
SerialId = BigInteger().with_variant(Integer(), "sqlite")
Ms = BigInteger  # UTC epoch milliseconds
Dwh = BigInteger  # 0.1 Wh
Fen = BigInteger  # money

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class WideInt(TypeDecorator[int]):
    """An integer beyond BIGINT: a pile's u64 times and meter readings as sent (0 .. 2^64 - 1),
    and differences of two of them (down to -(2^64 - 1)).

    PostgreSQL: NUMERIC(20, 0), read back as int. SQLite has no integer wider than 64 bits:
    the column stays INTEGER and holds every value that fits; a value outside int64 is
    stored as a BLOB of its decimal digits (a BLOB is never converted by column affinity,
    so nothing is rounded). SQLite sorts a BLOB after every number, so such an impossible
    value still compares greater than any real time or reading, and positive ones keep
    their order among themselves."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(20, 0))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql" or INT64_MIN <= value <= INT64_MAX:
            return value
        # 20 digits, zero-padded: BLOBs compare bytewise, so these keep their numeric order.
        return f"{int(value):020d}".encode()

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return int(bytes(value).decode())
        if isinstance(value, Decimal):
            return int(value)
        return int(value)


# Whole minutes of a pile's idle time: up to (2^64 - 1) / 60 000, beyond INTEGER. SQLite's
# INTEGER already holds 64 bits (and keeps the schema of revision 0001).
IdleMinutes = BigInteger().with_variant(Integer(), "sqlite")

PileMs = WideInt  # a time the pile sent (u64 on the wire)
PileDwh = WideInt  # a meter reading the pile sent (u64), or a difference of two


def _ms(name: str, nullable: bool = True) -> Column:
    return Column(name, Ms(), nullable=nullable)


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

bills = Table(
    "bills",
    metadata,
    Column("id", String(32), primary_key=True),  # generated by the writer (uuid4 hex)
    Column("pile_id", String(32), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("session_id", String(64), nullable=True),
    # the pile's bill, as uploaded
    Column("gun", Integer(), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("account", String(64), nullable=False),
    Column("authorised_ms", PileMs(), nullable=False),
    Column("charge_start_ms", PileMs(), nullable=False),
    Column("charge_end_ms", PileMs(), nullable=False),
    Column("service_end_ms", PileMs(), nullable=False),
    Column("meter_start_dwh", PileDwh(), nullable=False),
    Column("meter_stop_dwh", PileDwh(), nullable=False),
    Column("energy_dwh", Dwh(), nullable=False),
    Column("sharp_dwh", Dwh(), nullable=False),
    Column("peak_dwh", Dwh(), nullable=False),
    Column("flat_dwh", Dwh(), nullable=False),
    Column("valley_dwh", Dwh(), nullable=False),
    Column("energy_amount_fen", Fen(), nullable=False),
    Column("service_amount_fen", Fen(), nullable=False),
    Column("idle_fee_fen", Fen(), nullable=False),
    Column("total_amount_fen", Fen(), nullable=False),
    Column("stop_reason", Integer(), nullable=False),
    Column("vin", String(32), nullable=True),
    # ours, beside the pile's
    Column("tariff_id", String(64), nullable=False),
    Column("our_energy_dwh", Dwh(), nullable=False),  # observed by the gateway, else the pile's
    Column("our_energy_amount_fen", Fen(), nullable=False),
    Column("our_service_amount_fen", Fen(), nullable=False),
    Column("our_idle_fee_fen", Fen(), nullable=False),
    Column("our_total_fen", Fen(), nullable=False),
    Column("difference_fen", Fen(), nullable=False),  # pile total - ours
    Column("idle_ms", PileMs(), nullable=False),  # from the pile's times: up to 2^64 - 1
    Column("idle_billable_minutes", IdleMinutes, nullable=False),
    Column("idle_capped", Boolean(), nullable=False),
    Column("idle_clamped", Boolean(), nullable=False),
    Column("idle_waived", String(64), nullable=True),
    Column("anomaly_codes", String(64), nullable=False),  # "8,9" (sorted), "" when none
    Column("anomaly_mask", Integer(), nullable=False),  # bit n = code n (BillAck bits 1..11)
    Column("flags", Text(), nullable=False),  # JSON list: unknown_session, late, ...
    Column("valid", Boolean(), nullable=False),  # no finding at all
    _ms("received_ms", False),
    Column("status", String(16), nullable=False),  # stored | flagged | corrected
    UniqueConstraint("pile_id", "transaction_id"),
    Index(None, "received_ms"),
    Index(None, "session_id"),
    Index(None, "account", "received_ms"),
    Index(None, "status", "received_ms"),
)

bill_lines = Table(
    "bill_lines",
    metadata,
    Column("bill_id", String(32), ForeignKey("bills.id"), primary_key=True),
    Column("line_no", Integer(), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("start_ms", PileMs(), nullable=False),  # within the pile's charge times
    Column("end_ms", PileMs(), nullable=False),
    Column("energy_dwh", Dwh(), nullable=False),
    Column("energy_amount_fen", Fen(), nullable=False),
    Column("service_amount_fen", Fen(), nullable=False),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", String(32), primary_key=True),  # generated by the caller (uuid4 hex)
    Column("bill_id", String(32), ForeignKey("bills.id"), nullable=True),
    Column("session_id", String(64), nullable=True),
    Column("pile_id", String(32), nullable=True),
    Column("kind", String(32), nullable=False),  # billing FindingKind or an alarm kind
    Column("code", Integer(), nullable=True),  # AnomalyCode (1..11) when it has one
    Column("reason", Text(), nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    _ms("created_ms", False),
    _ms("resolved_ms"),
    Column("resolved_by", String(64), nullable=True),
    Column("resolution", Text(), nullable=True),
    Index(None, "bill_id"),
    Index(None, "session_id"),
    Index(None, "status", "created_ms"),
    Index(None, "code", "created_ms"),
    Index(None, "pile_id", "created_ms"),
)

# Every status change of an anomaly (opened, resolved, reopened): the history.
anomaly_events = Table(
    "anomaly_events",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("anomaly_id", String(32), ForeignKey("anomalies.id"), nullable=False),
    Column("action", String(16), nullable=False),
    _ms("at_ms", False),
    Column("who", String(64), nullable=True),
    Column("note", Text(), nullable=True),
    Index(None, "anomaly_id", "id"),
)

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

bill_corrections = Table(
    "bill_corrections",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("bill_id", String(32), ForeignKey("bills.id"), nullable=False),
    _ms("at_ms", False),
    Column("who", String(64), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("tariff_id", String(64), nullable=False),
    Column("original_energy_dwh", Dwh(), nullable=False),
    Column("corrected_energy_dwh", Dwh(), nullable=False),
    Column("original_energy_amount_fen", Fen(), nullable=False),
    Column("corrected_energy_amount_fen", Fen(), nullable=False),
    Column("original_service_amount_fen", Fen(), nullable=False),
    Column("corrected_service_amount_fen", Fen(), nullable=False),
    Column("original_total_fen", Fen(), nullable=False),  # energy + service, before
    Column("corrected_total_fen", Fen(), nullable=False),  # energy + service, after
    Column("refund_fen", Fen(), nullable=False),  # original - corrected (< 0: charge extra)
    Column("lines", Text(), nullable=False),  # JSON of the corrected lines
    Index(None, "bill_id", "id"),
)

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
