"""pile login secrets (pile_secrets)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pile_secrets",
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hex", sa.String(length=64), nullable=False),
        sa.Column("set_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("previous_hex", sa.String(length=64), nullable=True),
        sa.Column("previous_until_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pile_id"], ["piles.id"], name=op.f("fk_pile_secrets_pile_id_piles")
        ),
        sa.PrimaryKeyConstraint("pile_id", name=op.f("pk_pile_secrets")),
    )


def downgrade() -> None:
    op.drop_table("pile_secrets")
