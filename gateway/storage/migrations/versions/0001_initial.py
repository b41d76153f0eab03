"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 00:19:10.406676
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Generated from billing/schema.py, then reviewed. Later revisions edit, never this one.
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("card_token", sa.String(length=64), nullable=True),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.String(length=128), nullable=True),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("card_token", name=op.f("uq_accounts_card_token")),
        sa.UniqueConstraint("vin", name=op.f("uq_accounts_vin")),
    )
    op.create_table(
        "active_services",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("gun", sa.Integer(), nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_active_services")),
    )
    with op.batch_alter_table("active_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_active_services_pile_id_gun"), ["pile_id", "gun"], unique=False
        )

    op.create_table(
        "bills",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("gun", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("authorised_ms", sa.BigInteger(), nullable=False),
        sa.Column("charge_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("charge_end_ms", sa.BigInteger(), nullable=False),
        sa.Column("service_end_ms", sa.BigInteger(), nullable=False),
        sa.Column("meter_start_dwh", sa.BigInteger(), nullable=False),
        sa.Column("meter_stop_dwh", sa.BigInteger(), nullable=False),
        sa.Column("energy_dwh", sa.BigInteger(), nullable=False),
        sa.Column("sharp_dwh", sa.BigInteger(), nullable=False),
        sa.Column("peak_dwh", sa.BigInteger(), nullable=False),
        sa.Column("flat_dwh", sa.BigInteger(), nullable=False),
        sa.Column("valley_dwh", sa.BigInteger(), nullable=False),
        sa.Column("energy_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("idle_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("stop_reason", sa.Integer(), nullable=False),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("our_energy_dwh", sa.BigInteger(), nullable=False),
        sa.Column("our_energy_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("our_service_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("our_idle_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("our_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("idle_ms", sa.BigInteger(), nullable=False),
        sa.Column("idle_billable_minutes", sa.Integer(), nullable=False),
        sa.Column("idle_capped", sa.Boolean(), nullable=False),
        sa.Column("idle_clamped", sa.Boolean(), nullable=False),
        sa.Column("idle_waived", sa.String(length=64), nullable=True),
        sa.Column("anomaly_codes", sa.String(length=64), nullable=False),
        sa.Column("anomaly_mask", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint(
            "pile_id", "transaction_id", name=op.f("uq_bills_pile_id_transaction_id")
        ),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bills_account_received_ms"), ["account", "received_ms"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bills_received_ms"), ["received_ms"], unique=False)
        batch_op.create_index(batch_op.f("ix_bills_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bills_status_received_ms"), ["status", "received_ms"], unique=False
        )

    op.create_table(
        "frame_journal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.Integer(), nullable=False),
        sa.Column("type_name", sa.String(length=32), nullable=False),
        sa.Column("gun", sa.Integer(), nullable=True),
        sa.Column("hex", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frame_journal")),
    )
    with op.batch_alter_table("frame_journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_frame_journal_at_ms"), ["at_ms"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_frame_journal_pile_id_at_ms"), ["pile_id", "at_ms"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_frame_journal_transaction_id_at_ms"),
            ["transaction_id", "at_ms"],
            unique=False,
        )

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("published_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_published_at_ms_id"), ["published_at_ms", "id"], unique=False
        )

    op.create_table(
        "session_transitions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_transitions")),
    )
    with op.batch_alter_table("session_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_transitions_session_id_id"), ["session_id", "id"], unique=False
        )

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("gun", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("authorised_ms", sa.BigInteger(), nullable=True),
        sa.Column("charge_start_ms", sa.BigInteger(), nullable=True),
        sa.Column("charge_end_ms", sa.BigInteger(), nullable=True),
        sa.Column("service_end_ms", sa.BigInteger(), nullable=True),
        sa.Column("gateway_service_end_ms", sa.BigInteger(), nullable=True),
        sa.Column("meter_start_dwh", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop_dwh", sa.BigInteger(), nullable=True),
        sa.Column("observed_energy_dwh", sa.BigInteger(), nullable=True),
        sa.Column("stop_reason", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.String(length=64), nullable=True),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_account"), ["account"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sessions_pile_id_transaction_id"),
            ["pile_id", "transaction_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sessions_state_updated_ms"), ["state", "updated_ms"], unique=False
        )

    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("effective_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("sharp_energy_e4", sa.Integer(), nullable=False),
        sa.Column("sharp_service_e4", sa.Integer(), nullable=False),
        sa.Column("peak_energy_e4", sa.Integer(), nullable=False),
        sa.Column("peak_service_e4", sa.Integer(), nullable=False),
        sa.Column("flat_energy_e4", sa.Integer(), nullable=False),
        sa.Column("flat_service_e4", sa.Integer(), nullable=False),
        sa.Column("valley_energy_e4", sa.Integer(), nullable=False),
        sa.Column("valley_service_e4", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Text(), nullable=False),
        sa.Column("utc_offset_minutes", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
    )
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tariffs_scope_kind_scope_id_effective_from_ms"),
            ["scope_kind", "scope_id", "effective_from_ms"],
            unique=False,
        )

    op.create_table(
        "anomalies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bill_id", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("pile_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_anomalies_bill_id_bills")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
    )
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anomalies_bill_id"), ["bill_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_anomalies_code_created_ms"), ["code", "created_ms"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_anomalies_pile_id_created_ms"), ["pile_id", "created_ms"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_anomalies_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_anomalies_status_created_ms"), ["status", "created_ms"], unique=False
        )

    op.create_table(
        "bill_corrections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("original_energy_dwh", sa.BigInteger(), nullable=False),
        sa.Column("corrected_energy_dwh", sa.BigInteger(), nullable=False),
        sa.Column("original_energy_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("corrected_energy_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("original_service_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("corrected_service_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("original_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("corrected_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_bill_corrections_bill_id_bills")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_corrections")),
    )
    with op.batch_alter_table("bill_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bill_corrections_bill_id_id"), ["bill_id", "id"], unique=False
        )

    op.create_table(
        "bill_lines",
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("energy_dwh", sa.BigInteger(), nullable=False),
        sa.Column("energy_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_amount_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_bill_lines_bill_id_bills")
        ),
        sa.PrimaryKeyConstraint("bill_id", "line_no", name=op.f("pk_bill_lines")),
    )
    op.create_table(
        "idle_fee_rules",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("rate_fen_per_minute", sa.Integer(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_idle_fee_rules_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_idle_fee_rules")),
    )
    op.create_table(
        "piles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("firmware", sa.String(length=64), nullable=False),
        sa.Column("gun_count", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("registered_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_login_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_piles_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_piles")),
    )
    with op.batch_alter_table("piles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_piles_station_id"), ["station_id"], unique=False)

    op.create_table(
        "anomaly_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("anomaly_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["anomaly_id"], ["anomalies.id"], name=op.f("fk_anomaly_events_anomaly_id_anomalies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_events")),
    )
    with op.batch_alter_table("anomaly_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anomaly_events_anomaly_id_id"), ["anomaly_id", "id"], unique=False
        )

    op.create_table(
        "firmware_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("firmware", sa.String(length=64), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pile_id"], ["piles.id"], name=op.f("fk_firmware_history_pile_id_piles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_history")),
    )
    with op.batch_alter_table("firmware_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_firmware_history_firmware"), ["firmware"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_firmware_history_pile_id_first_seen_ms"),
            ["pile_id", "first_seen_ms"],
            unique=False,
        )

    op.create_table(
        "guns",
        sa.Column("pile_id", sa.String(length=32), nullable=False),
        sa.Column("gun", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["pile_id"], ["piles.id"], name=op.f("fk_guns_pile_id_piles")),
        sa.PrimaryKeyConstraint("pile_id", "gun", name=op.f("pk_guns")),
    )


