"""The narrow ports a pile's runtime is given instead of the whole `Gateway`.

Each is a small Protocol naming only what the runtime calls; `gateway/app.py` composes the
objects that keep them (`Background`, `SessionEffects`, `AccountClaims`, `BillDesk`, and the
gateway itself for the pile lifecycle), and a test can hand the runtime fakes. Nothing here
imports another gateway module that could import it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from billing.records import PileBill
from gateway.dialect import BillVerdict, PileLogin
from sessions import (
    AccountClaimed,
    Action,
    Event,
    GunState,
    RaiseAlarm,
    Session,
    SessionConfig,
    SessionFlagged,
    SessionTransition,
    SessionUpdated,
    StatusConfirmed,
)

#: The gateway's wall clock, UTC epoch milliseconds (an injected one in tests).
Clock = Callable[[], int]

#: The session machine: (state, event, now_ms) -> (new state, actions).
Step = Callable[[GunState, Event, int], tuple[GunState, tuple[Action, ...]]]


class Scheduler(Protocol):
    """Timers and background tasks (the event loop, with the gateway's task bookkeeping)."""

    def call_later(
        self, delay_s: float, callback: Callable[..., object], *args: Any
    ) -> asyncio.TimerHandle: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class Effects(Protocol):
    """What session actions do outside the runtime: rows, logs, northbound events."""

    def session_changed(self, pile_id: str, gun: int, t: SessionTransition) -> None: ...
    def session_flagged(self, pile_id: str, gun: int, f: SessionFlagged) -> None: ...
    def session_updated(self, pile_id: str, gun: int, u: SessionUpdated) -> None: ...
    def alarm(
        self, pile_id: str, online: bool, gun: int, alarm: RaiseAlarm, now_ms: int
    ) -> None: ...
    def gun_status_changed(self, pile_id: str, gun: int, change: StatusConfirmed) -> None: ...
    def touch(self, pile_id: str, now_ms: int) -> None: ...
    def pile_offline(
        self, pile_id: str, guns: Mapping[int, GunState], reason: str, now_ms: int
    ) -> None: ...


class Accounts(Protocol):
    """One account, one active service: claims held in the database, in order per account."""

    def claim(
        self,
        account: str,
        session_id: str,
        pile_id: str,
        gun: int,
        now_ms: int,
        *,
        channel: str | None = None,
    ) -> Awaitable[str | None]: ...
    def claim_later(self, pile_id: str, gun: int, claim: AccountClaimed, now_ms: int) -> None: ...
    def release(self, account: str, session_id: str, *, opened: bool = True) -> None: ...
    async def find(self, channel: str, token: str, password: str) -> Any: ...
    async def by_id(self, account_id: str) -> Any: ...


class BilledPile(Protocol):
    """What settling a bill needs of the pile that sent it."""

    @property
    def pile_id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def samples(self) -> Mapping[str, list[tuple[int, int]]]: ...
    def session_for(self, gun: int, transaction_id: str) -> Session | None: ...
    def bill_committed(self, bill: PileBill) -> None: ...


class BillDesk(Protocol):
    async def store(self, pile: BilledPile, bill: PileBill) -> BillVerdict | None: ...


class PileLifecycle(Protocol):
    """The gateway's part once a pile's login is answered: its configuration (state, tariff,
    idle fee, clock) brought up to date."""

    def logged_in(self, pile_id: str, login: PileLogin) -> None: ...


@dataclass(slots=True)
class RuntimePorts:
    """Everything a `PileRuntime` uses, shared by all of a gateway's piles."""

    clock: Clock
    scheduler: Scheduler
    step: Step
    effects: Effects
    accounts: Accounts
    bills: BillDesk
    lifecycle: PileLifecycle
    new_transaction_id: Callable[[int], str]  # now_ms -> a new id
    session_config: SessionConfig
    command_timeout_s: float
    time_scale: float = 1.0  # timers run this much faster (the demo's fast clock)
