"""Faulty pile behaviours, one named flag each (field cases in docs/field-cases.md).

A ``Faults`` is set per pile (``Pile.faults``) and may be overridden per gun
(``Pile.force_fault(name, gun=...)``), so a scenario can force one behaviour on one gun of one
pile. Wire-level faults (garbage, slow drip) and going offline act on the whole connection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace

START_BYTE = 0x68

#: The boolean fault flags, in the order ``Faults.random`` picks from.
FAULT_FLAGS = (
    "start_fails",  # case 1: start fails with fault 98, no LOGOUT, bill uploaded hours later
    "ignores_stop",  # case 2: acknowledges STOP_CHARGE but keeps charging (and sends no VIN)
    "transient_fault",  # case 3: one FAULTED heartbeat sample mid-charge, then charging again
    "never_sends_bill",  # the bill is never stored nor sent
    "offline_with_bills",  # at unplug (OCPP: as the StopTransaction goes out): drops the link,
    # holds the bill, comes back after offline_s, re-sends it
    "unauthorised_charge",  # case 4: cars charge with no AUTH_REQUEST, no transaction, no bill
    "old_firmware",  # case 5: loses bills at bill_loss_rate
    "late_start",  # case 6: START_RESULT later than the gateway's start timeout
    "duplicate_bill",  # re-sends an acknowledged bill once
    "garbage_bytes",  # garbage and truncated frames between real frames
    "slow_drip",  # writes every frame one byte at a time
)


@dataclass(slots=True)
class Faults:
    start_fails: bool = False
    ignores_stop: bool = False
    transient_fault: bool = False
    never_sends_bill: bool = False
    offline_with_bills: bool = False
    unauthorised_charge: bool = False
    old_firmware: bool = False
    late_start: bool = False
    duplicate_bill: bool = False
    garbage_bytes: bool = False
    slow_drip: bool = False
    # --- parameters ---
    bill_loss_rate: float = 0.116  # old_firmware: share of bills lost (case 5's 11.6 %)
    late_bill_delay_ms: int = 10 * 3_600_000  # start_fails: bill this long after (pile clock)
    late_start_s: float = 330.0  # late_start: extra delay, wall seconds (> a 5 min timeout)
    offline_s: float = 5.0  # offline_with_bills: wall seconds away
    garbage_rate: float = 0.2  # garbage_bytes: share of frames preceded by junk
    drip_interval_s: float = 0.01  # slow_drip: wall seconds between bytes

    @classmethod
    def named(cls, *names: str, **params: float) -> Faults:
        """Faults with the given flags set, e.g. ``Faults.named("late_start", late_start_s=6)``."""
        f = cls(**params)  # type: ignore[arg-type]  # float knobs only; mypy sees the bool flags too
        for name in names:
            f.set(name)
        return f

    def set(self, name: str, on: bool = True) -> None:
        if name not in FAULT_FLAGS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_FLAGS)}")
        setattr(self, name, on)

    def active(self) -> list[str]:
        return [n for n in FAULT_FLAGS if getattr(self, n)]

    def copy(self) -> Faults:
        return replace(self)

    @classmethod
    def random(cls, rng: random.Random, rate: float, **params: float) -> Faults:
        """With probability ``rate`` one randomly chosen fault flag, else none."""
        f = cls(**params)  # type: ignore[arg-type]  # float knobs only; mypy sees the bool flags too
        if rate > 0 and rng.random() < rate:
            f.set(rng.choice(FAULT_FLAGS))
        return f


def garbage(rng: random.Random, max_len: int = 40) -> bytes:
    """Junk bytes with no start byte in them, so a decoder resynchronises on the next frame."""
    out = bytearray(rng.randbytes(rng.randint(3, max_len)))
    for i, b in enumerate(out):
        if b == START_BYTE:
            out[i] = 0x00
    return bytes(out)


def truncated(frame: bytes) -> bytes:
    """A cut-off copy of a frame: at most half of it and no second start byte.

    Sent just before the whole frame (of the same length), it makes a decoder wait for the
    claimed length, fail the CRC and resynchronise onto the real frame that follows."""
    cut = max(3, len(frame) // 2)
    nxt = frame.find(START_BYTE, 1)
    if 0 < nxt < cut:
        cut = max(3, nxt)
    return frame[:cut]


def flag_names() -> tuple[str, ...]:
    return FAULT_FLAGS


assert set(FAULT_FLAGS) <= {f.name for f in fields(Faults)}
