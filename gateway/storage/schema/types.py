"""The one SQLAlchemy ``MetaData`` of pilegate's tables, and the column types they share.

The tables themselves are declared by area beside this module (``piles``, ``accounts``,
``sessions``, ``bills``, ``anomalies``, ``pricing``, ``journal``, ``outbox``); importing
``gateway.storage.schema`` declares them all. The Alembic migrations in
``gateway/storage/migrations`` are the source of truth in production; a test checks that the
migrated schema equals this metadata on SQLite and PostgreSQL.

Units: times are UTC epoch ms (BIGINT), energy 0.1 Wh (``_dwh``, BIGINT), money integer fen,
prices 0.0001 CNY/kWh (``_e4``). JSON is stored as TEXT (orjson), identical on both dialects.
Values a pile sends as u64 (its times and meter readings, protocol §3.4) can exceed BIGINT:
their columns are `WideInt`, so that every bill the codec can read can be stored as sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, Numeric
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
