"""The OCPP side of the gateway: its listener, its connected charge points, and the few things
it needs from the core (``OcppCore``: login, journal, accounts, events, background tasks).

A charge point logs in to the core when its WebSocket is accepted, not at BootNotification:
OCPP-J 1.6 §5.4 lets a charger reconnect without booting again. The core's login replaces
an older connection with the same id (only after this one passed authentication, in the
handshake). BootNotification updates what is known of the charger (vendor, model, firmware).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import orjson

from gateway.adapters.ocpp16.charger import OcppCharger
from gateway.adapters.ocpp16.transport import OcppWsProtocol
from gateway.config import GatewayConfig
from gateway.dialect import JournalLine, LoginRefused, PileLink, PileLogin, PilePort
from gateway.storage import Storage
from gateway.storage.areas.ocpp import ChargerAuth
from protocol.ocpp16 import messages as m
from protocol.ocpp16 import schemas

DEFAULT_GUNS = 2  # connectors of an auto-registered charger until an operator says otherwise


class OcppCore(Protocol):
    """What the OCPP side needs from the gateway core."""

    async def login(self, link: PileLink, login: PileLogin) -> PilePort | LoginRefused: ...
    def journal(self, pile_id: str, line: JournalLine) -> None: ...
    async def find_account(self, channel: str, token: str, password: str) -> Any: ...
    def emit(self, kind: str, pile_id: str, payload: dict[str, Any], at_ms: int) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class OcppServer:
    def __init__(
        self,
        core: OcppCore,
        storage: Storage,
        config: GatewayConfig,
        log: Any,
        now_ms: Callable[[], int],
    ) -> None:
        self.core = core
        self.storage = storage
        self.config = config.ocpp
        self.auto_register = config.piles.auto_register
        self.call_timeout_s = config.piles.command_timeout_s
        self.journaling = config.database.journal
        self.journal_heartbeats = config.database.journal_heartbeats == "all"
        self.log = log
        self.now_ms = now_ms
        self.loop = asyncio.get_running_loop()
        self.chargers: dict[str, OcppCharger] = {}  # the live connection of each charger
        self._all: set[OcppCharger] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0
        # Compile the schemas of every action now, not on a charger's first message.
        schemas.compile_all(sorted(m.REQUESTS))

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None) -> int:
        self._server = await self.loop.create_server(
            lambda: OcppWsProtocol(self, tls is not None), host, port, backlog=4096, ssl=tls
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = self.loop.create_task(self._sweep())
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for charger in list(self._all):
            charger.close("gateway shutting down")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.core.spawn(coro)

    # --- connections --------------------------------------------------------------------------

    def connected(
        self, link: OcppWsProtocol, charger_id: str, profile: int, known: ChargerAuth
    ) -> OcppCharger:
        """The handshake let the charger in: its connection, logging in to the core."""
        charger = OcppCharger(self, link, charger_id, profile, known)
        self._all.add(charger)
        self.log.info("ocpp_connected", pile=charger_id, peer=link.peer, security_profile=profile)
        return charger

    async def login(self, charger: OcppCharger) -> PilePort | None:
        known = charger.known  # read with the handshake's check: no second read
        login = PileLogin(
            pile_id=charger.charger_id,
            gun_count=known.gun_count if known.registered else DEFAULT_GUNS,
            vendor=known.vendor,
            model=known.model,
            firmware=known.firmware,
            authenticated=charger.profile > 0,
            peer=charger.link.peer,
        )
        result = await self.core.login(charger, login)
        if isinstance(result, LoginRefused):
            self.log.warning("ocpp_login_refused", pile=charger.charger_id, reason=result.reason)
            return None
        if charger.closed:
            return None
        self.chargers[charger.charger_id] = charger
        result.connected(charger, login)
        return result

    def disconnected(self, charger: OcppCharger) -> None:
        self._all.discard(charger)
        if self.chargers.get(charger.charger_id) is charger:
            del self.chargers[charger.charger_id]
        if charger.port is not None:
            charger.port.disconnected(charger, "connection closed")
        self.log.info("ocpp_disconnected", pile=charger.charger_id)

    async def booted(self, charger: OcppCharger, boot: m.BootNotification) -> None:
        """What the charger says of itself, recorded when it changed (a reboot that changed
        nothing writes nothing), and published as a `boot` event."""
        known = charger.known
        said = (boot.charge_point_vendor, boot.charge_point_model, boot.firmware_version or "")
        if (known.vendor, known.model, known.firmware) != said:
            await self.storage.login_pile(
                charger.charger_id,
                vendor=boot.charge_point_vendor,
                model=boot.charge_point_model,
                firmware=boot.firmware_version or "",
                gun_count=known.gun_count if known.registered else DEFAULT_GUNS,
                at_ms=self.now_ms(),
                auto_register=True,  # it was let in: registered by now
            )
            charger.known = dataclasses.replace(
                known, vendor=said[0], model=said[1], firmware=said[2]
            )
        self.core.emit(
            "boot",
            charger.charger_id,
            {"vendor": boot.charge_point_vendor, "model": boot.charge_point_model,
             "firmware": boot.firmware_version, "serial": boot.charge_point_serial_number},
            self.now_ms(),
        )  # fmt: skip

    async def _sweep(self) -> None:
        """Ping a charger quiet for a heartbeat interval; drop one quiet for three."""
        interval = self.config.heartbeat_interval_s
        while True:
            await asyncio.sleep(min(5.0, interval / 2))
            now = self.loop.time()
            for charger in list(self._all):
                quiet = now - charger.link.last_rx
                if quiet > 3 * interval:
                    charger.close(f"nothing received for {3 * interval} s")
                elif quiet > interval:
                    with contextlib.suppress(Exception):
                        charger.link.ping()

    # --- what chargers report -------------------------------------------------------------------

    def touch(self, pile_id: str) -> None:
        self.storage.touch(pile_id, self.now_ms())

    async def find_account(self, id_tag: str) -> Any:
        return await self.core.find_account("card", id_tag, "")

    def firmware_report(self, charger: OcppCharger, kind: str, status: str) -> None:
        charger.log.info("ocpp_firmware_status", kind=kind, status=status)
        payload = {"kind": kind, "status": status}
        self.core.emit("firmware_status", charger.charger_id, payload, self.now_ms())

    def journal(
        self, pile_id: str, direction: str, kind: int, action: str, payload: dict[str, Any]
    ) -> None:
        if not self.journaling:
            return
        line = JournalLine(
            direction=direction,
            type_name=action[:32],
            raw=orjson.dumps(payload),
            fields=payload,
            msg_type=kind,
            gun=payload.get("connectorId"),
        )
        self.core.journal(pile_id, line)
