"""An in-memory gateway for the YKC adapter: a host, a pile port and a link that record."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from billing.records import PileBill
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
from gateway.adapters.ykc.host import LoginDenied, YkcLimits, YkcLogin
from gateway.adapters.ykc.trade import TradeNumbers
from gateway.dialect import Authorisation, BillStatus, BillVerdict, GunReport, PileLink
from protocol.ykc import YkcFrame, YkcFrameDecoder
from sessions import Event, Refusal

PILE = "32010600019236"
NOW_MS = 1_700_000_000_000  # 2023-11-15 06:13:20 China

TARIFF = Tariff(
    "t1", ScopeKind.DEFAULT, "", 0,
    {k: PeriodPrice(10_000 + 1_000 * i, 4_000) for i, k in enumerate(PeriodKind)},
    (Segment(0, PeriodKind.VALLEY), Segment(8 * 60, PeriodKind.FLAT)),
)  # fmt: skip


@dataclass
class FakePort:
    pile_id: str = PILE
    reports_seen: list[GunReport] = field(default_factory=list)
    events: list[tuple[int, Event]] = field(default_factory=list)
    meters: list[tuple[int, str, int]] = field(default_factory=list)
    bills: list[PileBill] = field(default_factory=list)
    refuse: Refusal | None = None
    commit: bool = True
    trade_numbers: TradeNumbers = field(default_factory=TradeNumbers)

    def reports(self, reports: Sequence[GunReport]) -> None:
        self.reports_seen.extend(reports)

    def feed(self, gun: int, event: Event) -> bool:
        self.events.append((gun, event))
        return True

    def meter(self, gun: int, transaction_id: str, at_ms: int, meter_dwh: int,
              power_w: int | None, soc: int | None) -> None:  # fmt: skip
        self.meters.append((gun, transaction_id, meter_dwh))

    async def authorise(self, gun: int, channel: str, token: str, password: str) -> Authorisation:
        if self.refuse is not None:
            return Authorisation(None, None, 0, self.refuse)
        return Authorisation(self.trade_numbers.new(PILE, gun, NOW_MS), "1234", 5000, None)

    async def bill(self, bill: PileBill) -> BillVerdict | None:
        if not self.commit:
            return None
        duplicate = any(b.transaction_id == bill.transaction_id for b in self.bills)
        if not duplicate:
            self.bills.append(bill)
        status = BillStatus.DUPLICATE if duplicate else BillStatus.ACCEPTED
        return BillVerdict(status, 0, "b1")


@dataclass
class FakeHost:
    loop: asyncio.AbstractEventLoop
    port: FakePort = field(default_factory=FakePort)
    limits: YkcLimits = field(default_factory=lambda: YkcLimits(login_timeout_s=5))
    log: Any = field(default_factory=lambda: structlog.get_logger())
    registered: set[str] = field(default_factory=lambda: {PILE})
    tariff: Tariff | None = TARIFF
    journal_rows: list[tuple[str, str, str]] = field(default_factory=list)
    logins: list[YkcLogin] = field(default_factory=list)
    lost: list[PileLink] = field(default_factory=list)

    def now_ms(self) -> int:
        return NOW_MS

    def journal(self, pile_id: str, direction: str, seq: int, type_name: str, msg_type: int,
                raw: bytes, fields: dict[str, Any], gun: int | None = None,
                transaction_id: str | None = None) -> None:  # fmt: skip
        self.journal_rows.append((pile_id, direction, type_name))

    def touch(self, pile_id: str, now_ms: int) -> None:
        pass

    async def login(self, link: PileLink, login: YkcLogin) -> FakePort | LoginDenied:
        self.logins.append(login)
        if login.pile_id not in self.registered:
            return LoginDenied("unknown_pile")
        return self.port

    def logged_in(self, link: PileLink, port: Any) -> None:
        pass

    async def tariff_for(self, pile_id: str, now_ms: int) -> Tariff | None:
        return self.tariff

    def new_trade_number(self, pile_id: str, gun: int, now_ms: int) -> str:
        return self.port.trade_numbers.new(pile_id, gun, now_ms)

    def connection_lost(self, link: PileLink) -> None:
        self.lost.append(link)


class FakeLink:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self._decoder = YkcFrameDecoder(version=None)

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def write_buffer_size(self) -> int:
        return 0

    def frames(self) -> list[YkcFrame]:
        """What the gateway sent since the last call, decoded."""
        data, self.out = bytes(self.out), bytearray()
        items = self._decoder.feed(data)
        assert all(isinstance(i, YkcFrame) for i in items), items
        return [i for i in items if isinstance(i, YkcFrame)]
