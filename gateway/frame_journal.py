"""The frame journal: every message in and out, as its dialect's adapter describes it
(config database.journal); bounded, so a lost line is counted, never waited for."""

from __future__ import annotations

from gateway.dialect import JournalLine
from gateway.metrics import Metrics
from gateway.ports import Clock
from gateway.storage import JournalEntry, Storage


class FrameJournal:
    def __init__(self, storage: Storage, clock: Clock, enabled: bool, metrics: Metrics) -> None:
        self.storage = storage
        self.now_ms = clock
        self.enabled = enabled
        self.metrics = metrics

    def write(self, pile_id: str, line: JournalLine) -> None:
        if not self.enabled:
            return
        entry = JournalEntry(
            at_ms=self.now_ms(),
            pile_id=pile_id,
            direction=line.direction,
            seq=line.seq,
            msg_type=line.msg_type,
            type_name=line.type_name,
            hex=line.raw.hex(),
            fields=line.fields,
            gun=line.gun,
            transaction_id=line.transaction_id,
        )
        if not self.storage.journal(entry):
            self.metrics.journal_dropped += 1
