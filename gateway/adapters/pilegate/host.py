"""What protocol v1's adapter needs of the gateway core (`PilegateCore`, a narrow port: no
import of `gateway.app`), and the adapter as the gateway composes it: that core and v1's own
LOGIN MAC policy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.adapters.pilegate.pile_auth import PileAuthenticator
from gateway.config import GatewayConfig
from gateway.dialect import Connection, JournalLine, LoginRefused, PileLink, PileLogin, PilePort
from gateway.metrics import Metrics


class PilegateCore(Protocol):
    config: GatewayConfig
    loop: asyncio.AbstractEventLoop
    log: Any  # a structlog logger
    metrics: Metrics
    login_slots: asyncio.Semaphore  # logins handled at once (database work each)

    def now_ms(self) -> int: ...
    def journal(self, pile_id: str, line: JournalLine) -> None: ...
    async def login(self, link: PileLink, login: PileLogin) -> PilePort | LoginRefused: ...
    def connection_made(self, conn: Connection) -> None: ...
    def connection_lost(self, conn: Connection) -> None: ...


@dataclass(slots=True)
class PilegateAdapter:
    core: PilegateCore
    auth: PileAuthenticator
