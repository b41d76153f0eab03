"""OCPP 1.6J charge points: passwords, transactions, orphan stops, configuration keys,
reservations (gateway/storage/schema/ocpp.py)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ocpp_chargers",
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("security_profile", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("password_set_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pile_id"], ["piles.id"], name=op.f("fk_ocpp_chargers_pile_id_piles")
        ),
        sa.PrimaryKeyConstraint("pile_id", name=op.f("pk_ocpp_chargers")),
    )
    op.create_table(
        "ocpp_transactions",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("meter_start_wh", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("id_tag_status", sa.String(length=20), nullable=False),
        sa.Column("session_tx", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("stop_ms", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("stop_received_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_by_gateway_ms", sa.BigInteger(), nullable=True),
        sa.Column("billed_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_transactions")),
        sa.UniqueConstraint(
            "pile_id",
            "connector_id",
            "id_tag",
            "start_ms",
            "meter_start_wh",
            name=op.f("uq_ocpp_transactions_pile_id_connector_id_id_tag_start_ms_meter_start_wh"),
        ),
    )
    with op.batch_alter_table("ocpp_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ocpp_transactions_pile_id_stop_ms"), ["pile_id", "stop_ms"]
        )
        batch_op.create_index(batch_op.f("ix_ocpp_transactions_session_tx"), ["session_tx"])
    op.create_table(
        "ocpp_orphan_stops",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=True),
        sa.Column("stop_ms", sa.BigInteger(), nullable=False),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_orphan_stops")),
        sa.UniqueConstraint(
            "pile_id",
            "transaction_id",
            "stop_ms",
            "meter_stop_wh",
            name=op.f("uq_ocpp_orphan_stops_pile_id_transaction_id_stop_ms_meter_stop_wh"),
        ),
    )
    op.create_table(
        "ocpp_config_keys",
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("read_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pile_id", "key", name=op.f("pk_ocpp_config_keys")),
    )
    op.create_table(
        "ocpp_reservations",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.Column("expiry_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_reservations")),
    )
    with op.batch_alter_table("ocpp_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ocpp_reservations_pile_id_status"), ["pile_id", "status"]
        )


def downgrade() -> None:
    op.drop_table("ocpp_reservations")
    op.drop_table("ocpp_config_keys")
    op.drop_table("ocpp_orphan_stops")
    with op.batch_alter_table("ocpp_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpp_transactions_session_tx"))
        batch_op.drop_index(batch_op.f("ix_ocpp_transactions_pile_id_stop_ms"))
    op.drop_table("ocpp_transactions")
    op.drop_table("ocpp_chargers")
