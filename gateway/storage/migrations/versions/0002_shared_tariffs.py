"""tariffs are shared definitions; their use by piles and stations is tariff_assignments

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:40:00

Before this revision a tariff row carried its scope, so setting one tariff id on a second
pile moved it away from the first. Each existing row becomes one assignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff_assignments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("effective_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("assigned_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_tariff_assignments_tariff_id_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_assignments")),
    )
    with op.batch_alter_table("tariff_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tariff_assignments_scope_kind_scope_id_effective_from_ms"),
            ["scope_kind", "scope_id", "effective_from_ms"],
            unique=False,
        )
    op.execute(
        "INSERT INTO tariff_assignments "
        "(tariff_id, scope_kind, scope_id, effective_from_ms, assigned_ms) "
        "SELECT id, scope_kind, scope_id, effective_from_ms, created_ms FROM tariffs "
        "ORDER BY created_ms, id"
    )
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariffs_scope_kind_scope_id_effective_from_ms"))
        batch_op.drop_column("scope_kind")
        batch_op.drop_column("scope_id")
        batch_op.drop_column("effective_from_ms")


def downgrade() -> None:
    # Back to one scope per tariff: each tariff keeps its latest assignment (or a pile
    # scope with no pile when it has none).
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope_kind", sa.String(length=16), nullable=False, server_default="pile")
        )
        batch_op.add_column(
            sa.Column("scope_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("effective_from_ms", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE tariffs SET "
        "scope_kind = (SELECT a.scope_kind FROM tariff_assignments a "
        "WHERE a.tariff_id = tariffs.id ORDER BY a.id DESC LIMIT 1), "
        "scope_id = (SELECT a.scope_id FROM tariff_assignments a "
        "WHERE a.tariff_id = tariffs.id ORDER BY a.id DESC LIMIT 1), "
        "effective_from_ms = (SELECT a.effective_from_ms FROM tariff_assignments a "
        "WHERE a.tariff_id = tariffs.id ORDER BY a.id DESC LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM tariff_assignments a WHERE a.tariff_id = tariffs.id)"
    )
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.alter_column("scope_kind", server_default=None)
        batch_op.alter_column("scope_id", server_default=None)
        batch_op.alter_column("effective_from_ms", server_default=None)
        batch_op.create_index(
            batch_op.f("ix_tariffs_scope_kind_scope_id_effective_from_ms"),
            ["scope_kind", "scope_id", "effective_from_ms"],
            unique=False,
        )
    with op.batch_alter_table("tariff_assignments", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_tariff_assignments_scope_kind_scope_id_effective_from_ms")
        )
    op.drop_table("tariff_assignments")
