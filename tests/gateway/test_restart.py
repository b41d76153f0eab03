"""A gateway restart in any phase of a service changes nothing a user or operator sees.

Each scenario is run twice on its own fresh database with the same injected clock and the same
pile behaviour: once on one gateway, once with the gateway replaced by a new Gateway on the same
database after step k (the pile reconnects to it). The alarms, the anomalies (with their
status), every deadline after every step and the final session row must be the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.storage import Storage
from protocol.pilegate import FaultCode, GunStatus, Logout, MsgType, Result, StartResult, StopReason
from protocol.pilegate import StopResult as PileStopResult
from sessions import Tick, pending
from tests import reads
from tests.db import fresh_database
from tests.gateway.conftest import ACCOUNT, CARD, gateway_config
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.test_end_to_end import T0, bill_for

S = 1_000
MIN = 60 * S


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@dataclass
class Run:
    url: str
    clock: Clock = field(default_factory=Clock)
    gateway: Gateway | None = None
    pile: ScriptedPile | None = None
    tx: str = ""
    alarms: dict[str, int] = field(default_factory=dict)
    offline: bool = False  # the pile is away (its connection closed)

    @property
    def gw(self) -> Gateway:
        assert self.gateway is not None
        return self.gateway

    @property
    def p(self) -> ScriptedPile:
        assert self.pile is not None
        return self.pile

    async def start(self, *, register: bool) -> None:
        config = gateway_config()
        storage = await Storage.open(self.url, upgrade=False, flush_ms=config.database.batch_ms)
        if register:
            await storage.register_pile(PILE_ID, vendor="ACME", model="DC120", gun_count=2)
            await storage.add_account(ACCOUNT, balance_fen=50_000, card_token=CARD)
        self.gateway = Gateway(config, storage, clock=self.clock)
        await self.gateway.start()
        if not self.offline:
            await self.connect()

    async def connect(self) -> None:
        old = self.pile
        self.pile = ScriptedPile()
        if old is not None:  # the same pile, reconnecting: same gun states and meters
            self.pile.status, self.pile.meter = old.status, old.meter
        await self.pile.login(self.gw.tcp_port)
        self.offline = False

    async def disconnect(self) -> None:
        await self.p.close()
        self.offline = True
        runtime = self.gw.piles[PILE_ID]
        for _ in range(300):
            if not runtime.online:
                break
            await asyncio.sleep(0.01)
        await self.gw.background_done()  # the pile's last-seen time is written

    async def stop(self) -> None:
        await self.p.close()
        for kind, n in self.gw.metrics.alarms.items():
            self.alarms[kind] = self.alarms.get(kind, 0) + n
        await self.gw.stop(grace_s=2)

    async def restart(self) -> None:
        await self.stop()
        await self.start(register=False)

    def tick(self) -> None:
        """What the gateway's timer does at a deadline, without waiting for the wall clock."""
        runtime = self.gw.piles.get(PILE_ID)
        if runtime is not None:  # after a restart: once the pile is back
            runtime.feed(1, Tick(), self.clock.now)

    def deadlines(self) -> list[tuple[str, int]]:
        runtime = self.gw.piles.get(PILE_ID)
        if runtime is None:
            return [("pile not back yet", 0)]
        state = runtime.guns[1]
        return sorted((str(d.timeout), d.at_ms - T0) for d in pending(state))

    async def frame(self, message: Any, ack: MsgType = MsgType.ACK) -> None:
        seq = self.p.send(message)
        await self.p.expect(ack, seq=seq)

    async def charging_report(self, meter: int) -> None:
        self.p.status[1] = GunStatus.CHARGING
        self.p.meter[1] = meter
        await self.p.heartbeat(power_w=60_000)


Action = Callable[[Run], Awaitable[None]]


async def remote_start(r: Run) -> None:
    result = await r.gw.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
    assert result.ok and result.transaction_id
    r.tx = result.transaction_id


async def start_confirmed(r: Run) -> None:
    await r.frame(StartResult(1, r.tx, Result.OK, FaultCode.NONE, r.clock.now, 1_000_000))
    r.p.status[1] = GunStatus.CHARGING


async def operator_stop(r: Run) -> None:
    assert (await r.gw.stop_charge(PILE_ID, 1)).ok


async def pile_stopped(r: Run) -> None:
    message = PileStopResult(1, r.tx, Result.OK, StopReason.REMOTE, r.clock.now, 1_100_000)
    await r.frame(message)
    r.p.status[1] = GunStatus.FINISHING
    await r.p.heartbeat()


