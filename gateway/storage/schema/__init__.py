"""pilegate's database schema: one ``MetaData`` (``types.py``), its tables declared by area.

Import tables from here (``from gateway.storage.schema import bills``): importing this
package declares every table on ``metadata``, which Alembic's env and the schema test use.
"""

from gateway.storage.schema.accounts import accounts, active_services
from gateway.storage.schema.anomalies import anomalies, anomaly_events
from gateway.storage.schema.bills import bill_corrections, bill_lines, bills
from gateway.storage.schema.journal import frame_journal
from gateway.storage.schema.ocpp import (
    ocpp_chargers,
    ocpp_config_keys,
    ocpp_orphan_stops,
    ocpp_reservations,
    ocpp_transactions,
)
from gateway.storage.schema.outbox import outbox
from gateway.storage.schema.piles import firmware_history, guns, pile_secrets, piles, stations
from gateway.storage.schema.pricing import idle_fee_rules, tariff_assignments, tariffs
from gateway.storage.schema.sessions import session_transitions, sessions
from gateway.storage.schema.types import NAMING, WideInt, metadata
from gateway.storage.schema.ykc import ykc_piles

__all__ = [
    "NAMING",
    "WideInt",
    "accounts",
    "active_services",
    "anomalies",
    "anomaly_events",
    "bill_corrections",
    "bill_lines",
    "bills",
    "firmware_history",
    "frame_journal",
    "guns",
    "idle_fee_rules",
    "metadata",
    "ocpp_chargers",
    "ocpp_config_keys",
    "ocpp_orphan_stops",
    "ocpp_reservations",
    "ocpp_transactions",
    "outbox",
    "pile_secrets",
    "piles",
    "session_transitions",
    "sessions",
    "stations",
    "tariff_assignments",
    "tariffs",
    "ykc_piles",
]
