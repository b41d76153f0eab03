"""The neutral vocabulary between the gateway core and a pile dialect's adapter.

The core (one `PileRuntime` per pile, its session machines, billing, storage, MQTT) speaks only
this; an adapter (`gateway/adapters/<dialect>/`) translates its dialect's messages into it and
back. Adding a dialect adds an adapter and a `protocol/<dialect>/` package, and nothing here
changes unless the new dialect can do something no dialect could do before.

Inbound, an adapter reports what its pile said through the `PilePort` the core gives it at login:
gun reports, the session events of `sessions` (`StartConfirmed`, `StartFailed`,
`StopConfirmed`, `StatusReported`, `ServiceEnded`, ...), meter samples, authorisation requests
and bills (as `billing.records.PileBill`). Outbound, the core asks the pile to do things through
the adapter's `PileLink`, with the commands below; the answer is a `Reply` in the pile's own
words, or None when none came in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from billing.idle_fee import IdleFeeRule
from billing.records import PileBill
from billing.tariff import Tariff
from sessions import Event, GunStatus, Refusal, StopReason

# --- commands: core -> pile ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartService:
    gun: int
    transaction_id: str
    account: str
    channel: str  # "card", "app", "operator", ... (gateway.mapping channel names)
    balance_fen: int


@dataclass(frozen=True, slots=True)
class StopService:
    gun: int
    transaction_id: str
    reason: StopReason


@dataclass(frozen=True, slots=True)
class SetAvailability:
    gun: int  # 0: the whole pile
    enabled: bool


@dataclass(frozen=True, slots=True)
class QueryBills:
    gun: int  # 0: every gun


@dataclass(frozen=True, slots=True)
class SetTariff:
    tariff: Tariff


@dataclass(frozen=True, slots=True)
class SetIdleFee:
    rule: IdleFeeRule


@dataclass(frozen=True, slots=True)
class SyncTime:
    now_ms: int  # gateway wall clock, UTC epoch ms


@dataclass(frozen=True, slots=True)
class Reboot:
    hard: bool = False


Command = (
    StartService | StopService | SetAvailability | QueryBills | SetTariff | SetIdleFee | SyncTime
    | Reboot
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reply:
    """A pile's answer to a command: whether it accepted, and its own word for the result
    ("OK", "Accepted", "Rejected", "NotSupported", ...), passed to the operator unfiltered."""

    accepted: bool
    status: str
    gun: int | None = None  # the gun the answer names, where the dialect says


NOT_SUPPORTED = Reply(False, "not_supported_by_dialect")


class PileLink(Protocol):
    """What the core needs from a connected pile, whatever it speaks (one per connection)."""

    @property
    def dialect(self) -> str: ...  # "pilegate", "ocpp16", "ykc"

    @property
    def closed(self) -> bool: ...

    def supports(self, command: type[Command]) -> bool: ...

    async def command(self, command: Command, timeout_s: float) -> Reply | None:
        """Send one command and await its answer; None: no answer in time, or the connection
        closed. A command the dialect cannot express answers `NOT_SUPPORTED` at once."""
        ...

    def close(self, reason: str) -> None: ...


# --- facts: pile -> core ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GunReport:
    """One gun's periodic state (a v1 heartbeat's gun, an OCPP StatusNotification with the
    latest meter, a YKC real-time data frame)."""

    gun: int
    status: GunStatus
    fault_code: int | None = None
    meter_dwh: int | None = None
    power_w: int | None = None
    soc: int | None = None


@dataclass(frozen=True, slots=True)
class Authorisation:
    """The core's answer to an authorisation request: a session was opened (transaction id,
    account and its balance) or refused (why)."""

    transaction_id: str | None
    account: str | None
    balance_fen: int
    refusal: Refusal | None


class BillStatus(StrEnum):
    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # readable but never storable: answered so the pile stops re-sending


@dataclass(frozen=True, slots=True)
class BillVerdict:
    """A bill's outcome once committed (never before): the adapter answers its pile with it."""

    status: BillStatus
    reason_mask: int  # billing.ack bits, for dialects that can carry them
    bill_id: str | None


class PilePort(Protocol):
    """What an adapter may tell the core about its logged-in pile."""

    @property
    def pile_id(self) -> str: ...

    def reports(self, reports: Sequence[GunReport]) -> None:
        """Periodic gun reports; the first ones after a login reconcile the held sessions."""
        ...

    def feed(self, gun: int, event: Event) -> bool:
        """One session event for one gun; False when it could not be applied (logged)."""
        ...

    def meter(
        self, gun: int, transaction_id: str, at_ms: int, meter_dwh: int,
        power_w: int | None, soc: int | None,
    ) -> None: ...  # fmt: skip

    async def authorise(self, gun: int, channel: str, token: str, password: str) -> Authorisation:
        ...

    async def bill(self, bill: PileBill) -> BillVerdict | None:
        """Settle and commit; None when it could not be committed (the pile re-sends)."""
        ...
