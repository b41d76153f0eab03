"""The soak's invariants, checked at the end of a run from the database, the admin API, the
simulated piles and the gateway's log (see bench/soak.py)."""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.soak_services import Admin, Broker
from protocol.pilegate.codes import GunStatus
from simulators.fleet import Fleet
from simulators.pile import CHARGING

TERMINAL = {"settled", "cancelled", "failed"}
LIVE = {"authorised", "starting", "charging", "stopping", "finished"}
#: Until the run is quiet, the checks are taken again (fresh reports asked of every pile in
#: between): what the gateway and the bridge are still catching up on is not a violation,
#: what stays wrong for this long is.
CHECK_WAIT_S = 60.0
CHECK_EVERY_S = 3.0
ADMIN_TIMEOUT_S = 120.0  # /piles of 1,000 piles from a gateway still catching up
# What the gateway shows for a gun, by the status its pile reported (None: either is fine).
EXPECTED_AVAILABILITY: dict[str, set[str] | None] = {
    "available": {"available"},
    "charging": {"busy"},
    "suspended": {"busy"},
    "faulted": {"faulted"},
    "unavailable": {"disabled", "faulted", "available"},
    "preparing": None,
    "finishing": None,
    "reserved": None,
}


@dataclass(slots=True)
class Window:
    """An injected fault's time span (wall clock), to explain error log lines."""

    kind: str
    start: float
    end: float = float("inf")


class SoakRun(Protocol):
    """What the checks read of a run (bench/soak.py's `Soak`)."""

    admin: Admin | None
    broker: Broker | None
    windows: list[Window]
    generated: collections.Counter[tuple[str, str]]

    @property
    def guns(self) -> int: ...

    def piles(self) -> list[tuple[Fleet, int]]: ...


# --- the checks -------------------------------------------------------------------------------


def _check(violations: list[Any], **extra: Any) -> dict[str, Any]:
    return {"ok": not violations, "violations": len(violations), "examples": violations[:10],
            **extra}  # fmt: skip


async def _rows(url: str, sql: str) -> list[dict[str, Any]]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql))
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


async def check_invariants(
    soak: SoakRun, url: str, log_path: Path, wait_s: float = CHECK_WAIT_S
) -> dict[str, dict[str, Any]]:
    """Every invariant; taken again every CHECK_EVERY_S, after asking every pile for a fresh
    report, until all hold or wait_s has passed (each check says after how many rounds)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    rounds = 1
    out = await _check_round(soak, url)
    while any(not chk["ok"] for chk in out.values()) and loop.time() - started < wait_s:
        for fleet, i in soak.piles():
            fleet.client(i).heartbeat_now()
        await asyncio.sleep(CHECK_EVERY_S)
        rounds += 1
        out = await _check_round(soak, url)
    waited = round(loop.time() - started, 1)
    for chk in out.values():
        chk.update(rounds=rounds, waited_s=waited)
    out["error_log"] = check_log(log_path, soak.windows)
    return out


async def _check_round(soak: SoakRun, url: str) -> dict[str, dict[str, Any]]:
    """One round of checks; an admin API that does not answer (an overloaded gateway) fails
    the round's admin-based checks instead of the run."""
    try:
        return await _check_once(soak, url)
    except (OSError, ValueError, TimeoutError) as exc:
        problem = [{"admin_api": f"{type(exc).__name__}: {exc}"[:200]}]
        names = ["services", "claims", "availability", "bills"]
        return {name: _check(problem) for name in names + ["outbox"] * (soak.broker is not None)}


