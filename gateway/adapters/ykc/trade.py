"""YKC trade numbers, pilegate's transaction ids for YKC piles.

A trade number is 32 BCD digits: the pile number (14), the gun (2), the local time
yyMMddHHmmss (12) and a counter (4) (SPEC §3.3). The same number must appear in the start
(0x32/0x34), the real-time data and the bill, so for a YKC pile it *is* the session's
transaction id: a gateway-made UUID could not be written in BCD. The counter counts per
process from a random start, so two instances serving one pile in the same second (a
handover) are unlikely to meet; the bill table's (pile, transaction) key would refuse a
clash rather than mix two bills.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, tzinfo

from protocol.ykc import CHINA

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TradeNumbers:
    __slots__ = ("_counter",)

    def __init__(self) -> None:
        self._counter = secrets.randbelow(10_000)

    def new(self, pile: str, gun: int, now_ms: int, tz: tzinfo = CHINA) -> str:
        self._counter = (self._counter + 1) % 10_000
        local = (_EPOCH + timedelta(milliseconds=now_ms)).astimezone(tz)
        return f"{pile:0>14}{gun:02d}{local:%y%m%d%H%M%S}{self._counter:04d}"


def is_idle_trade(trade_no: str) -> bool:
    """All zeros: the real-time data of a gun with no order."""
    return not trade_no.strip("0")
