"""pilegate's storage layer: `Storage` (the facade the gateway holds), migrations, records.

Schema: ``schema/`` (tables by area); `Storage`'s methods by area: ``areas/``; bill rows
and corrections: ``bills.py``; tariffs and idle-fee rules: ``pricing.py``; every INSERT with
ON CONFLICT or in bulk: ``inserts.py``.
"""

from gateway.storage.bills import Correction, StoredBill
from gateway.storage.migrate import SchemaOutOfDate, check_current, upgrade
from gateway.storage.pile_secrets import PileSecrets
from gateway.storage.records import (
    AccountRecord,
    ActiveService,
    AnomalyEvent,
    AnomalyRecord,
    FirmwareSeen,
    JournalEntry,
    PileRecord,
    SessionRow,
    TransitionRecord,
)
from gateway.storage.storage import DEFAULT_IDLE_RULE, DEFAULT_TARIFF, Storage
from gateway.storage.writer import StorageClosed, WriteFailed, WriterStats

__all__ = [
    "DEFAULT_IDLE_RULE",
    "DEFAULT_TARIFF",
    "AccountRecord",
    "ActiveService",
    "AnomalyEvent",
    "AnomalyRecord",
    "Correction",
    "FirmwareSeen",
    "JournalEntry",
    "PileRecord",
    "PileSecrets",
    "SchemaOutOfDate",
    "SessionRow",
    "Storage",
    "StorageClosed",
    "StoredBill",
    "TransitionRecord",
    "WriteFailed",
    "WriterStats",
    "check_current",
    "upgrade",
]
