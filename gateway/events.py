"""Northbound events: MQTT through the outbox (committed with what they describe) and the web
console's live feed (in-process, nothing stored). Topics and bodies: docs/mqtt.md."""

from __future__ import annotations

from typing import Any

from gateway.admin import live
from gateway.storage import Storage


class Northbound:
    def __init__(self, storage: Storage, enabled: bool, live_owner: object) -> None:
        self.storage = storage
        # Only when a broker is configured: with none, nobody would ever drain the outbox.
        self.enabled = enabled
        self.live_owner = live_owner  # whose console hub gets the live feed (the gateway)

    def emit(self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None:
        """A northbound event on pilegate/v1/events/{pile_id}/{kind}."""
        self.notify_live(kind, pile_id, payload, at_ms)
        message = self.event(kind, pile_id, payload, at_ms)
        if message is not None:
            self.storage.publish(*message, at_ms=at_ms)

    def notify_live(self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None:
        live.broadcast(self.live_owner, kind, pile_id, payload, at_ms)

    def event(
        self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int
    ) -> tuple[str, dict[str, Any]] | None:
        """(topic, body) of a northbound event, or None when events are off: for events
        that must commit in the transaction of what they describe (a bill)."""
        if not self.enabled:
            return None
        body = {"kind": kind, "pile_id": pile_id, "at_ms": at_ms, **payload}
        return f"pilegate/v1/events/{pile_id}/{kind}", body
