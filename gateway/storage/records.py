"""Plain records returned and accepted by `Storage` (no SQLAlchemy types leak out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sessions.states import Session
from sessions.vocab import Phase

TERMINAL_STATES = (Phase.SETTLED.value, Phase.CANCELLED.value, Phase.FAILED.value)
CLOSED_STATE = Phase.CLOSED.value


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

    @classmethod
    def from_row(cls, r: Mapping[str, Any], **extra: bool) -> PileRecord:
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
    service_end_ms: int | None = None  # the pile's (logout)
    gateway_service_end_ms: int | None = None  # the gateway's own end
    meter_start_dwh: int | None = None
    meter_stop_dwh: int | None = None
    observed_energy_dwh: int | None = None
    stop_reason: str | None = None
    cancel_reason: str | None = None
    flags: tuple[str, ...] = ()

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
            service_end_ms=s.pile_service_end_ms,
            gateway_service_end_ms=s.service_end_ms,
            meter_start_dwh=s.meter_start,
            meter_stop_dwh=s.meter_stop,
            observed_energy_dwh=observed,
            stop_reason=s.stop_reason,
            cancel_reason=(s.end_reason or s.reason) if ended_early else None,
            flags=tuple(sorted(str(f) for f in s.flags)),
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "transaction_id": self.transaction_id,
            "pile_id": self.pile_id,
            "gun": self.gun,
            "account": self.account,
            "channel": self.channel,
            "state": self.state,
            "authorised_ms": self.authorised_ms,
            "charge_start_ms": self.charge_start_ms,
            "charge_end_ms": self.charge_end_ms,
            "service_end_ms": self.service_end_ms,
            "gateway_service_end_ms": self.gateway_service_end_ms,
            "meter_start_dwh": self.meter_start_dwh,
            "meter_stop_dwh": self.meter_stop_dwh,
            "observed_energy_dwh": self.observed_energy_dwh,
            "stop_reason": self.stop_reason,
            "cancel_reason": self.cancel_reason,
            "flags": orjson.dumps(list(self.flags)).decode(),
            "updated_ms": self.updated_ms,
        }

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> SessionRow:
        return cls(
            session_id=r["id"],
            transaction_id=r["transaction_id"],
            pile_id=r["pile_id"],
            gun=r["gun"],
            account=r["account"],
            channel=r["channel"],
            state=r["state"],
            updated_ms=r["updated_ms"],
            authorised_ms=r["authorised_ms"],
            charge_start_ms=r["charge_start_ms"],
            charge_end_ms=r["charge_end_ms"],
            service_end_ms=r["service_end_ms"],
            gateway_service_end_ms=r["gateway_service_end_ms"],
            meter_start_dwh=r["meter_start_dwh"],
            meter_stop_dwh=r["meter_stop_dwh"],
            observed_energy_dwh=r["observed_energy_dwh"],
            stop_reason=r["stop_reason"],
            cancel_reason=r["cancel_reason"],
            flags=tuple(orjson.loads(r["flags"])),
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
    def from_row(cls, r: Mapping[str, Any]) -> JournalEntry:
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
    def from_row(cls, r: Mapping[str, Any]) -> AnomalyRecord:
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