def downgrade() -> None:
    # Generated from billing/schema.py, then reviewed. Later revisions edit, never this one.
    op.drop_table("guns")
    with op.batch_alter_table("firmware_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_history_pile_id_first_seen_ms"))
        batch_op.drop_index(batch_op.f("ix_firmware_history_firmware"))

    op.drop_table("firmware_history")
    with op.batch_alter_table("anomaly_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomaly_events_anomaly_id_id"))

    op.drop_table("anomaly_events")
    with op.batch_alter_table("piles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_piles_station_id"))

    op.drop_table("piles")
    op.drop_table("idle_fee_rules")
    op.drop_table("bill_lines")
    with op.batch_alter_table("bill_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bill_corrections_bill_id_id"))

    op.drop_table("bill_corrections")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomalies_status_created_ms"))
        batch_op.drop_index(batch_op.f("ix_anomalies_session_id"))
        batch_op.drop_index(batch_op.f("ix_anomalies_pile_id_created_ms"))
        batch_op.drop_index(batch_op.f("ix_anomalies_code_created_ms"))
        batch_op.drop_index(batch_op.f("ix_anomalies_bill_id"))

    op.drop_table("anomalies")
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariffs_scope_kind_scope_id_effective_from_ms"))

    op.drop_table("tariffs")
    op.drop_table("stations")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_state_updated_ms"))
        batch_op.drop_index(batch_op.f("ix_sessions_pile_id_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_sessions_account"))

    op.drop_table("sessions")
    with op.batch_alter_table("session_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_transitions_session_id_id"))

    op.drop_table("session_transitions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_published_at_ms_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("frame_journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_frame_journal_transaction_id_at_ms"))
        batch_op.drop_index(batch_op.f("ix_frame_journal_pile_id_at_ms"))
        batch_op.drop_index(batch_op.f("ix_frame_journal_at_ms"))

    op.drop_table("frame_journal")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bills_status_received_ms"))
        batch_op.drop_index(batch_op.f("ix_bills_session_id"))
        batch_op.drop_index(batch_op.f("ix_bills_received_ms"))
        batch_op.drop_index(batch_op.f("ix_bills_account_received_ms"))

    op.drop_table("bills")
    with op.batch_alter_table("active_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_active_services_pile_id_gun"))

    op.drop_table("active_services")
    op.drop_table("accounts")
