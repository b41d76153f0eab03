"""Field-case scenarios: one simulated pile with a forced fault, run against a live gateway.

    pilegate-sim scenarios
    pilegate-sim scenario late_start --gateway tcp://127.0.0.1:2406 \\
        --admin http://127.0.0.1:8406 --start-timeout 1.5 --json

or from Python (the CLI's entry point)::

    result = await run_scenario("happy_path", ScenarioOptions(gateway=..., admin=...))
    assert result.passed, result.to_dict()

A scenario creates its own pile(s) (auto=False: it plugs the cars in itself, with short fixed
delays), drives the operator side through the gateway's admin HTTP API (remote start, stop,
enable, disable) and then checks what the gateway did: the frames it sent to the pile
(recorded on the pile's side: STOP_CHARGE, QUERY_BILLS, BILL_ACK, NACK), and the state,
alarms, anomalies and bills it shows on the admin API. Every wait is bounded.

What the gateway must be given (a scenario registers nothing itself):
- piles: ``piles.auto_register = true`` (each run uses fresh 20-digit pile ids
  ``440306 9 <scenario no> <run id>``), or the piles registered beforehand;
- the simulator's driver accounts (``pilegate-sim accounts``) with some balance;
- short timeouts for quick runs: ``sessions.start_timeout_s`` (give it as
  ``--start-timeout``), ``sessions.bill_wait_s`` (``--bill-wait``) and
  ``piles.command_timeout_s`` of a second or two; ``server.bad_frame_burst`` of at least
  16 for ``garbage_bytes`` (the default is 20).

Dialects: ``--protocol ocpp16`` or ``ykc`` (``ScenarioOptions.dialect``) runs a scenario with
OCPP 1.6J charge points or YKC piles instead (the gateway URL then a ws:// one for OCPP, a
tcp:// one for YKC). The piles behave the same; their speaker reports what the gateway told them
in the pile model's words (a RemoteStopTransaction or a 0x36 as a STOP_CHARGE, a
StopTransaction answered or a 0x40 as a BILL_ACK), so the checks read the same. A scenario runs
only over the dialects its case applies to (``Scenario.dialects``, shown by
``pilegate-sim scenarios``), and checks what a dialect cannot express only where it can (no
NACK, DUPLICATE or QUERY_BILLS outside protocol v1).

Only ``protocol`` and the standard library are used to talk to the gateway (urllib runs in a
worker thread), so this module keeps to the simulator's layer.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.pilegate.codes import BillAckStatus, GunStatus, Result
from protocol.pilegate.messages import (
    BillAck,
    Message,
    Nack,
    QueryBills,
    StartResult,
    StatusChange,
    StopCharge,
)
from simulators import accounts
from simulators.charge import Car
from simulators.client import PileClient
from simulators.clock import SimClock
from simulators.faults import Faults
from simulators.fleet import AnyClient
from simulators.pile import CHARGING, IDLE, Pile, PileSpec
from simulators.tariff import IdleRule

HOUR_MS = 3_600_000
#: A sleep between two polls that ends this much later than asked is a stall of the process.
STALL_S = 0.5
#: Pile-clock delays (ms) of the scripted cars: short, so a scenario takes seconds.
DELAYS = {"handshake": 300, "rogue": 300, "swipe": 200, "unplug": 400, "fault": 300}


# --- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Check:
    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    checks: list[Check]
    piles: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "piles": self.piles,
            "wall_s": round(self.wall_s, 3),
        }


@dataclass(slots=True)
class ScenarioOptions:
    gateway: str = "tcp://127.0.0.1:2406"
    admin: str | None = "http://127.0.0.1:8406"  # None: pile-side checks only
    token: str = ""
    start_timeout_s: float = 300.0  # the gateway's sessions.start_timeout_s
    bill_wait_s: float = 1800.0  # the gateway's sessions.bill_wait_s
    step_timeout_s: float = 5.0  # how long any one expected reaction may take
    run_id: int | None = None  # part of the pile ids and the account choice; None: random
    http_timeout_s: float = 5.0
    dialect: str = "pilegate"  # what the piles speak: pilegate (v1), ocpp16 or ykc
    ocpp_password: str | None = None  # OCPP Basic Auth password of the charge points


class ScenarioAbort(Exception):
    """A step the rest of the scenario depends on failed (already recorded as a check)."""


# --- the admin API over urllib ----------------------------------------------------------------


class AdminError(RuntimeError):
    pass


class AdminClient:
    def __init__(self, base: str, token: str = "", timeout_s: float = 5.0) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Any, params: dict[str, Any]) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        url = self.base + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read()[:300].decode(errors="replace")
            raise AdminError(f"{method} {path}: HTTP {exc.code} {text}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AdminError(f"{method} {path}: {exc}") from None

    async def get(self, path: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, "GET", path, None, params)

    async def post(self, path: str, body: Any = None) -> Any:
        return await asyncio.to_thread(self._call, "POST", path, body, {})

    async def put(self, path: str, body: Any = None) -> Any:
        return await asyncio.to_thread(self._call, "PUT", path, body, {})


# --- one simulated pile on the wire -----------------------------------------------------------


class SimPile:
    """A Pile and its connection, recording every frame both ways (pile clock, seq, message),
    in the pile model's words whatever the dialect."""

    def __init__(self, pile: Pile, client: AnyClient) -> None:
        self.pile = pile
        self.client = client
        # As the gateway knows it: a YKC pile goes by the last 14 digits of its number.
        self.pile_id = getattr(client, "wire_id", pile.pile_id)
        # An OCPP charger knows its transactions by the OCPP id only, never the gateway's
        # session id that the admin API shows: its records are matched by pile, not by id.
        self.ids_match = getattr(client, "knows_gateway_ids", True)
        self.received: list[tuple[int, int, Message]] = []
        self.sent: list[tuple[int, int, Message]] = []
        self.task: asyncio.Task[None] | None = None
        client.on_frame = self._record

    def _record(self, direction: str, seq: int, msg: Message) -> None:
        (self.received if direction == "in" else self.sent).append((self.client.now_ms(), seq, msg))

    def got(self, cls: type, tx: str | None = None) -> list[Any]:
        """Messages of a type the gateway sent (for one transaction id when tx is given)."""
        return [
            m
            for _, _, m in self.received
            if isinstance(m, cls)
            and (tx is None or not self.ids_match or getattr(m, "transaction_id", None) == tx)
        ]

    def got_at(self, cls: type) -> list[tuple[int, Any]]:
        return [(t, m) for t, _, m in self.received if isinstance(m, cls)]

    def sent_at(self, cls: type) -> list[tuple[int, Any]]:
        return [(t, m) for t, _, m in self.sent if isinstance(m, cls)]

    def plug(self, gun: int, auth: str = "remote") -> None:
        car = Car(
            capacity_dwh=1_000_000, soc_start=20.0, soc_target=100, vin="LSIMSCENARIO00001",
            max_power_w=60_000,
        )  # fmt: skip
        self.pile.plug_in(gun, self.client.now_ms(), auth=auth, car=car)
        self.client.poke()

    def phase(self, gun: int) -> str:
        return self.pile.gun(gun).phase


