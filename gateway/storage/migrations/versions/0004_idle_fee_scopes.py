"""idle-fee rules per pile, station or default (scope_kind, scope_id), not per station only

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RULE = ("grace_minutes", "rate_fen_per_minute", "cap_fen", "updated_ms")


def _rule_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("rate_fen_per_minute", sa.Integer(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    # Keep the station rules: read them, rebuild the table with a scope, write them back.
    old = sa.table("idle_fee_rules", sa.column("station_id"), *(sa.column(c) for c in _RULE))
    rows = [dict(r._mapping) for r in op.get_bind().execute(sa.select(old))]
    op.drop_table("idle_fee_rules")
    new = op.create_table(
        "idle_fee_rules",
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        *_rule_columns(),
        sa.PrimaryKeyConstraint("scope_kind", "scope_id", name=op.f("pk_idle_fee_rules")),
    )
    if rows:
        op.bulk_insert(
            new,
            [{"scope_kind": "station", "scope_id": r.pop("station_id"), **r} for r in rows],
        )


def downgrade() -> None:
    new = sa.table(
        "idle_fee_rules", sa.column("scope_kind"), sa.column("scope_id"),
        *(sa.column(c) for c in _RULE),
    )  # fmt: skip
    query = sa.select(new).where(new.c.scope_kind == "station")
    rows = [dict(r._mapping) for r in op.get_bind().execute(query)]
    op.drop_table("idle_fee_rules")
    old = op.create_table(
        "idle_fee_rules",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        *_rule_columns(),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_idle_fee_rules_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_idle_fee_rules")),
    )
    if rows:
        op.bulk_insert(
            old,
            [{"station_id": r.pop("scope_id"), **{k: r[k] for k in _RULE}} for r in rows],
        )
