"""Drive a pure Pile by hand: exact pile times, a scripted gateway."""

from __future__ import annotations

from protocol.pilegate.codes import Result
from protocol.pilegate.messages import AuthRequest, AuthResult, Message
from simulators.charge import Car
from simulators.pile import Pile, PileSpec
from simulators.tariff import IdleRule

# 2025-01-01 09:30 in UTC+8 (flat period; peak from 10:00).
T930 = 1_735_695_000_000


def big_car(**kw) -> Car:  # type: ignore[no-untyped-def]
    """A huge battery at low SOC: constant power, no taper during a test."""
    args = dict(capacity_dwh=10_000_000, soc_start=10.0, soc_target=100, vin="LTEST000000000001",
                max_power_w=60_000)  # fmt: skip
    args.update(kw)
    return Car(**args)  # type: ignore[arg-type]


def make_pile(**kw) -> Pile:  # type: ignore[no-untyped-def]
    spec = PileSpec("44030600030000000001", guns=kw.pop("guns", 2))
    kw.setdefault("idle_rule", IdleRule())  # as if the gateway had sent 10 fen/min after 15 min
    return Pile(spec, auto=False, seed=kw.pop("seed", 7), **kw)


class Driver:
    """Ticks a pile second by second, answers AUTH_REQUEST, records every message."""

    def __init__(self, pile: Pile, now: int = T930) -> None:
        self.pile = pile
        self.now = now
        self.sent: list[tuple[int, Message]] = []
        self.txn = 0
        self.auth_ok = True

    def run_until(self, end_ms: int, step_ms: int = 1_000) -> None:
        while self.now < end_ms:
            self.now = min(end_ms, self.now + step_ms)
            self.pile.tick(self.now)
            self._collect()

    def _collect(self) -> None:
        for msg in self.pile.drain():
            self.sent.append((self.now, msg))
            if isinstance(msg, AuthRequest):
                self.txn += 1
                result = Result.OK if self.auth_ok else Result.AUTH_FAILED
                txid = f"{self.txn:032x}" if self.auth_ok else ""
                self.pile.on_message(
                    AuthResult(msg.gun, result, txid, "13800000000", 9_999), self.now
                )
                self._collect()

    def send(self, msg: Message):  # type: ignore[no-untyped-def]
        ack = self.pile.on_message(msg, self.now)
        self._collect()
        return ack

    def of(self, cls: type) -> list:  # type: ignore[type-arg]
        return [m for _, m in self.sent if isinstance(m, cls)]
