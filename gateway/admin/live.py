"""Live events for the web console: an in-process fan-out of the gateway's northbound events.

`Gateway.emit` calls `broadcast(gateway, ...)` for every event (status changes, sessions,
alarms, bills, logins). Each browser connected to `/events` holds a `Subscriber` with a
bounded buffer: when a slow client falls behind, its oldest events are dropped and it is
told to resynchronise (re-read the state) instead of the gateway's memory growing.

Nothing is done when no admin server asked for a hub: `broadcast` is a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from typing import Any

DEFAULT_BUFFER = 256

_hubs: weakref.WeakKeyDictionary[Any, LiveHub] = weakref.WeakKeyDictionary()


class Subscriber:
    """One client's queue: at most `size` events; overflow drops the oldest."""

    def __init__(self, hub: LiveHub, size: int) -> None:
        self.hub = hub
        self.events: deque[dict[str, Any]] = deque(maxlen=size)
        self.dropped = 0
        self.closed = False
        self._ready = asyncio.Event()

    def offer(self, event: dict[str, Any]) -> None:
        if len(self.events) == self.events.maxlen:
            self.dropped += 1
        self.events.append(event)
        self._ready.set()

    async def next_batch(self, timeout: float) -> tuple[list[dict[str, Any]], int]:
        """(events, dropped since the last batch); empty after `timeout` s or on close."""
        if not self.events and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        batch = list(self.events)
        self.events.clear()
        dropped, self.dropped = self.dropped, 0
        return batch, dropped

    def close(self) -> None:
        """Stop receiving; a waiting `next_batch` returns at once."""
        self.closed = True
        self.hub.unsubscribe(self)
        self._ready.set()


class LiveHub:
    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self.buffer = buffer
        self.subscribers: set[Subscriber] = set()
        self.published = 0

    def subscribe(self) -> Subscriber:
        sub = Subscriber(self, self.buffer)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        self.published += 1
        for sub in self.subscribers:
            sub.offer(event)


def hub_for(gateway: Any) -> LiveHub:
    """The gateway's hub, created on first use (by the admin application)."""
    hub = _hubs.get(gateway)
    if hub is None:
        hub = _hubs[gateway] = LiveHub()
    return hub


def broadcast(gateway: Any, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None:
    """Called by `Gateway.emit`; cheap when nobody listens."""
    hub = _hubs.get(gateway)
    if hub is not None and hub.subscribers:
        hub.publish({"kind": kind, "pile_id": pile_id, "at_ms": at_ms, **payload})