# --- a running scenario -----------------------------------------------------------------------


class Run:
    def __init__(self, scenario: Scenario, opts: ScenarioOptions) -> None:
        self.scenario = scenario
        self.opts = opts
        self.run_id = opts.run_id if opts.run_id is not None else secrets.randbelow(10**11)
        self.checks: list[Check] = []
        self.piles: list[SimPile] = []
        self.last_account = ""
        self._admin = (
            AdminClient(opts.admin, opts.token, opts.http_timeout_s) if opts.admin else None
        )
        self.clock = SimClock(1.0)  # the gateway's wall clock: bills must agree with it

    # --- bookkeeping ------------------------------------------------------------------------

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    def require(self, name: str, passed: bool, detail: str = "") -> None:
        if not self.check(name, passed, detail):
            raise ScenarioAbort(name)

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self.require("admin API given", False, "this scenario needs --admin")
        assert self._admin is not None
        return self._admin

    @property
    def has_admin(self) -> bool:
        return self._admin is not None

    def account(self, k: int = 0) -> str:
        """A driver account of the simulator's pool, different per scenario and run."""
        index = (self.run_id + self.scenario.number * 3 + k) % accounts.DEFAULT_POOL
        return accounts.card_account(index)

    async def until(
        self, probe: Callable[[], Any], timeout_s: float | None = None, interval_s: float = 0.05
    ) -> Any:
        """Poll probe (sync or async) until it returns something truthy; that value, or the
        last falsy one when timeout_s passes.

        Time this process did not run does not count: when a sleep between two probes ends
        much later than asked (the machine was busy, a long garbage collection), the deadline
        moves by as much. The gateway under test, in the same event loop or not, could not
        answer in that time either; without this, one stall of a few seconds on a loaded CI
        machine used up the whole step and a bill acknowledged a moment later read as none."""
        loop = asyncio.get_running_loop()
        end = loop.time() + (self.opts.step_timeout_s if timeout_s is None else timeout_s)
        while True:
            value = probe()
            if asyncio.iscoroutine(value):
                value = await value
            if value or loop.time() >= end:
                return value
            asked = loop.time() + interval_s
            await asyncio.sleep(interval_s)
            stalled = loop.time() - asked
            if stalled > STALL_S:
                end += stalled

    # --- piles ------------------------------------------------------------------------------

    async def pile(
        self,
        *,
        index: int = 0,
        guns: int = 2,
        firmware: str = "V2.3.7",
        faults: Faults | None = None,
        gun_faults: dict[int, Faults] | None = None,
    ) -> SimPile:
        pile_id = f"4403069{self.scenario.number:02d}{(self.run_id + index) % 10**11:011d}"
        pile = Pile(
            PileSpec(pile_id, firmware=firmware, guns=guns),
            faults=faults or Faults(),
            seed=self.run_id,
            auto=False,
        )
        pile.delays.update(DELAYS)
        for gun, f in (gun_faults or {}).items():
            pile.gun(gun).faults = f
        client = self._client(pile)
        sp = SimPile(pile, client)
        sp.task = asyncio.get_running_loop().create_task(client.run(), name=f"scenario-{pile_id}")
        self.piles.append(sp)
        logged = await self.until(lambda: client.logged_in)
        why = ""
        if not logged and client.stats.login_rejected:
            why = ": login refused; the gateway must auto-register piles or know this one"
        elif not logged:
            why = f": no login ({client.stats.connect_errors} failed connection attempts)"
        self.require("pile logged in", logged, f"pile {pile_id}{why}")
        return sp

    @property
    def dialect(self) -> str:
        return self.opts.dialect

    def _client(self, pile: Pile) -> AnyClient:
        """The pile's speaker in the scenario's dialect."""
        common: dict[str, Any] = dict(
            clock=self.clock,
            seed=self.run_id,
            ack_timeout_s=max(5.0, self.opts.step_timeout_s),
            connect_timeout_s=self.opts.step_timeout_s,
            backoff_base_s=0.2,
            backoff_max_s=1.0,
            bill_retry_s=max(2.0, self.opts.step_timeout_s / 2),
        )
        if self.dialect == "ocpp16":
            from simulators.ocpp_client import OcppPileClient

            return OcppPileClient(
                pile, self.opts.gateway, password=self.opts.ocpp_password, **common
            )
        if self.dialect == "ykc":
            from simulators.ykc_client import YkcPileClient

            return YkcPileClient(pile, self.opts.gateway, **common)
        return PileClient(pile, self.opts.gateway, **common)

    async def close(self) -> None:
        for sp in self.piles:
            sp.client.stop()
        tasks = [sp.task for sp in self.piles if sp.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=3.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    # --- the gateway's side -----------------------------------------------------------------

    async def gun_view(self, sp: SimPile, gun: int) -> dict[str, Any]:
        view = await self.admin.get(f"/piles/{sp.pile_id}")
        return (view.get("guns") or {}).get(str(gun)) or {}

    async def session_phase(self, sp: SimPile, gun: int) -> str | None:
        session = (await self.gun_view(sp, gun)).get("session") or {}
        return session.get("phase")

    async def wait_phase(self, sp: SimPile, gun: int, *phases: str, timeout_s: float | None = None):
        async def probe() -> str | None:
            phase = await self.session_phase(sp, gun)
            return phase if phase in phases else None

        found = await self.until(probe, timeout_s, 0.1)
        return found or await self.session_phase(sp, gun)

    async def bills(self, sp: SimPile, tx: str | None = None) -> list[dict[str, Any]]:
        page = await self.admin.get("/bills", pile=sp.pile_id, limit=100)
        items = page.get("items", [])
        return [b for b in items if tx is None or b.get("transaction_id") == tx]

    async def session_row(self, sp: SimPile, tx: str) -> dict[str, Any]:
        page = await self.admin.get("/sessions", pile=sp.pile_id, limit=100)
        rows = [r for r in page.get("items", []) if r.get("transaction_id") == tx]
        return rows[0] if rows else {}

    async def wait_flags(self, sp: SimPile, tx: str, *flags: str) -> dict[str, Any]:
        """The stored session record of tx once it carries every flag (or as it is)."""

        async def probe() -> dict[str, Any] | None:
            row = await self.session_row(sp, tx)
            return row if set(flags) <= set(row.get("flags") or ()) else None

        return await self.until(probe, None, 0.1) or await self.session_row(sp, tx)

    async def anomalies(self, sp: SimPile, **filters: Any) -> list[dict[str, Any]]:
        page = await self.admin.get("/anomalies", pile=sp.pile_id, limit=100, **filters)
        return page.get("items", [])

    async def wait_anomaly(self, sp: SimPile, timeout_s: float | None = None, **filters: Any):
        return await self.until(lambda: self.anomalies(sp, **filters), timeout_s, 0.1) or []

    async def start(self, sp: SimPile, gun: int, account: str) -> dict[str, Any]:
        if self.dialect == "ocpp16":  # the OCPP adapter's operator commands (docs/ocpp.md)
            body = {"connector": gun, "account": account, "channel": "own_app"}
            return await self.admin.post(f"/ocpp/{sp.pile_id}/start", body)
        body = {"gun": gun, "account": account, "channel": "own_app"}
        return await self.admin.post(f"/piles/{sp.pile_id}/start", body)

    async def remote_start(self, sp: SimPile, gun: int = 1) -> str:
        """Plug a car in for an app start and start it through the admin API with one of
        the simulator's accounts; the transaction id (the account in self.last_account).

        An account still held by an earlier run's unfinished service (say stop_not_honoured
        left charging) is busy: the next accounts of the pool are tried."""
        if sp.phase(gun) == IDLE:
            sp.plug(gun)
        for k in range(8):
            self.last_account = self.account(k)
            result = await self.start(sp, gun, self.last_account)
            if result.get("reason") != "account_busy":
                break
        tx = result.get("transaction_id") or ""
        self.require(
            "remote start accepted",
            result.get("outcome") == "accepted" and bool(tx),
            f"{_outcome(result)}, account {self.last_account}, tx {tx}",
        )
        return tx

    async def charging(self, sp: SimPile, gun: int = 1) -> None:
        pile_ok = await self.until(lambda: sp.phase(gun) == CHARGING)
        phase = await self.wait_phase(sp, gun, "charging")
        self.require(
            "charging, as the gateway sees it",
            pile_ok and phase == "charging",
            f"pile gun {gun} {sp.phase(gun)}, gateway session {phase}",
        )

    async def stop(self, sp: SimPile, gun: int = 1, name: str = "remote stop accepted") -> None:
        if self.dialect == "ocpp16":
            result = await self.admin.post(f"/ocpp/{sp.pile_id}/stop", {"connector": gun})
        else:
            result = await self.admin.post(f"/piles/{sp.pile_id}/stop", {"gun": gun})
        self.check(name, result.get("outcome") == "accepted", _outcome(result))

    async def bill_acks(self, sp: SimPile, tx: str, count: int = 1, timeout_s: float | None = None):
        return await self.until(
            lambda: (acks := sp.got(BillAck, tx)) and len(acks) >= count and acks, timeout_s
        ) or sp.got(BillAck, tx)

    async def stored_once(self, sp: SimPile, tx: str) -> list[dict[str, Any]]:
        bills = await self.until(lambda: self.bills(sp, tx), None, 0.1) or []
        await asyncio.sleep(0.2)  # a second copy would be stored by now
        bills = await self.bills(sp, tx)
        self.check("bill stored once", len(bills) == 1, f"{len(bills)} bill(s) for {tx}")
        return bills

    def stops_for(self, sp: SimPile, tx: str, *, exactly: int | None = None, at_least: int = 1):
        stops = sp.got(StopCharge)
        mine = sp.got(StopCharge, tx)
        ok = len(mine) == exactly if exactly is not None else len(mine) >= at_least
        ok = ok and len(mine) == len(stops)
        want = f"exactly {exactly}" if exactly is not None else f"at least {at_least}"
        self.check(
            f"STOP_CHARGE sent {want}, for the transaction",
            ok,
            f"{len(stops)} STOP_CHARGE, {len(mine)} with transaction {tx}",
        )


def _outcome(result: dict[str, Any]) -> str:
    return f"outcome {result.get('outcome')}, reason {result.get('reason')}"


def _ack_text(acks: list[BillAck]) -> str:
    return ", ".join(f"{_status(a.status)} mask {a.anomalies:#x}" for a in acks) or "no BILL_ACK"


def _status(value: int) -> str:
    try:
        return BillAckStatus(value).name
    except ValueError:
        return str(value)


def _codes(bill: dict[str, Any]) -> set[int]:
    raw = bill.get("anomaly_codes")
    if raw is None or raw == "":
        return set()
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.startswith("[") else raw.replace(" ", "").split(",")
    return {int(c) for c in raw if str(c)}


# --- the scenarios ----------------------------------------------------------------------------


async def _charge_and_bill(run: Run, sp: SimPile, gun: int = 1) -> tuple[str, list[BillAck]]:
    """Remote start, charge half a second, remote stop, unplug: the transaction and its acks."""
    tx = await run.remote_start(sp, gun)
    await run.charging(sp, gun)
    await asyncio.sleep(0.5)
    await run.stop(sp, gun)
    acks = await run.bill_acks(sp, tx)
    return tx, acks


async def happy_path(run: Run) -> None:
    sp = await run.pile()
    tx, acks = await _charge_and_bill(run, sp)
    run.stops_for(sp, tx, exactly=1)
    run.check(
        "bill acknowledged ACCEPTED, no anomaly",
        len(acks) == 1 and acks[0].status == BillAckStatus.ACCEPTED and acks[0].anomalies == 0,
        _ack_text(acks),
    )
    await run.stored_once(sp, tx)
    phase = await run.wait_phase(sp, 1, "settled")
    view = await run.gun_view(sp, 1)
    run.check(
        "session settled, gun available",
        phase == "settled" and view.get("availability") == "available",
        f"session {phase}, gun {view.get('availability')}",
    )


async def start_fails_no_logout(run: Run) -> None:
    delay = 10 * HOUR_MS
    sp = await run.pile(gun_faults={1: Faults.named("start_fails", late_bill_delay_ms=delay)})
    # The pile's idle-fee rule charges for the ten idle hours to come; the gateway's (the same rule,
    # from the operator) must not, since the start failed.
    rule = {"grace_minutes": 15, "rate_fen_per_minute": 10, "cap_fen": 20_000}
    if run.has_admin:
        await run.admin.put(f"/idle-fee/piles/{sp.pile_id}", rule)
    else:
        sp.pile.idle_rule = IdleRule(15, 10, 20_000)
    await run.until(lambda: sp.pile.idle_rule.rate_fen_per_minute == 10)
    tx = await run.remote_start(sp)
    failed = await run.until(
        lambda: [m for _, m in sp.sent_at(StartResult) if m.result == Result.DEVICE_FAULT]
    )
    run.require("pile reports the start failed (fault 98)", failed, f"{len(failed or [])} sent")
    phase = await run.wait_phase(sp, 1, "failed")
    run.check("session failed, at once, without a logout", phase == "failed", f"session {phase}")

    async def ended() -> dict[str, Any] | None:
        row = await run.session_row(sp, tx)  # the record is written a little after the fact
        return row if row.get("gateway_service_end_ms") is not None else None

    row = await run.until(ended, None, 0.1) or await run.session_row(sp, tx)
    run.check(
        "gateway's own service end recorded",
        row.get("gateway_service_end_ms") is not None,
        f"stored session {row.get('state')}, ended {row.get('gateway_service_end_ms')}",
    )
    # Ten hours later the pile uploads the bill, service end = upload time.
    sp.client.offset_ms += delay
    sp.client.poke()
    acks = await run.bill_acks(sp, tx)
    flagged = bool(acks) and acks[-1].status == BillAckStatus.FLAGGED
    run.check(
        "late bill acknowledged FLAGGED with anomaly 6",
        flagged and bool(acks[-1].anomalies & (1 << 6)),
        _ack_text(acks),
    )
    bills = await run.stored_once(sp, tx)
    if bills:
        b = bills[0]
        run.check(
            "pile's idle fee kept on record, gateway idle fee 0",
            (b.get("idle_fee_fen") or 0) > 0 and b.get("our_idle_fee_fen") == 0,
            f"pile idle fee {b.get('idle_fee_fen')} fen, gateway {b.get('our_idle_fee_fen')}",
        )
        run.check(
            "stored bill carries anomaly 6", 6 in _codes(b), f"codes {b.get('anomaly_codes')}"
        )


async def stop_not_honoured(run: Run) -> None:
    sp = await run.pile(gun_faults={1: Faults.named("ignores_stop")})
    tx = await run.remote_start(sp, 1)
    account = run.last_account
    await run.charging(sp)
    await run.stop(sp)
    run.require("pile acknowledged the stop", await run.until(lambda: sp.got(StopCharge)))

    async def resent() -> bool:
        sp.client.heartbeat_now()  # the pile reports CHARGING on and on
        return len(sp.got(StopCharge)) >= 2

    await run.until(resent, None, 0.25)
    run.check("pile still charging", sp.phase(1) == CHARGING, f"pile gun 1 {sp.phase(1)}")
    run.stops_for(sp, tx, at_least=2)
    alarms = await run.wait_anomaly(sp, kind="alarm:stop_not_honoured")
    run.check("alarm stop_not_honoured", alarms, f"{len(alarms)} alarm(s)")
    row = await run.wait_flags(sp, tx, "stop_not_honoured")
    run.check(
        "session flagged stop_not_honoured",
        "stop_not_honoured" in (row.get("flags") or ()),
        f"flags {row.get('flags')}",
    )
    sp.plug(2)
    second = await run.start(sp, 2, account)
    run.check(
        "same account refused on another gun while the first still charges",
        second.get("outcome") == "rejected",
        _outcome(second),
    )


async def transient_fault(run: Run) -> None:
    sp = await run.pile(gun_faults={1: Faults.named("transient_fault")})
    tx = await run.remote_start(sp)
    await run.charging(sp)
    sampled = await run.until(lambda: sp.pile.gun(1).fault_sample)
    run.require("pile has a fault sample to report", sampled)
    for _ in range(3):  # one FAULTED sample, then CHARGING again
        sp.client.heartbeat_now()
        await asyncio.sleep(0.15)
    await asyncio.sleep(0.3)
    run.check("no STOP_CHARGE", not sp.got(StopCharge), f"{len(sp.got(StopCharge))} sent")
    view = await run.gun_view(sp, 1)
    phase = (view.get("session") or {}).get("phase")
    run.check(
        "session still charging, gun busy",
        phase == "charging" and view.get("availability") == "busy",
        f"session {phase}, gun {view.get('availability')}",
    )
    faults = await run.anomalies(sp, kind="alarm:fault")
    run.check("no fault alarm for one sample", not faults, f"{len(faults)} alarm(s)")
    await run.stop(sp)
    acks = await run.bill_acks(sp, tx)
    run.check("bill acknowledged after the stop", acks, _ack_text(acks))


async def unauthorised_charge(run: Run) -> None:
    sp = await run.pile(gun_faults={1: Faults.named("unauthorised_charge")})
    sp.plug(1, auth="card")  # energy flows with no AUTH_REQUEST and no transaction

    def rogue() -> list[StatusChange]:
        return [
            m
            for _, m in sp.sent_at(StatusChange)
            if m.status == GunStatus.CHARGING and not m.transaction_id
        ]

    started = await run.until(rogue)
    run.require("pile charges without a session", started, f"pile gun 1 {sp.phase(1)}")
    stops = await run.until(lambda: sp.got(StopCharge))
    run.check("gateway sends STOP_CHARGE", stops, f"{len(stops or [])} STOP_CHARGE")
    stopped = await run.until(lambda: sp.phase(1) != CHARGING, 1.0)
    run.check("energy stopped", stopped, f"pile gun 1 {sp.phase(1)}")
    if run.has_admin:
        alarms = await run.wait_anomaly(sp, kind="alarm:charging_without_session")
        run.check("alarm charging_without_session", alarms, f"{len(alarms)} alarm(s)")


async def late_start(run: Run) -> None:
    late_s = run.opts.start_timeout_s + 1.0
    sp = await run.pile(gun_faults={1: Faults.named("late_start", late_start_s=late_s)})
    tx = await run.remote_start(sp)
    wait = late_s + run.opts.step_timeout_s
    started = await run.until(lambda: sp.sent_at(StartResult), wait)
    run.require("pile starts late", started, f"after {late_s:g} s")
    start_ms = started[0][0]
    after = await run.until(lambda: [t for t, m in sp.got_at(StopCharge) if t >= start_ms])
    run.check(
        "STOP_CHARGE after the late start",
        after,
        f"{len(sp.got(StopCharge))} STOP_CHARGE, {len(after or [])} after the start",
    )
    run.stops_for(sp, tx, at_least=1)
    alarms = await run.wait_anomaly(sp, kind="alarm:start_late_after_timeout")
    run.check("alarm start_late_after_timeout", alarms, f"{len(alarms)} alarm(s)")
    row = await run.wait_flags(sp, tx, "late_start")
    run.check(
        "session flagged late_start",
        "late_start" in (row.get("flags") or ()),
        f"session {row.get('state')}, flags {row.get('flags')}",
    )


async def offline_with_bills(run: Run) -> None:
    sp = await run.pile(gun_faults={1: Faults.named("offline_with_bills", offline_s=1.0)})
    tx = await run.remote_start(sp)
    await run.charging(sp)
    await asyncio.sleep(0.3)
    await run.stop(sp)
    # Over OCPP the link goes as the StopTransaction goes out (its answer is lost); in the
    # other dialects at the unplug, with the bill stored and unsent.
    dropped = await run.until(lambda: not sp.client.logged_in)
    held = sp.client.bills_held
    run.require(
        "pile dropped the link holding its bill", dropped and held == 1, f"{held} bill(s) held"
    )
    back = await run.until(lambda: sp.client.logins >= 2, 1.0 + run.opts.step_timeout_s)
    run.check("pile logged in again", back, f"{sp.client.logins} logins")
    acks = await run.bill_acks(sp, tx)
    run.check(
        "bill re-sent and acknowledged",
        acks and acks[0].status in (BillAckStatus.ACCEPTED, BillAckStatus.FLAGGED),
        _ack_text(acks),
    )
    await run.stored_once(sp, tx)
    held = sp.client.bills_held
    run.check("pile holds no bill", held == 0, f"{held} held")


async def duplicate_bill(run: Run) -> None:
    sp = await run.pile(gun_faults={1: Faults.named("duplicate_bill")})
    tx, _ = await _charge_and_bill(run, sp)
    acks = await run.bill_acks(sp, tx, count=2)
    if run.dialect == "pilegate":
        run.check(
            "first copy ACCEPTED, second DUPLICATE",
            [a.status for a in acks] == [BillAckStatus.ACCEPTED, BillAckStatus.DUPLICATE],
            _ack_text(acks),
        )
    else:  # a StopTransaction or a 0x3B answered again: the dialect has no DUPLICATE
        run.check("both copies answered", len(acks) >= 2, f"{len(acks)} answer(s)")
    await run.stored_once(sp, tx)


async def garbage_bytes(run: Run) -> None:
    # Junk plus a cut-off copy before a heartbeat and before the frames of the unplug
    # (LOGOUT, status, BILL): about 3 bad frames each at the gateway, 12-15 in all.
    sp = await run.pile(faults=Faults(garbage_rate=1.0))
    tx = await run.remote_start(sp)
    await run.charging(sp)
    sp.pile.force_fault("garbage_bytes")
    sp.client.heartbeat_now()
    sp.pile.force_fault("garbage_bytes", on=False)
    await run.stop(sp)
    finishing = await run.until(lambda: sp.phase(1) != CHARGING)
    run.require("pile stopped", finishing, f"pile gun 1 {sp.phase(1)}")
    sp.pile.force_fault("garbage_bytes")
    acks = await run.bill_acks(sp, tx)
    sp.pile.force_fault("garbage_bytes", on=False)
    run.check(
        "connection survived",
        sp.client.logins == 1 and sp.client.logged_in,
        f"{sp.client.logins} login(s), {sp.client.wire_faults} frames garbled",
    )
    if run.dialect == "pilegate":  # OCPP and YKC have no NACK to look for
        nacks = await run.until(lambda: sp.got(Nack), 1.0) or []
        run.check("NACK for readable bad frames", bool(nacks), f"{len(nacks)} NACK")
    run.check("bill acknowledged", acks, _ack_text(acks))
    await run.stored_once(sp, tx)


async def slow_drip(run: Run) -> None:
    sp = await run.pile(faults=Faults.named("slow_drip", drip_interval_s=0.002))
    tx, acks = await _charge_and_bill(run, sp)
    # On a busy machine the drip itself can outlast a short bill_wait_s, and the gateway then
    # rightly flags the bill late (FLAGGED with no anomaly code): wall time, not the wire.
    run.check(
        "bill dripped byte by byte acknowledged, no anomaly",
        bool(acks)
        and acks[0].status in (BillAckStatus.ACCEPTED, BillAckStatus.FLAGGED)
        and acks[0].anomalies == 0,
        _ack_text(acks),
    )
    run.stops_for(sp, tx, exactly=1)
    await run.stored_once(sp, tx)


async def disabled_pile(run: Run) -> None:
    sp = await run.pile()
    sp.plug(1)  # the car waits for an app start
    result = await run.admin.post(f"/piles/{sp.pile_id}/disable")
    run.check("disable accepted", result.get("outcome") == "accepted", _outcome(result))
    view = await run.admin.get(f"/piles/{sp.pile_id}")
    run.check("pile shown disabled", view.get("enabled") is False, f"enabled {view.get('enabled')}")
    refused = await run.start(sp, 1, run.account())
    run.check(
        "remote start rejected pile_disabled",
        refused.get("outcome") == "rejected" and refused.get("reason") == "pile_disabled",
        _outcome(refused),
    )
    result = await run.admin.post(f"/piles/{sp.pile_id}/enable")
    run.check("enable accepted", result.get("outcome") == "accepted", _outcome(result))
    view = await run.admin.get(f"/piles/{sp.pile_id}")
    run.check("pile shown enabled", view.get("enabled") is True, f"enabled {view.get('enabled')}")
    tx = await run.remote_start(sp)
    await run.charging(sp)
    await run.stop(sp)
    acks = await run.bill_acks(sp, tx)
    run.check("bill acknowledged", acks, _ack_text(acks))


async def old_firmware_lost_bill(run: Run) -> None:
    faults = Faults.named("old_firmware", bill_loss_rate=1.0)
    sp = await run.pile(firmware="V2.1.0", gun_faults={1: faults})
    tx = await run.remote_start(sp)
    await run.charging(sp)
    await run.stop(sp)
    wait = run.opts.bill_wait_s + run.opts.step_timeout_s
    if run.dialect == "pilegate":  # only protocol v1 can ask a pile for its bills
        queries = await run.until(lambda: sp.got(QueryBills), wait)
        run.check("gateway asks for the bill (QUERY_BILLS)", queries, f"{len(queries or [])} sent")
    else:
        await asyncio.sleep(wait)
    lost = await run.wait_anomaly(sp, code=1)
    run.check("lost-bill anomaly code 1", len(lost) == 1, f"{len(lost)} anomaly(ies) code 1")
    alarms = await run.wait_anomaly(sp, kind="alarm:bill_wait_timeout")
    run.check("alarm bill_wait_timeout", alarms, f"{len(alarms)} alarm(s)")
    bills = await run.bills(sp, tx)
    run.check("no bill stored", not bills, f"{len(bills)} bill(s)")
    view = await run.admin.get(f"/piles/{sp.pile_id}")
    run.check(
        "firmware recorded at login", view.get("firmware") == "V2.1.0", f"{view.get('firmware')}"
    )


# --- the catalogue ----------------------------------------------------------------------------


ALL_DIALECTS = {"pilegate": "", "ocpp16": "", "ykc": ""}


def _only(**notes: str) -> dict[str, str]:
    return notes


@dataclass(frozen=True, slots=True)
class Scenario:
    number: int
    name: str
    case: str
    description: str
    run: Callable[[Run], Awaitable[None]]
    needs_admin: bool = True
    #: The dialects the case applies to, each with what differs there ("" = nothing).
    dialects: dict[str, str] = field(default_factory=lambda: dict(ALL_DIALECTS))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            1,
            "happy_path",
            "-",
            "remote start, charge, stop, unplug: bill ACCEPTED once",
            happy_path,
        ),
        Scenario(
            2,
            "start_fails_no_logout",
            "1",
            "fault 98, no logout, bill 10 h later with a huge idle fee: FLAGGED, anomaly 6, "
            "gateway idle fee 0",
            start_fails_no_logout,
            dialects=_only(
                pilegate="",
                ykc="the 0x34 is answered 0x33 failure; YKC wants a bill for every start "
                "command, and this one comes 10 h late",
            ),
        ),
        Scenario(
            3,
            "stop_not_honoured",
            "2",
            "pile acks the stop and charges on: STOP re-sent, alarm, account kept busy",
            stop_not_honoured,
            dialects=_only(
                pilegate="",
                ocpp16="RemoteStopTransaction Accepted, then Charging and MeterValues go on",
                ykc="0x35 success, then 0x13 charging goes on",
            ),
        ),
        Scenario(
            4,
            "transient_fault",
            "3",
            "one FAULTED sample mid-charge: no stop, still charging",
            transient_fault,
            dialects=_only(
                pilegate="",
                ocpp16="StatusNotification Faulted, then Charging again",
                ykc="one 0x13 with status fault, then charging again",
            ),
        ),
        Scenario(
            5,
            "unauthorised_charge",
            "4",
            "energy without a session: alarm and STOP",
            unauthorised_charge,
            needs_admin=False,
            dialects=_only(
                pilegate="",
                ykc="0x13 charging with a zero trade number; the stop is a 0x36",
                # OCPP: a charge with no transaction has no id to RemoteStop; not played here.
            ),
        ),
        Scenario(
            6,
            "late_start",
            "6",
            "pile starts after the start timeout: STOP and alarm "
            "start_late_after_timeout (--start-timeout)",
            late_start,
            dialects=_only(
                pilegate="",
                ocpp16="StartTransaction after the gateway's start timeout",
                ykc="0x33 success after the start timeout (YKC's 90 s unless configured)",
            ),
        ),
        Scenario(
            7,
            "offline_with_bills",
            "-",
            "link dropped holding a bill: re-sent on reconnect, acknowledged, stored once",
            offline_with_bills,
            dialects=_only(
                pilegate="",
                ocpp16="the link goes as the StopTransaction goes out, so its answer never "
                "comes; the same StopTransaction (its own times) is sent after the next boot: "
                "answered, billed once",
                ykc="the 0x3B is sent again after the next login",
            ),
        ),
        Scenario(
            8,
            "duplicate_bill",
            "-",
            "acknowledged bill sent again: DUPLICATE, stored once",
            duplicate_bill,
            dialects=_only(
                pilegate="",
                ocpp16="the StopTransaction is sent again after its answer (a retried stop): "
                "both copies answered (no DUPLICATE in OCPP), billed once",
                ykc="the 0x3B is sent again after its 0x40",
            ),
        ),
        Scenario(
            9,
            "garbage_bytes",
            "-",
            "junk and cut-off frames: connection survives, NACKs, bill stored",
            garbage_bytes,
            dialects=_only(
                pilegate="",
                ocpp16="WebSocket texts that are not JSON (no NACK check)",
                ykc="junk and cut-off frames on the stream (no NACK in YKC)",
            ),
        ),
        Scenario(
            10,
            "slow_drip",
            "-",
            "every frame one byte at a time: charge and bill work",
            slow_drip,
            dialects=_only(
                pilegate="",
                ocpp16="each WebSocket message arrives whole but late",
                ykc="",
            ),
        ),
        Scenario(
            11,
            "disabled_pile",
            "8",
            "disable: start rejected pile_disabled; enable: start accepted",
            disabled_pile,
            dialects=_only(
                pilegate="",
                ocpp16="ChangeAvailability Inoperative / Operative",
                ykc="YKC has no disable command: the gateway refuses the start itself",
            ),
        ),
        Scenario(
            12,
            "old_firmware_lost_bill",
            "5",
            "the bill never comes: QUERY_BILLS, anomaly code 1 after the bill wait (--bill-wait)",
            old_firmware_lost_bill,
            dialects=_only(
                pilegate="",
                ocpp16="the connector goes Available with no StopTransaction (no QUERY_BILLS)",
                ykc="no 0x3B within the bill wait (no QUERY_BILLS)",
            ),
        ),
    )
}


