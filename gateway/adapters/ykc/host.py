"""What a YKC connection needs from the gateway, and nothing more (no back-reference to it).

`YkcHost` is the narrow port: a clock, the event loop, a logger, the limits of the
configuration it reads, the frame journal, and three things only the gateway can do — log a
pile in (registry, allow-list, its runtime), find the tariff a pile must hold, and learn that
a connection went away. `gateway/adapters/ykc/gateway_host.py` implements it over the
`Gateway`; the adapter's tests implement it in memory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from billing.tariff import Tariff
from gateway.dialect import PileLink, PilePort


@dataclass(frozen=True, slots=True)
class YkcLogin:
    """The facts of a YKC login (0x01) the gateway decides on and records."""

    pile_id: str  # 14 BCD digits
    pile_type: int  # 0 DC, 1 AC
    gun_count: int
    protocol_version: int  # 15, 16, 17
    program_version: str
    crc_order: str  # of the login frame
    peer: str  # "tcp:ADDRESS:PORT"

    @property
    def model(self) -> str:
        return "ykc-dc" if self.pile_type == 0 else "ykc-ac"

    @property
    def address(self) -> str:
        """The IP address of ``peer`` ("tcp:10.0.0.5:4000", "tcp:::1:4000")."""
        _, _, rest = self.peer.partition(":")
        return rest.rpartition(":")[0]


@dataclass(frozen=True, slots=True)
class LoginDenied:
    reason: str  # "unknown_pile", "source_not_allowed", "protocol_version", ...


@dataclass(frozen=True, slots=True)
class YkcLimits:
    login_timeout_s: float = 10.0
    heartbeat_journal: str = "changes"  # "all", "changes", "none" (database.journal_heartbeats)
    bad_frame_burst: int = 20
    bad_frame_window_s: float = 60.0
    write_buffer_limit: int = 1 << 20
    command_timeout_s: float = 10.0


class YkcHost(Protocol):
    loop: asyncio.AbstractEventLoop
    log: Any  # a structlog logger
    limits: YkcLimits

    def now_ms(self) -> int: ...

    def journal(
        self,
        pile_id: str,
        direction: str,
        seq: int,
        type_name: str,
        msg_type: int,
        raw: bytes,
        fields: dict[str, Any],
        gun: int | None = None,
        transaction_id: str | None = None,
    ) -> None: ...

    def touch(self, pile_id: str, now_ms: int) -> None: ...

    async def login(self, link: PileLink, login: YkcLogin) -> PilePort | LoginDenied: ...

    def logged_in(self, link: PileLink, port: PilePort) -> None:
        """The login reply went out: the pile's runtime now commands through ``link``."""
        ...

    async def tariff_for(self, pile_id: str, now_ms: int) -> Tariff | None: ...

    def new_trade_number(self, pile_id: str, gun: int, now_ms: int) -> str: ...

    def connection_lost(self, link: PileLink) -> None: ...
