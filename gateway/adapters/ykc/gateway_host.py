"""`YkcHost` over the running `Gateway`: what a YKC connection may ask of the gateway.

Login: YKC has no authentication of its own, so a pile is let in only when the operator
registered its number (or `piles.auto_register` is on, as for protocol v1) and, where the
operator gave one, only from an address of its allow-list (`ykc_piles.allowed_sources`).
The login's facts (protocol version, the CRC byte order it used, its address) are recorded.
A YKC pile's guns run YKC's session rules (`rules.py`) and its sessions are numbered with
YKC trade numbers (`trade.py`).
"""

from __future__ import annotations

import ipaddress
import weakref
from typing import TYPE_CHECKING, Any

from billing.tariff import Tariff
from gateway.adapters.ykc.connection import YkcPileConnection
from gateway.adapters.ykc.host import LoginDenied, YkcLimits, YkcLogin
from gateway.adapters.ykc.rules import YkcRules
from gateway.adapters.ykc.trade import TradeNumbers
from gateway.dialect import JournalLine, LoginRefused, PileLink, PileLogin, PilePort

if TYPE_CHECKING:
    from gateway.adapters.sniffing import SwappableLink
    from gateway.app import Gateway


def rules_of(gateway: Gateway) -> YkcRules:
    y = gateway.config.ykc
    return YkcRules(
        y.start_confirm_s, y.bill_due_s, y.idle_frames_end_charge, y.stop_not_honoured_reports,
        y.stop_check_s,
    )  # fmt: skip


def source_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    """True when ``address`` is one of ``allowed`` (addresses or CIDR networks); an empty
    list allows every address. An entry that is no address or network matches nothing."""
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class GatewayYkcHost:
    """One per gateway: shared by all its YKC connections."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = gateway.loop
        self.log = gateway.log
        c = gateway.config
        self.limits = YkcLimits(
            login_timeout_s=c.piles.login_timeout_s,
            heartbeat_journal=c.database.journal_heartbeats,
            bad_frame_burst=c.server.bad_frame_burst,
            bad_frame_window_s=c.server.bad_frame_window_s,
            write_buffer_limit=c.server.write_buffer_limit,
            command_timeout_s=c.piles.command_timeout_s,
        )
        self.rules = rules_of(gateway)
        self.session_config = self.rules.session_config(gateway.session_config)
        self.trade_numbers = TradeNumbers()
        self._logins: dict[int, PileLogin] = {}  # id(link) -> its accepted login, until answered

    def connection(self, link: SwappableLink, peer: str) -> YkcPileConnection:
        """A new YKC connection on ``link`` (the sniffer's factory)."""
        self.gateway.metrics.connections += 1
        return YkcPileConnection(self, link, peer, self.rules)

    def now_ms(self) -> int:
        return self.gateway.now_ms()

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
    ) -> None:
        line = JournalLine(direction, type_name, raw, fields, seq, msg_type, gun, transaction_id)
        self.gateway.journal(pile_id, line)

    def touch(self, pile_id: str, now_ms: int) -> None:
        self.gateway.touch(pile_id, now_ms)

    async def login(self, link: PileLink, login: YkcLogin) -> PilePort | LoginDenied:
        storage = self.gateway.storage
        known = await storage.ykc_pile(login.pile_id)
        if known is not None and not source_allowed(login.address, known.allowed_sources):
            return LoginDenied(f"source_not_allowed: {login.address}")
        facts = PileLogin(
            login.pile_id,
            login.gun_count,
            vendor="ykc",
            model=login.model,
            firmware=login.program_version,
            peer=login.peer,
            session_config=self.session_config,
            transaction_ids=lambda gun, now_ms: self.new_trade_number(login.pile_id, gun, now_ms),
        )
        result = await self.gateway.login(link, facts)
        if isinstance(result, LoginRefused):
            return LoginDenied(result.refusal.value)
        try:  # the facts are worth keeping, not worth refusing a login the gateway took
            await storage.ykc_login(
                login.pile_id,
                protocol_version=login.protocol_version,
                crc_order=login.crc_order,
                peer=login.peer,
                at_ms=self.now_ms(),
            )
        except Exception as exc:
            self.log.warning("ykc_login_facts_not_stored", pile=login.pile_id, error=repr(exc))
        self._logins[id(link)] = facts
        return result

    def logged_in(self, link: PileLink, port: PilePort) -> None:
        facts = self._logins.pop(id(link))
        port.connected(link, facts)

    async def tariff_for(self, pile_id: str, now_ms: int) -> Tariff | None:
        return await self.gateway.storage.tariff_for(pile_id, now_ms)

    def new_trade_number(self, pile_id: str, gun: int, now_ms: int) -> str:
        return self.trade_numbers.new(pile_id, gun, now_ms)

    def connection_lost(self, link: PileLink) -> None:
        self._logins.pop(id(link), None)
        self.gateway.metrics.connections -= 1
        conn = link if isinstance(link, YkcPileConnection) else None
        if conn is not None and conn.pile is not None:
            conn.pile.disconnected(link, conn.close_reason)
        self.gateway.connection_lost(link)  # type: ignore[arg-type]  # any connection


_HOSTS: weakref.WeakKeyDictionary[Gateway, GatewayYkcHost] = weakref.WeakKeyDictionary()


def host_of(gateway: Gateway) -> GatewayYkcHost:
    """The gateway's one YKC host (made at its first YKC-capable connection)."""
    host = _HOSTS.get(gateway)
    if host is None:
        host = _HOSTS[gateway] = GatewayYkcHost(gateway)
    return host