def catalogue() -> list[dict[str, Any]]:
    return [
        {"name": s.name, "case": s.case, "description": s.description, "dialects": s.dialects}
        for s in SCENARIOS.values()
    ]


async def run_scenario(name: str, opts: ScenarioOptions) -> ScenarioResult:
    """Run one scenario against the gateway of opts; never raises for a gateway's failure."""
    scenario = SCENARIOS[name]
    run = Run(scenario, opts)
    started = time.monotonic()
    try:
        if opts.dialect not in scenario.dialects:
            run.check(
                f"scenario applies to {opts.dialect}",
                False,
                f"{name} runs over {', '.join(scenario.dialects)}",
            )
        elif scenario.needs_admin and not opts.admin:
            run.check("admin API given", False, "this scenario needs --admin")
        else:
            await scenario.run(run)
    except ScenarioAbort:
        pass
    except AdminError as exc:
        run.check("admin API answered", False, str(exc))
    except Exception as exc:  # a scenario bug or an unexpected answer: a failed run
        run.check("scenario ran to the end", False, repr(exc))
    finally:
        await run.close()
    return ScenarioResult(
        name, run.checks, [sp.pile_id for sp in run.piles], time.monotonic() - started
    )


__all__ = [
    "SCENARIOS",
    "Check",
    "ScenarioOptions",
    "ScenarioResult",
    "catalogue",
    "run_scenario",
]
