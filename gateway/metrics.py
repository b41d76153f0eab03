"""Counters the gateway keeps in memory (exported by the admin API's /metrics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from protocol import MsgType


def _name(msg_type: int) -> str:
    try:
        return MsgType(msg_type).name.lower()
    except ValueError:
        return f"type_{msg_type}"


@dataclass(slots=True)
class Metrics:
    connections: int = 0
    logins: int = 0
    frames_in: Counter[int] = field(default_factory=Counter)
    frames_out: Counter[int] = field(default_factory=Counter)
    decode_errors: dict[str, int] = field(default_factory=dict)
    commands: Counter[str] = field(default_factory=Counter)
    bills: Counter[str] = field(default_factory=Counter)  # stored, duplicate, flagged, failed
    alarms: Counter[str] = field(default_factory=Counter)
    journal_dropped: int = 0

    def frame_in(self, msg_type: int) -> None:
        self.frames_in[msg_type] += 1

    def frame_out(self, msg_type: int) -> None:
        self.frames_out[msg_type] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "logins": self.logins,
            "frames_in": {_name(k): v for k, v in self.frames_in.items()},
            "frames_out": {_name(k): v for k, v in self.frames_out.items()},
            "decode_errors": dict(self.decode_errors),
            "commands": dict(self.commands),
            "bills": dict(self.bills),
            "alarms": dict(self.alarms),
            "journal_dropped": self.journal_dropped,
        }
