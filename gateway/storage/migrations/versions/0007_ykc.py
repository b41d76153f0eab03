"""YKC piles: protocol version, CRC byte order, source allow-list (ykc_piles)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ykc_piles",
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("protocol_version", sa.Integer(), nullable=True),
        sa.Column("crc_order", sa.String(length=16), nullable=True),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("last_login_ms", sa.BigInteger(), nullable=True),
        sa.Column("allowed_sources", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["pile_id"], ["piles.id"], name=op.f("fk_ykc_piles_pile_id_piles")),
        sa.PrimaryKeyConstraint("pile_id", name=op.f("pk_ykc_piles")),
    )


def downgrade() -> None:
    op.drop_table("ykc_piles")
