from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from protocol.pilegate.codes import BillAckStatus, MsgType
from protocol.pilegate.examples import EXAMPLES
from protocol.pilegate.messages import Bill
from simulators.bill_store import BillStore

PILE = "44030600030000000001"


def _bill(n: int) -> Bill:
    base = EXAMPLES[MsgType.BILL][1]
    assert isinstance(base, Bill)
    return replace(base, transaction_id=f"{n:032x}")


def test_persist_and_reload_after_restart(tmp_path: Path) -> None:
    store = BillStore(tmp_path, PILE)
    store.add(_bill(1))
    store.add(_bill(2))
    again = BillStore(tmp_path, PILE)  # a simulator restart
    assert [b.transaction_id for b in again.pending()] == [f"{1:032x}", f"{2:032x}"]
    assert again.pending()[0] == _bill(1)
    assert not list(tmp_path.glob("*.tmp"))
    assert json.loads((tmp_path / f"{PILE}.bills.json").read_text())[0]["energy_dwh"] == 400_000


@pytest.mark.parametrize(
    "status", [BillAckStatus.ACCEPTED, BillAckStatus.DUPLICATE, BillAckStatus.FLAGGED]
)
def test_removed_on_forgetting_acks(tmp_path: Path, status: int) -> None:
    store = BillStore(tmp_path, PILE)
    store.add(_bill(1))
    assert store.on_ack(f"{1:032x}", status)
    assert len(store) == 0 and len(BillStore(tmp_path, PILE)) == 0
    assert not (tmp_path / f"{PILE}.bills.json").exists()


def test_kept_on_rejected_and_unknown_ack_ignored(tmp_path: Path) -> None:
    store = BillStore(tmp_path, PILE)
    store.add(_bill(1))
    assert not store.on_ack(f"{1:032x}", BillAckStatus.REJECTED)
    assert not store.on_ack(f"{9:032x}", BillAckStatus.ACCEPTED)
    assert len(BillStore(tmp_path, PILE)) == 1


def test_per_gun_filter_and_memory_store() -> None:
    store = BillStore(None, PILE)
    store.add(_bill(1))
    assert store.pending(gun=1) and not store.pending(gun=2)
    assert store.path is None
