"""columns wide enough for every value a pile can send

A pile's times and meter readings are u64 on the wire (protocol §3.4): BIGINT cannot hold
the upper half, so a readable bill failed its insert and was re-sent forever. On PostgreSQL
these columns become NUMERIC(20, 0) (``billing.schema.WideInt``) and the idle minutes
BIGINT. SQLite needs no change: its INTEGER already holds 64 bits and WideInt stores the
rest as BLOBs (see billing/schema.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, nullable) of the columns that hold a pile's u64 values (or their differences)
WIDE = (
    ("bills", "authorised_ms", False),
    ("bills", "charge_start_ms", False),
    ("bills", "charge_end_ms", False),
    ("bills", "service_end_ms", False),
    ("bills", "meter_start_dwh", False),
    ("bills", "meter_stop_dwh", False),
    ("bills", "idle_ms", False),
    ("bill_lines", "start_ms", False),
    ("bill_lines", "end_ms", False),
    ("sessions", "pile_service_end_ms", True),
    ("sessions", "meter_start_dwh", True),
    ("sessions", "meter_stop_dwh", True),
    ("sessions", "observed_energy_dwh", True),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in WIDE:
        op.alter_column(
            table,
            column,
            type_=sa.Numeric(20, 0),
            existing_type=sa.BigInteger(),
            existing_nullable=nullable,
        )
    op.alter_column(
        "bills",
        "idle_billable_minutes",
        type_=sa.BigInteger(),
        existing_type=sa.Integer(),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "bills",
        "idle_billable_minutes",
        type_=sa.Integer(),
        existing_type=sa.BigInteger(),
        existing_nullable=False,
    )
    for table, column, nullable in WIDE:
        op.alter_column(
            table,
            column,
            type_=sa.BigInteger(),
            existing_type=sa.Numeric(20, 0),
            existing_nullable=nullable,
        )
