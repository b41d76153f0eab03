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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from billing.idle_fee import IdleFeeRule
from billing.records import PileBill
from billing.tariff import Tariff
from sessions import Event, GunStatus, Refusal, SessionConfig, StopReason

#: Where a start came from, by name (a dialect maps them onto its own codes).
CHANNELS = ("own_app", "partner_app", "card", "password", "vin", "operator")


def check_channel(name: str) -> str:
    """The channel name itself, or ValueError naming the known ones."""
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; one of {list(CHANNELS)}")
    return name


# --- commands: core -> pile ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartService:
    gun: int
    transaction_id: str
    account: str
    channel: str  # one of CHANNELS
    balance_fen: int


@dataclass(frozen=True, slots=True)
class StopService:
    gun: int
    transaction_id: str | None  # None: stop whatever the gun charges (no session to name)
    reason: StopReason | str  # a StopReason, or the machine's own (sessions.STOP_COMMAND_REASONS)


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


def command_name(command: Command) -> str:
    """The operator's name of a command (logs, metrics, command results)."""
    if isinstance(command, SetAvailability):
        return "enable" if command.enabled else "disable"
    return _COMMAND_NAMES[type(command)]


_COMMAND_NAMES: dict[type, str] = {
    StartService: "start", StopService: "stop", QueryBills: "query_bills",
    SetTariff: "set_tariff", SetIdleFee: "set_idle_fee", SyncTime: "time_sync",
    Reboot: "reboot",
}  # fmt: skip


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
class PileLogin:
    """What a pile said about itself when it logged in, once its adapter has checked the
    dialect's own credentials (a v1 LOGIN MAC, OCPP Basic Auth, ...)."""

    pile_id: str
    gun_count: int
    vendor: str = ""
    model: str = ""  # selects the validation limits (config [limits])
    firmware: str = ""
    pile_time_ms: int | None = None  # the pile's clock at login, when the dialect sends it
    authenticated: bool = False  # the pile proved it holds its secret
    peer: str = ""  # where it connects from, for the logs
    # The dialect's own session rules (YKC: a 90 s start timeout, ...); None: the gateway's.
    session_config: SessionConfig | None = None
    # How the dialect numbers transactions, (gun, now_ms) -> id (YKC: trade numbers in BCD);
    # None: the gateway's UUIDv7.
    transaction_ids: Callable[[int, int], str] | None = field(default=None, compare=False)


class LoginRefusal(StrEnum):
    UNKNOWN_PILE = "unknown_pile"
    AUTH_FAILED = "auth_failed"
    CLOCK_SKEW = "clock_skew"


@dataclass(frozen=True, slots=True)
class LoginRefused:
    """A login the gateway (or the adapter's credential check) will not let in; nothing of it
    was stored and the pile's live connection, if any, is untouched."""

    refusal: LoginRefusal
    reason: str  # for the logs


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One message in or out, as the journal keeps it (`fields`: the decoded message, JSON-able)."""

    direction: str  # "in" | "out"
    type_name: str  # the dialect's name of the message ("HEARTBEAT", "BootNotification", ...)
    raw: bytes
    fields: Mapping[str, Any] = field(default_factory=dict)
    seq: int = -1  # the dialect's sequence number or message id, where it is a number
    msg_type: int = -1  # the dialect's numeric type, where it has one
    gun: int | None = None
    transaction_id: str | None = None


@dataclass(slots=True)
class GunReport:
    """One gun's periodic state (a v1 heartbeat's gun, an OCPP StatusNotification with the
    latest meter, a YKC real-time data frame). A value, never changed once made; not frozen
    only because it is built per gun per heartbeat and a frozen dataclass costs six times
    as much to construct."""

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

    def connected(self, link: PileLink, login: PileLogin) -> None:
        """The login was answered: the pile is reachable through `link` from now on (it replaces
        any older link); the core brings the pile's configuration up to date."""
        ...

    def disconnected(self, link: PileLink, reason: str) -> None:
        """`link` closed; nothing happens when a newer link has replaced it."""
        ...

    def has_gun(self, gun: int) -> bool: ...

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

    def service_ended(self, gun: int, pile_end_ms: int) -> None:
        """The pile says the service on `gun` (0: every gun) ended at its time `pile_end_ms`;
        a gun with no session is left alone."""
        ...

    async def authorise(
        self, gun: int, channel: str, token: str, password: str
    ) -> Authorisation: ...

    async def bill(self, bill: PileBill) -> BillVerdict | None:
        """Settle and commit; None when it could not be committed (the pile re-sends)."""
        ...