async def unplugged(r: Run) -> None:
    r.p.status[1] = GunStatus.AVAILABLE
    await r.frame(Logout(1, r.tx, StopReason.USER, r.clock.now))


async def idle_heartbeat(r: Run) -> None:
    await r.p.heartbeat()


async def late_bill(r: Run) -> None:
    bill = bill_for(r.tx, start=T0 + 20 * S, end=T0 + 13 * MIN)
    await r.frame(bill, MsgType.BILL_ACK)


async def pile_goes_away(r: Run) -> None:
    await r.disconnect()


async def back_unplugged(r: Run) -> None:
    r.p.status[1] = GunStatus.AVAILABLE
    await r.connect()


async def nothing(r: Run) -> None:
    """The step only lets time pass; Run.tick fires what is due."""


async def start_never_confirmed(r: Run) -> None:
    r.p.auto_ack = lambda frame: None if frame.message.TYPE == MsgType.START_CHARGE else Result.OK
    result = await r.gw.start_charge(PILE_ID, 1, ACCOUNT, "partner_app")
    r.p.auto_ack = lambda frame: Result.OK
    assert result.transaction_id
    r.tx = result.transaction_id


async def pile_starts_late(r: Run) -> None:
    await r.frame(StartResult(1, r.tx, Result.OK, FaultCode.NONE, r.clock.now, 1_000_000))
    r.p.status[1] = GunStatus.CHARGING


async def still_charging(r: Run) -> None:
    await r.charging_report(1_020_000)


async def pile_gives_up(r: Run) -> None:
    r.p.status[1] = GunStatus.AVAILABLE
    await r.p.heartbeat()


# (what the step is, clock advance before it, what the pile or operator does)
FULL_SERVICE: list[tuple[str, int, Action]] = [
    ("start command accepted (STARTING)", 0, remote_start),
    ("pile confirms the start (CHARGING)", 20 * S, start_confirmed),
    ("charging report", 30 * S, lambda r: r.charging_report(1_010_000)),
    ("operator stop, acknowledged (STOPPING)", 10 * MIN, operator_stop),
    ("charging after the stop", 30 * S, lambda r: r.charging_report(1_050_000)),
    ("again: alarm, stop re-sent", 30 * S, lambda r: r.charging_report(1_090_000)),
    ("stop timeout: alarm, stop re-sent", 60 * S, nothing),
    ("pile stops (FINISHED)", 10 * S, pile_stopped),
    ("unplugged, logout (CLOSED)", 5 * MIN, unplugged),
    ("bill wait: alarm, lost-bill anomaly", 30 * MIN, nothing),
    ("an hour of heartbeats", 60 * MIN, idle_heartbeat),
    ("the late bill (SETTLED)", 60 * MIN, late_bill),
]

# Field cases 6 and 2: the start times out, the pile starts anyway and keeps charging.
LATE_START: list[tuple[str, int, Action]] = [
    ("start command never acknowledged (CANCELLED)", 0, start_never_confirmed),
    ("pile starts late: alarm, stop, account re-claimed", 2 * MIN, pile_starts_late),
    ("still charging", 30 * S, still_charging),
    ("still charging: alarm, stop re-sent", 30 * S, still_charging),
    ("pile stops by itself: account released", 30 * S, pile_gives_up),
    ("the release is final", 20 * MIN, idle_heartbeat),
]


# The pile drops off mid-charge and comes back unplugged after the offline timeout (24 h).
LONG_OUTAGE: list[tuple[str, int, Action]] = [
    ("start command accepted (STARTING)", 0, remote_start),
    ("pile confirms the start (CHARGING)", 20 * S, start_confirmed),
    ("charging report", 30 * S, lambda r: r.charging_report(1_010_000)),
    ("the pile goes away", MIN, pile_goes_away),
    ("an hour later", 60 * MIN, nothing),
    ("a day later it is back, unplugged (offline timeout)", 24 * 60 * MIN, back_unplugged),
    ("bill wait: alarm, lost-bill anomaly", 31 * MIN, nothing),
]


@dataclass
class Seen:
    deadlines: list[list[tuple[str, int]]] = field(default_factory=list)
    holders: list[bool] = field(default_factory=list)
    anomalies: list[tuple[Any, ...]] = field(default_factory=list)
    alarms: dict[str, int] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)


