"""The one way pilegate inserts rows: `dialect_insert` for an INSERT with ON CONFLICT (both
supported dialects have it, each in its own SQLAlchemy construct) and `insert_rows` for many
rows in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

_PG_TYPES = {"BIGINT": "int8", "INTEGER": "int4", "BOOLEAN": "bool", "TEXT": "text"}


def pg_array_type(column: Any) -> str:
    name = column.type.compile(dialect=postgresql.dialect())
    if name.startswith("NUMERIC"):  # WideInt: the pile's u64 times and meter readings
        return "numeric"
    return _PG_TYPES.get(name, "text")  # VARCHAR(n) -> text (the column's cast checks length)


_UNNEST_SQL: dict[tuple[str, tuple[str, ...], str], str] = {}


def unnest_insert_sql(table: Any, cols: tuple[str, ...], suffix: str) -> str:
    """PostgreSQL: INSERT INTO table (cols) SELECT FROM unnest() of one array parameter per
    column ($1, $2, ...), then suffix; cached per table, columns and suffix."""
    key = (table.name, cols, suffix)
    sql = _UNNEST_SQL.get(key)
    if sql is None:
        arrays = ", ".join(f"${n}::{pg_array_type(table.c[c])}[]" for n, c in enumerate(cols, 1))
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT * FROM unnest({arrays})"
        sql = _UNNEST_SQL[key] = f"{sql} {suffix}".rstrip()
    return sql


async def insert_rows(
    conn: AsyncConnection, table: Any, rows: Sequence[Mapping[str, Any]], suffix: str = ""
) -> Any:
    """Insert many rows in one statement. PostgreSQL: one INSERT ... SELECT FROM unnest()
    of one array per column (a single prepared statement, whatever the batch size: far
    cheaper than multi-row VALUES); elsewhere executemany (insertmanyvalues). `suffix`
    (PostgreSQL only, e.g. ON CONFLICT/RETURNING) is appended to the statement."""
    if conn.dialect.name != "postgresql":
        return await conn.execute(insert(table), list(rows))
    cols = tuple(rows[0])
    arrays = tuple([r[c] for r in rows] for c in cols)
    return await conn.exec_driver_sql(unnest_insert_sql(table, cols, suffix), arrays)


def dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    """An INSERT of the connection's dialect (it has on_conflict_do_nothing/_update)."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name}")
