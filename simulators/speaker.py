"""What every dialect's connection of a simulated pile shares: the life of one link.

A simulated pile is its behaviour (``simulators.pile.Pile``: cars, charge curve, faults, the
bill) plus a *speaker* that puts that behaviour into one dialect's words on the wire. The pile
model speaks in protocol v1's message types (its outbox holds ``StatusChange``, ``AuthRequest``,
``StartResult``, ``MeterValues``, ``StopResult``, ``Bill``, ...; commands reach it as
``StartCharge``, ``StopCharge``, ``Enable``, ...), so protocol v1's speaker
(``simulators.client.PileClient``) passes them through and the OCPP and YKC speakers
(``ocpp_client``, ``ykc_client``) translate them both ways.

Whatever the dialect, ``on_frame`` sees the conversation in the pile model's words: ("out", 0,
what the pile model said) before it is translated, and ("in", 0, what the gateway told it) after
(a remote stop as ``StopCharge``, a bill confirmation as ``BillAck``...), so the field-case
scenarios check every dialect the same way. Each speaker also has a raw hook for its own frames.

``Speaker`` is the loop around one speaker: connect, log in, serve until the link dies, back
off with jitter, again, until ``stop()``; and a pile that asked to go offline
(``offline_with_bills``, a reboot) stays away for the time it asked. Subclasses give
``_open``, ``_login``, ``_serve`` and ``_close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import ClassVar

from protocol.pilegate.messages import Message
from simulators.clock import SimClock
from simulators.credentials import Credentials
from simulators.pile import Pile
from simulators.stats import FleetStats


class Speaker:
    """Runs one ``Pile`` against a gateway in one dialect until ``stop()``."""

    #: Whether the transaction ids in ``on_frame`` are the gateway's own (v1's transaction id,
    #: YKC's trade number); an OCPP charger knows only the OCPP transaction id.
    knows_gateway_ids: ClassVar[bool] = True

    def __init__(
        self,
        pile: Pile,
        gateway: str,
        *,
        clock: SimClock,
        stats: FleetStats | None = None,
        seed: int | str = 0,
        ack_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        bill_retry_s: float = 60.0,
        connect_gate: asyncio.Semaphore | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.pile = pile
        self.gateway = gateway
        self.clock = clock
        self.stats = stats or FleetStats()
        self.credentials = credentials or Credentials()
        self.rng = random.Random(f"client:{seed}:{pile.pile_id}")
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.bill_retry_s = bill_retry_s
        self.connect_gate = connect_gate
        self.heartbeat_interval_s = 30.0
        self.offset_ms = 0  # the gateway's time sync, at time scale 1
        self.logged_in = False
        self.logins = 0
        self.wire_faults = 0
        self._attempt = 0
        self._stopping = False
        self._wake = asyncio.Event()
        #: The pile's id as the gateway knows it (a charge point id, a YKC pile number).
        self.wire_id = pile.pile_id
        #: ("in" | "out", seq, message in the pile model's words): see the module docstring.
        self.on_frame: Callable[[str, int, Message], None] | None = None

    # --- public -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms() + self.offset_ms

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def poke(self) -> None:
        """Wake the connection task now (after driving the pile model from outside)."""
        self._wake.set()

    @property
    def bills_held(self) -> int:
        """Bills the pile keeps until the gateway acknowledges them (a dialect whose bill is
        another message, as OCPP's StopTransaction, counts that)."""
        return len(self.pile.store)

    def heartbeat_now(self) -> bool:
        """Send a heartbeat at once (and what the pile has queued); False when offline."""
        if not self.logged_in:
            return False
        now_ms = self.now_ms()
        self.pile.tick(now_ms)
        self._flush()
        self._heartbeat(now_ms)
        self._flush()
        return True

    def disconnect(self) -> None:
        """Drop the link now (the pile reconnects after back-off)."""
        self._close()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                gate = self.connect_gate or contextlib.nullcontext()
                async with gate:
                    await self._open()
            except Exception:  # refused, timed out, handshake failed: back off and retry
                self.stats.connect_errors += 1
                await self._sleep(self._backoff())
                continue
            try:
                if await self._login():
                    self._attempt = 0
                    self.logged_in = True
                    self.logins += 1
                    self.stats.logins += 1
                    self.stats.piles_online += 1
                    await self._serve()
            finally:
                self._close()
                self._offline()
            if self._stopping:
                break
            self.stats.reconnects += 1
            offline = self.pile.offline_request_s
            if offline is not None:
                self.pile.offline_request_s = None
                await self._sleep(offline)
            else:
                await self._sleep(self._backoff())

    # --- for subclasses -------------------------------------------------------------------

    async def _open(self) -> None:
        raise NotImplementedError

    async def _login(self) -> bool:
        raise NotImplementedError

    async def _serve(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        """Translate and send what the pile model has queued."""
        raise NotImplementedError

    def _heartbeat(self, now_ms: int) -> bool:
        raise NotImplementedError

    def _record(self, direction: str, message: Message) -> None:
        if self.on_frame is not None:
            self.on_frame(direction, 0, message)

    def _offline(self) -> None:
        if self.logged_in:
            self.logged_in = False
            self.stats.piles_online -= 1

    def _rejected(self, why: str) -> None:
        self.stats.login_rejected += 1
        self.stats.login_rejected_why[why] = self.stats.login_rejected_why.get(why, 0) + 1

    def _backoff(self) -> float:
        """Full-jitter exponential back-off: uniform(0.5, 1) x base x 2^attempt, capped."""
        delay = min(self.backoff_max_s, self.backoff_base_s * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 16)
        return delay * self.rng.uniform(0.5, 1.0)

    def _wake_at(self, loop_time: float) -> float:
        """The loop time to sleep until: ``loop_time`` or the pile model's next due event."""
        loop = asyncio.get_running_loop()
        due = self.pile.next_due_ms()
        if due is not None:
            due_s = (due - self.now_ms()) / 1000 / self.clock.scale
            loop_time = min(loop_time, loop.time() + due_s)
        return max(loop_time, loop.time() + 0.001)

    async def _wait_until(self, when: float) -> None:
        handle = asyncio.get_running_loop().call_at(when, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            handle.cancel()
            self._wake.clear()

    async def _sleep(self, seconds: float) -> None:
        if not self._stopping:
            await self._wait_until(asyncio.get_running_loop().time() + seconds)
