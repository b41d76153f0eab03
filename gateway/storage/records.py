"""Plain records returned and accepted by `Storage` (no SQLAlchemy types leak out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sessions.states import Session
from sessions.vocab import Phase, Reason

TERMINAL_STATES = (Phase.SETTLED.value, Phase.CANCELLED.value, Phase.FAILED.value)
CLOSED_STATE = Phase.CLOSED.value
ENDED_EARLY_STATES = (Phase.CANCELLED.value, Phase.FAILED.value)


@dataclass(frozen=True, slots=True)
class PileRecord:
    pile_id: str
    station_id: str | None
    vendor: str
    model: str
    firmware: str
    gun_count: int
    enabled: bool
    registered_at_ms: int
    last_login_ms: int | None
    last_seen_ms: int | None
    online: bool
    registered_now: bool = False  # this login auto-registered the pile
    firmware_changed: bool = False  # this login reported a new firmware version
    # Last heard of before this login (restart recovery: offline since then).
    seen_before_login_ms: int | None = None

    @classmethod
    def from_row(cls, r: Mapping[Any, Any], **extra: Any) -> PileRecord:
        return cls(
            r["id"], r["station_id"], r["vendor"], r["model"], r["firmware"], r["gun_count"],
            bool(r["enabled"]), r["registered_at_ms"], r["last_login_ms"], r["last_seen_ms"],
            bool(r["online"]), **extra,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FirmwareSeen:
    pile_id: str
    firmware: str
    first_seen_ms: int


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    balance_fen: int
    enabled: bool
    card_token: str | None = None
    vin: str | None = None
    has_password: bool = False


@dataclass(frozen=True, slots=True)
class ActiveService:
    account_id: str
    session_id: str
    pile_id: str
    gun: int
    since_ms: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One row of `sessions`: what the gateway persists of a session (upserted whole)."""

    session_id: str
    transaction_id: str
    pile_id: str
    gun: int
    account: str
    channel: str
    state: str
    updated_ms: int
    authorised_ms: int | None = None
    charge_start_ms: int | None = None
    charge_end_ms: int | None = None
    pile_service_end_ms: int | None = None  # the pile's (its logout time)
    gateway_service_end_ms: int | None = None  # the gateway's own end (billing caps idle here)
    meter_start_dwh: int | None = None
    meter_stop_dwh: int | None = None
    observed_energy_dwh: int | None = None
    stop_reason: str | None = None
    cancel_reason: str | None = None
    flags: tuple[str, ...] = ()
    # What timers and alarms depend on, so a restart resumes them instead of starting over.
    phase_since_ms: int | None = None
    end_reason: str | None = None
    start_command: str | None = None
    stop_sent_ms: int | None = None
    stop_acked: bool = False
    stop_retries: int = 0
    charging_reports_since_stop: int = 0
    bill_received_ms: int | None = None
    bill_wait_alarmed: bool = False
    late_charge_start_ms: int | None = None
    late_charge_end_ms: int | None = None
    late_charge_seen_ms: int | None = None
    late_charge_reports: int = 0
    late_charge_stop_retries: int = 0

    # Columns copied as they are between a row and this record (the rest are converted).
    _PLAIN = (
        "transaction_id", "pile_id", "gun", "account", "channel", "state", "updated_ms",
        "authorised_ms", "charge_start_ms", "charge_end_ms", "pile_service_end_ms",
        "gateway_service_end_ms", "meter_start_dwh", "meter_stop_dwh", "observed_energy_dwh",
        "stop_reason", "cancel_reason", "phase_since_ms", "end_reason", "start_command",
        "stop_sent_ms", "stop_retries", "charging_reports_since_stop", "bill_received_ms",
        "late_charge_start_ms", "late_charge_end_ms", "late_charge_seen_ms",
        "late_charge_reports", "late_charge_stop_retries",
    )  # fmt: skip

    @classmethod
    def from_session(cls, s: Session, *, pile_id: str, gun: int, at_ms: int) -> SessionRow:
        """The row of a `sessions.states.Session` (the session machine's record)."""
        last = s.meter_stop if s.meter_stop is not None else s.last_meter
        observed = None if s.meter_start is None or last is None else last - s.meter_start
        ended_early = s.phase in (Phase.CANCELLED, Phase.FAILED)
        return cls(
            session_id=s.session_id,
            transaction_id=s.transaction_id,
            pile_id=pile_id,
            gun=gun,
            account=s.account,
            channel=str(s.channel),
            state=str(s.phase),
            updated_ms=at_ms,
            authorised_ms=s.authorised_ms,
            charge_start_ms=s.charge_start_ms,
            charge_end_ms=s.charge_end_ms,
            pile_service_end_ms=s.pile_service_end_ms,
            gateway_service_end_ms=s.gateway_service_end_ms,
            meter_start_dwh=s.meter_start,
            meter_stop_dwh=s.meter_stop,
            observed_energy_dwh=observed,
            stop_reason=s.stop_reason,
            cancel_reason=(s.end_reason or s.reason) if ended_early else None,
            flags=tuple(sorted(str(f) for f in s.flags)),
            phase_since_ms=s.phase_since_ms,
            end_reason=s.end_reason,
            start_command=str(s.start_command),
            stop_sent_ms=s.stop_sent_ms,
            stop_acked=s.stop_acked,
            stop_retries=s.stop_retries,
            charging_reports_since_stop=s.charging_reports_since_stop,
            bill_received_ms=s.bill_received_ms,
            bill_wait_alarmed=s.bill_wait_alarmed,
            late_charge_start_ms=s.late_charge_start_ms,
            late_charge_end_ms=s.late_charge_end_ms,
            late_charge_seen_ms=s.late_charge_seen_ms,
            late_charge_reports=s.late_charge_reports,
            late_charge_stop_retries=s.late_charge_stop_retries,
        )

    @classmethod
    def authorised(
        cls,
        session_id: str,
        *,
        transaction_id: str,
        pile_id: str,
        gun: int,
        account: str,
        channel: str,
        at_ms: int,
    ) -> SessionRow:
        """The row of a session just authorised, as the session machine opens it (the row
        an account claim writes with the claim, before the machine has run)."""
        opened = Session(
            session_id=session_id,
            transaction_id=transaction_id,
            account=account,
            channel=channel,
            phase=Phase.AUTHORISED,
            authorised_ms=at_ms,
            phase_since_ms=at_ms,
            reason=Reason.AUTHORISED,
        )
        return cls.from_session(opened, pile_id=pile_id, gun=gun, at_ms=at_ms)

    def to_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in self._PLAIN}
        row["id"] = self.session_id
        row["flags"] = orjson.dumps(list(self.flags)).decode()
        row["stop_acked"] = self.stop_acked
        row["bill_wait_alarmed"] = self.bill_wait_alarmed
        return row

    @classmethod
    def from_row(cls, r: Mapping[Any, Any]) -> SessionRow:
        return cls(
            session_id=r["id"],
            flags=tuple(orjson.loads(r["flags"])),
            stop_acked=bool(r["stop_acked"]),
            bill_wait_alarmed=bool(r["bill_wait_alarmed"]),
            **{name: r[name] for name in cls._PLAIN},
        )


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    session_id: str
    from_state: str | None
    to_state: str
    reason: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One frame in or out. `fields` is the decoded message (JSON-able mapping)."""

    at_ms: int
    pile_id: str
    direction: str  # "in" | "out"
    seq: int
    msg_type: int
    type_name: str
    hex: str
    fields: Mapping[str, Any]
    gun: int | None = None
    session_id: str | None = None
    transaction_id: str | None = None
    id: int | None = None  # set when read back

    def to_row(self) -> dict[str, Any]:
        if self.direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {self.direction!r}")
        return {
            "at_ms": self.at_ms,
            "pile_id": self.pile_id,
            "direction": self.direction,
            "seq": self.seq,
            "msg_type": self.msg_type,
            "type_name": self.type_name,
            "gun": self.gun,
            "hex": self.hex,
            "fields": orjson.dumps(self.fields, default=_json_default).decode(),
            "session_id": self.session_id,
            "transaction_id": self.transaction_id,
        }

    @classmethod
    def from_row(cls, r: Mapping[Any, Any]) -> JournalEntry:
        return cls(
            r["at_ms"], r["pile_id"], r["direction"], r["seq"], r["msg_type"], r["type_name"],
            r["hex"], orjson.loads(r["fields"]), r["gun"], r["session_id"], r["transaction_id"],
            r["id"],
        )  # fmt: skip


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    anomaly_id: str
    kind: str
    code: int | None
    reason: str
    status: str  # open | resolved
    created_ms: int
    bill_id: str | None = None
    session_id: str | None = None
    pile_id: str | None = None
    resolved_ms: int | None = None
    resolved_by: str | None = None
    resolution: str | None = None

    @classmethod
    def from_row(cls, r: Mapping[Any, Any]) -> AnomalyRecord:
        return cls(
            r["id"], r["kind"], r["code"], r["reason"], r["status"], r["created_ms"],
            r["bill_id"], r["session_id"], r["pile_id"], r["resolved_ms"], r["resolved_by"],
            r["resolution"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    anomaly_id: str
    action: str  # opened | resolved | reopened
    at_ms: int
    who: str | None
    note: str | None
