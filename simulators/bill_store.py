"""Pending (unacknowledged) bills of one pile, kept like a pile's flash memory.

One JSON file per pile, ``<state_dir>/<pile_id>.bills.json``, rewritten atomically (temp file,
fsync, rename) on every change and deleted when empty; a new store re-reads it, so neither a
gateway nor a simulator restart loses a bill. A bill leaves the store only on BILL_ACK
ACCEPTED, DUPLICATE or FLAGGED; REJECTED keeps it for the next re-send. ``state_dir=None``
keeps the bills in memory only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from protocol.pilegate.codes import BillAckStatus
from protocol.pilegate.messages import Bill

FORGET = frozenset({BillAckStatus.ACCEPTED, BillAckStatus.DUPLICATE, BillAckStatus.FLAGGED})
_BILL_FIELDS = frozenset(f.name for f in fields(Bill))


def bill_to_dict(bill: Bill) -> dict[str, object]:
    return asdict(bill)


def bill_from_dict(data: dict[str, object]) -> Bill:
    # The JSON object bill_to_dict wrote: its values have the field types, unknown to mypy.
    return Bill(**{k: v for k, v in data.items() if k in _BILL_FIELDS})  # type: ignore[arg-type]


class BillStore:
    __slots__ = ("_bills", "durable", "path")

    def __init__(self, state_dir: str | Path | None, pile_id: str, *, durable: bool = True) -> None:
        self.path = None if state_dir is None else Path(state_dir) / f"{pile_id}.bills.json"
        self.durable = durable
        self._bills: dict[str, Bill] = {}
        if self.path is not None and self.path.exists():
            data = json.loads(self.path.read_text() or "[]")
            for item in data:
                bill = bill_from_dict(item)
                self._bills[bill.transaction_id] = bill

    def __len__(self) -> int:
        return len(self._bills)

    def __contains__(self, transaction_id: object) -> bool:
        return transaction_id in self._bills

    def pending(self, gun: int = 0) -> list[Bill]:
        """Bills still to be acknowledged, oldest first (0 = every gun)."""
        return [b for b in self._bills.values() if gun in (0, b.gun)]

    def get(self, transaction_id: str) -> Bill | None:
        return self._bills.get(transaction_id)

    def add(self, bill: Bill) -> None:
        self._bills[bill.transaction_id] = bill
        self._save()

    def on_ack(self, transaction_id: str, status: int) -> bool:
        """Apply a BILL_ACK; True when the bill was forgotten."""
        if status in FORGET and transaction_id in self._bills:
            del self._bills[transaction_id]
            self._save()
            return True
        return False

    def _save(self) -> None:
        if self.path is None:
            return
        if not self._bills:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:
            json.dump([bill_to_dict(b) for b in self._bills.values()], fh)
            if self.durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.path)
