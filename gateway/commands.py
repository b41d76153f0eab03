"""Results of operator commands (the Python API that the CLI and MQTT call)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    PILE_OFFLINE = "pile_offline"
    # A configuration change (enable/disable, tariff, idle fee) stored while the pile is not
    # connected: it is sent as part of the pile's next login, so the command succeeded.
    STORED = "stored"


@dataclass(frozen=True, slots=True)
class CommandResult:
    outcome: Outcome
    reason: str = ""
    transaction_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.STORED)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def accepted(transaction_id: str | None = None) -> CommandResult:
    return CommandResult(Outcome.ACCEPTED, "", transaction_id)


def rejected(reason: str, transaction_id: str | None = None) -> CommandResult:
    return CommandResult(Outcome.REJECTED, reason, transaction_id)


TIMED_OUT = CommandResult(Outcome.TIMED_OUT, "no reply from the pile in time")
OFFLINE = CommandResult(Outcome.PILE_OFFLINE, "the pile is not connected")
STORED = CommandResult(
    Outcome.STORED, "the pile is not connected: it gets the change at its next login"
)
