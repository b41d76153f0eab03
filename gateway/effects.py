"""What a pile's session actions do outside its runtime (`Effects` of gateway/ports.py): the
session rows a restart finds again, transitions, alarms and anomalies, northbound events,
and the log lines an operator reads."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from billing.anomalies import AnomalyCode
from gateway.background import Background
from gateway.events import Northbound
from gateway.metrics import Metrics
from gateway.storage import SessionRow, Storage
from sessions import (
    AlarmKind,
    GunState,
    RaiseAlarm,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StatusConfirmed,
)


class SessionEffects:
    def __init__(
        self,
        storage: Storage,
        northbound: Northbound,
        background: Background,
        metrics: Metrics,
        log: Any,
    ) -> None:
        self.storage = storage
        self.northbound = northbound
        self.background = background
        self.metrics = metrics
        self.log = log

    def touch(self, pile_id: str, now_ms: int) -> None:
        """The pile was heard from (its last-seen time; batched, no row per heartbeat)."""
        self.storage.touch(pile_id, now_ms)

    def session_changed(self, pile_id: str, gun: int, t: SessionTransition) -> None:
        from_phase = t.from_phase.value if t.from_phase else None
        self.log.info(
            "session_transition",
            pile=pile_id,
            gun=gun,
            session=t.session_id,
            from_phase=from_phase,
            to_phase=t.to_phase.value,
            reason=t.reason,
        )
        self.storage.record_session(
            SessionRow.from_session(t.record, pile_id=pile_id, gun=gun, at_ms=t.at_ms)
        )
        self.storage.record_transition(
            t.session_id, from_phase, t.to_phase.value, t.reason, t.at_ms
        )
        r = t.record
        self.northbound.emit(
            f"session_{t.to_phase.value}",
            pile_id,
            {
                "gun": gun,
                "session_id": t.session_id,
                "transaction_id": r.transaction_id,
                "account": r.account,
                "channel": r.channel,
                "from_phase": from_phase,
                "phase": t.to_phase.value,
                "reason": t.reason,
                "charge_start_ms": r.charge_start_ms,
                "charge_end_ms": r.charge_end_ms,
                "gateway_service_end_ms": r.gateway_service_end_ms,
                "pile_service_end_ms": r.pile_service_end_ms,
                "flags": sorted(f.value for f in r.flags),
            },
            t.at_ms,
        )

    def session_flagged(self, pile_id: str, gun: int, f: SessionFlagged) -> None:
        self.log.warning(
            "session_flagged",
            pile=pile_id,
            gun=gun,
            session=f.session_id,
            flags=sorted(x.value for x in f.flags),
        )
        self.storage.record_session(
            SessionRow.from_session(f.record, pile_id=pile_id, gun=gun, at_ms=f.at_ms)
        )

    def session_updated(self, pile_id: str, gun: int, u: SessionUpdated) -> None:
        """Timer and alarm state a restart must find again (no log line: not an event)."""
        self.storage.record_session(
            SessionRow.from_session(u.record, pile_id=pile_id, gun=gun, at_ms=u.at_ms)
        )

    def alarm(self, pile_id: str, online: bool, gun: int, alarm: RaiseAlarm, now_ms: int) -> None:
        self.metrics.alarms[alarm.kind.value] += 1
        self.log.warning(
            "alarm",
            pile=pile_id,
            gun=gun,
            kind=alarm.kind.value,
            detail=alarm.detail,
            session=alarm.session_id,
        )
        self.northbound.emit(
            "alarm",
            pile_id,
            {"gun": gun, "alarm": alarm.kind.value, "detail": alarm.detail,
             "session_id": alarm.session_id},
            now_ms,
        )  # fmt: skip
        if alarm.kind is AlarmKind.BILL_WAIT_TIMEOUT:
            # A closed service with no bill: code 1, or 2 when the pile is offline (field
            # cases); resolved, with its history, when the late bill arrives.
            code = AnomalyCode.BILL_LOST if online else AnomalyCode.BILL_LOST_OFFLINE
            self.storage.record_anomaly(
                code, alarm.detail, at_ms=now_ms, pile_id=pile_id, session_id=alarm.session_id
            )
        self.storage.record_anomaly(
            None,
            f"gun {gun}: {alarm.detail}",
            at_ms=now_ms,
            kind=f"alarm:{alarm.kind.value}",
            pile_id=pile_id,
            session_id=alarm.session_id,
        )

    def gun_status_changed(self, pile_id: str, gun: int, change: StatusConfirmed) -> None:
        self.northbound.emit(
            "gun_status",
            pile_id,
            {
                "gun": gun,
                "status": change.status.value,
                "previous": change.previous.value,
                "session_id": change.session_id,
            },
            change.at_ms,
        )

    def pile_offline(
        self, pile_id: str, guns: Mapping[int, GunState], reason: str, now_ms: int
    ) -> None:
        """Its link closed (and no newer one replaced it): its sessions are held, offline."""
        self._keep_meters(pile_id, guns, now_ms)
        offline = functools.partial(self.storage.pile_offline, pile_id, now_ms)
        self.background.spawn(
            self.background.until_written("pile_offline", offline, pile_id=pile_id)
        )
        self.log.info("pile_offline", pile=pile_id, reason=reason)
        self.northbound.emit("offline", pile_id, {"reason": reason}, now_ms)

    def _keep_meters(self, pile_id: str, guns: Mapping[int, GunState], now_ms: int) -> None:
        """Meter readings are not written with every report (the heartbeat path writes no
        row); when a pile goes away its live sessions' rows get the latest, so a restart
        meanwhile still knows the energy the gateway saw flow."""
        for gun, state in guns.items():
            s = state.live_session
            if s is not None and s.last_meter is not None:
                row = SessionRow.from_session(s, pile_id=pile_id, gun=gun, at_ms=now_ms)
                self.storage.record_session(row)