async def play(
    script: list[tuple[str, int, Action]], restart_after: int | None, kind: str = "sqlite"
) -> Seen:
    seen = Seen()
    async with fresh_database(kind) as url:
        run = Run(url)
        await run.start(register=True)
        try:
            for i, (_, advance, action) in enumerate(script):
                run.clock.now += advance
                run.tick()
                await action(run)
                if i == restart_after:
                    await run.gw.storage.flush()
                    await run.restart()
                    run.tick()
                if not run.offline:
                    await run.p.heartbeat()  # the same reports reach the gateway in both runs
                await run.gw.background_done()
                seen.deadlines.append(run.deadlines())
                seen.holders.append(await reads.active_service(run.gw.storage, ACCOUNT) is not None)
            await run.gw.storage.flush()
            storage = run.gw.storage
            for a in await storage.anomalies():
                reason = a.reason.replace(run.tx, "<tx>")
                seen.anomalies.append((a.kind, a.code, a.status, a.created_ms - T0, reason))
            seen.anomalies.sort(key=lambda a: (a[3], a[0], str(a[1]), a[4]))  # ids are random
            row = await reads.find_session(storage, PILE_ID, run.tx)
            assert row is not None
            seen.session = {
                k: v for k, v in vars_of(row).items() if k not in {"session_id", "transaction_id"}
            }
        finally:
            await run.stop()
        seen.alarms = run.alarms
    return seen


def vars_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


@pytest.mark.parametrize("k", range(len(FULL_SERVICE) - 1), ids=[s[0] for s in FULL_SERVICE[:-1]])
async def test_a_restart_in_any_phase_of_a_service_changes_nothing(k: int) -> None:
    without = await play(FULL_SERVICE, None)
    assert without.alarms == {"stop_not_honoured": 4, "bill_wait_timeout": 1}
    assert [a[1] for a in without.anomalies].count(1) == 1  # one lost-bill anomaly
    restarted = await play(FULL_SERVICE, k)
    assert restarted.deadlines == without.deadlines
    assert restarted.anomalies == without.anomalies
    assert restarted.alarms == without.alarms
    assert restarted.holders == without.holders
    assert restarted.session == without.session


@pytest.mark.parametrize("k", range(len(LATE_START) - 1), ids=[s[0] for s in LATE_START[:-1]])
async def test_a_restart_keeps_a_late_charge_and_its_account_claim(k: int) -> None:
    without = await play(LATE_START, None)
    assert without.alarms == {
        "charging_without_session": 1,
        "start_late_after_timeout": 1,
        "stop_not_honoured": 2,
    }
    assert without.holders == [False, True, True, True, False, False]
    restarted = await play(LATE_START, k)
    assert restarted.alarms == without.alarms
    assert restarted.anomalies == without.anomalies
    assert restarted.holders == without.holders
    assert restarted.session == without.session
    assert restarted.deadlines == without.deadlines


@pytest.mark.parametrize("k", range(len(LONG_OUTAGE) - 1), ids=[s[0] for s in LONG_OUTAGE[:-1]])
async def test_a_restart_while_the_pile_is_away_keeps_its_offline_time(k: int) -> None:
    without = await play(LONG_OUTAGE, None)
    assert without.alarms == {"offline_timeout": 1, "bill_wait_timeout": 1}
    restarted = await play(LONG_OUTAGE, k)
    assert restarted.alarms == without.alarms
    assert restarted.anomalies == without.anomalies
    assert restarted.holders == without.holders
    assert restarted.session == without.session
    # While the pile is away a restarted gateway has no runtime for it: nothing to compare.
    away = {i for i, d in enumerate(restarted.deadlines) if d == [("pile not back yet", 0)]}
    assert away <= {3, 4} and (away == set() or k in (3, 4))
    assert [d for i, d in enumerate(restarted.deadlines) if i not in away] == [
        d for i, d in enumerate(without.deadlines) if i not in away
    ]


@pytest.mark.parametrize(
    ("script", "k"), [(FULL_SERVICE, 9), (LATE_START, 2)], ids=["bill wait", "late charge"]
)
async def test_a_restart_on_postgresql(
    postgres_url: str, script: list[tuple[str, int, Action]], k: int
) -> None:
    without = await play(script, None, "postgresql")
    restarted = await play(script, k, "postgresql")
    assert (restarted.alarms, restarted.anomalies) == (without.alarms, without.anomalies)
    assert (restarted.deadlines, restarted.holders) == (without.deadlines, without.holders)
    assert restarted.session == without.session
