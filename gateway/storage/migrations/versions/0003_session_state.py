"""sessions keep what timers and alarms depend on; one name per end of service

- `sessions.service_end_ms` (the pile's logout) becomes `pile_service_end_ms`, beside the
  gateway's own `gateway_service_end_ms`;
- new session columns restored after a restart: phase_since_ms, end_reason, start_command,
  stop_sent_ms, stop_acked, stop_retries, charging_reports_since_stop, bill_received_ms,
  bill_wait_alarmed, and a late charge (late_charge_*: the pile charging for the account
  after the gateway ended the session);
- the account index gains authorised_ms for the per-bill overlap query (code 7).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MS_COLUMNS = (
    "phase_since_ms",
    "stop_sent_ms",
    "bill_received_ms",
    "late_charge_start_ms",
    "late_charge_end_ms",
    "late_charge_seen_ms",
)
_COUNT_COLUMNS = (
    "stop_retries",
    "charging_reports_since_stop",
    "late_charge_reports",
    "late_charge_stop_retries",
)


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.alter_column("service_end_ms", new_column_name="pile_service_end_ms")
        for name in _MS_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("start_command", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("stop_acked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        for name in _COUNT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("bill_wait_alarmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_index(batch_op.f("ix_sessions_account"))
        batch_op.create_index(
            batch_op.f("ix_sessions_account_authorised_ms"),
            ["account", "authorised_ms"],
            unique=False,
        )
    # Rows written before this revision: their phase began at their last update at the latest.
    op.execute("UPDATE sessions SET phase_since_ms = updated_ms WHERE phase_since_ms IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_account_authorised_ms"))
        batch_op.create_index(batch_op.f("ix_sessions_account"), ["account"], unique=False)
        for name in (
            *_MS_COLUMNS,
            *_COUNT_COLUMNS,
            "end_reason",
            "start_command",
            "stop_acked",
            "bill_wait_alarmed",
        ):
            batch_op.drop_column(name)
        batch_op.alter_column("pile_service_end_ms", new_column_name="service_end_ms")