async def _check_once(soak: SoakRun, url: str) -> dict[str, dict[str, Any]]:
    assert soak.admin is not None
    ours = {fleet.pile(i).pile_id: (fleet, i) for fleet, i in soak.piles()}
    live_api = await soak.admin.call("GET", "/sessions/live", timeout=ADMIN_TIMEOUT_S)
    live = {(s["pile_id"], int(s["gun"]), s["transaction_id"]): s for s in live_api}
    piles = await soak.admin.call("GET", "/piles", timeout=ADMIN_TIMEOUT_S)
    piles_api = {p["pile_id"]: p for p in piles}
    sessions = [
        r for r in await _rows(
            url, "SELECT id, pile_id, gun, account, state, transaction_id, updated_ms "
            "FROM sessions",
        ) if r["pile_id"] in ours
    ]  # fmt: skip
    claims = [
        r
        for r in await _rows(
            url, "SELECT account_id, session_id, pile_id, gun FROM active_services"
        )
        if r["pile_id"] in ours
    ]
    out: dict[str, dict[str, Any]] = {}

    # services: ended, waiting for a bill, or live at the gateway (its timers run)
    bad = []
    states = collections.Counter(r["state"] for r in sessions)
    for r in sessions:
        if r["state"] in TERMINAL or r["state"] == "closed":
            continue
        key = (r["pile_id"], int(r["gun"]), r["transaction_id"])
        if key not in live:
            bad.append(
                {"session": r["id"], "pile": r["pile_id"], "gun": r["gun"], "state": r["state"],
                 "problem": "live in the database, not at the gateway"}
            )  # fmt: skip
    out["services"] = _check(bad, states=dict(states))

    # claims: each belongs to a live session of that account (or energy still flowing)
    by_session = {r["id"]: r for r in sessions}
    bad = []
    for c in claims:
        s = by_session.get(c["session_id"])
        fleet, i = ours[c["pile_id"]]
        gun = fleet.pile(i).gun(int(c["gun"])) if 1 <= int(c["gun"]) <= soak.guns else None
        energy = gun is not None and gun.phase == CHARGING
        held = s is not None and (s["pile_id"], int(s["gun"]), s["transaction_id"]) in live
        if not (held and s["state"] in LIVE and s["account"] == c["account_id"]) and not energy:
            bad.append({"account": c["account_id"], "session": c["session_id"],
                        "pile": c["pile_id"], "gun": c["gun"],
                        "session_state": None if s is None else s["state"]})  # fmt: skip
    out["claims"] = _check(bad, claims=len(claims))

    # availability: what the gateway shows equals what the pile last reported
    bad = []
    for pile_id, (fleet, i) in sorted(ours.items()):
        pile, client = fleet.pile(i), fleet.client(i)
        if not client.logged_in:
            continue
        guns = piles_api.get(pile_id, {}).get("guns", {})
        for g in pile.guns:
            want = GunStatus(g.status).name.lower()
            got = guns.get(str(g.no))
            if got is None:
                bad.append({"pile": pile_id, "gun": g.no, "pile_reported": want, "gateway": None})
                continue
            allowed = EXPECTED_AVAILABILITY.get(want)
            if got["reported"] != want or (allowed and got["availability"] not in allowed):
                bad.append({"pile": pile_id, "gun": g.no, "pile_reported": want,
                            "gateway_reported": got["reported"],
                            "availability": got["availability"]})  # fmt: skip
    out["availability"] = _check(bad)

    # bills: generated = stored, each once
    stored = collections.Counter()
    for r in await _rows(url, "SELECT pile_id, transaction_id FROM bills"):
        if r["pile_id"] in ours:
            stored[(r["pile_id"], r["transaction_id"])] += 1
    bad = []
    for key, n in stored.items():
        if n > 1:
            bad.append({"pile": key[0], "transaction": key[1], "problem": f"stored {n} times"})
        if key not in soak.generated:
            bad.append({"pile": key[0], "transaction": key[1], "problem": "never generated"})
    for key in soak.generated:
        if key not in stored:
            fleet, i = ours[key[0]]
            pending = key[1] in fleet.pile(i).store
            bad.append({"pile": key[0], "transaction": key[1],
                        "problem": "still pending at the pile" if pending
                        else "acknowledged but not stored"})  # fmt: skip
    out["bills"] = _check(bad, generated=len(soak.generated), stored=sum(stored.values()))

    # outbox: every event published (only meaningful with a broker)
    if soak.broker is not None:
        rows = await _rows(
            url, "SELECT count(*) AS n, min(id) AS first FROM outbox WHERE published_at_ms IS NULL"
        )
        n = int(rows[0]["n"])
        out["outbox"] = _check([{"unpublished": n, "first_id": rows[0]["first"]}] if n else [])
    return out


_EXPLAINED_BY = {
    "db_outage": ("storage", "database", "sqlalchemy", "asyncpg", "connection", "writer"),
    "broker_restart": ("mqtt",),
}


def check_log(log_path: Path, windows: list[Window], grace_s: float = 20.0) -> dict[str, Any]:
    """Error lines of the gateway's log. One that falls in an injected fault's span (plus a
    grace period) and names that fault's area (event or exception text) is explained; the
    others are violations. A run of lines that are not JSON (the standard library's logging,
    a traceback printed by a library) is one entry, at the time of the JSON line before it,
    and an error when it says so."""
    bad: list[dict[str, Any]] = []
    explained: collections.Counter[str] = collections.Counter()
    events: collections.Counter[str] = collections.Counter()
    for at, line, text in _entries(log_path):
        why = next(
            (
                w.kind
                for w in windows
                if at is not None
                and w.start - 1 <= at <= w.end + grace_s
                and any(word in text.lower() for word in _EXPLAINED_BY.get(w.kind, ()))
            ),
            None,
        )
        if why is not None:
            explained[why] += 1
            continue
        events[re.sub(r"\d+", "N", str(line.get("event", "")))[:60]] += 1
        example = {
            k: line.get(k) for k in ("timestamp", "event", "pile", "type", "error") if k in line
        }
        if line.get("exception"):
            example["exception"] = str(line["exception"]).strip().splitlines()[-1][:300]
        bad.append(example)
    return _check(bad, explained=dict(explained), by_event=dict(events))


def _entries(log_path: Path) -> Iterator[tuple[float | None, dict[str, Any], str]]:
    """(time, line, text to match) of every error entry of the log."""
    last_at: float | None = None
    block: list[str] = []

    def raw_block() -> tuple[float | None, dict[str, Any], str] | None:
        text = "\n".join(block)
        block.clear()
        if not any(w in text for w in ("Error", "error", "failed", "Traceback")):
            return None
        last = text.strip().splitlines()[-1]
        return last_at, {"event": text.strip().splitlines()[0][:160], "error": last[:300]}, text

    for raw in log_path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            block.append(raw)
            continue
        if block and (entry := raw_block()) is not None:
            yield entry
        at = _epoch(line.get("timestamp"))
        last_at = at if at is not None else last_at
        if line.get("level") in ("error", "critical"):
            yield (
                at,
                line,
                f"{line.get('event', '')} {line.get('error', '')} "
                + str(line.get("exception", "")),
            )
    if block and (entry := raw_block()) is not None:
        yield entry


def _epoch(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
