"""Read-only queries for operators: listings (keyset-paged), report aggregates, streamed export.

Everything here takes an `AsyncEngine` (use `storage.reader`) and only reads. Aggregation
happens in SQL (GROUP BY); exports stream: on PostgreSQL through a server-side cursor
(`AsyncConnection.stream` with `yield_per`), elsewhere by keyset pagination in chunks, so
memory does not grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.schema import (
    accounts,
    anomalies,
    bill_corrections,
    bills,
    firmware_history,
    frame_journal,
    outbox,
    piles,
    session_transitions,
    sessions,
    stations,
    ykc_piles,
)

MAX_PAGE = 1000
NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None  # pass back as `cursor` for the next (older) page


def _cursor(at: int, key: str | int) -> str:
    return f"{at}:{key}"


def _parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    at, _, key = cursor.partition(":")
    try:
        return int(at), key
    except ValueError:
        raise ValueError(f"bad cursor {cursor!r}") from None


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


async def _page(
    engine: AsyncEngine, q: Select[Any], time_col: Any, key_col: Any, limit: int, cursor: str | None
) -> Page:
    """Newest first, keyset on (time, key): stable under concurrent inserts."""
    limit = _limit(limit)
    after = _parse_cursor(cursor)
    if after is not None:
        key: Any = int(after[1]) if isinstance(key_col.type, Integer) else after[1]
        q = q.where(or_(time_col < after[0], and_(time_col == after[0], key_col < key)))
    q = q.order_by(time_col.desc(), key_col.desc()).limit(limit + 1)
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(q)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more and rows:
        last = rows[-1]
        nxt = _cursor(last[time_col.name], last[key_col.name])
    return Page(rows, nxt)


# --- piles ----------------------------------------------------------------------------------


async def piles_with_stations(engine: AsyncEngine, pile_id: str | None = None) -> list[dict]:
    q = (
        select(
            piles,
            stations.c.name.label("station_name"),
            ykc_piles.c.protocol_version.label("ykc_protocol_version"),
            ykc_piles.c.crc_order.label("ykc_crc_order"),
            ykc_piles.c.allowed_sources.label("ykc_allowed_sources"),
        )
        .select_from(
            piles.outerjoin(stations, stations.c.id == piles.c.station_id).outerjoin(
                ykc_piles, ykc_piles.c.pile_id == piles.c.id
            )
        )
        .order_by(piles.c.id)
    )
    if pile_id is not None:
        q = q.where(piles.c.id == pile_id)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def pile_exists(engine: AsyncEngine, pile_id: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(piles.c.id).where(piles.c.id == pile_id))
        return found.first() is not None


async def station_exists(engine: AsyncEngine, station_id: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(stations.c.id).where(stations.c.id == station_id))
        return found.first() is not None


# --- sessions, bills, anomalies -------------------------------------------------------------


async def list_sessions(
    engine: AsyncEngine,
    *,
    pile_id: str | None = None,
    state: str | None = None,
    account: str | None = None,
    since_ms: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    s = sessions
    q = select(s)
    for col, value in ((s.c.pile_id, pile_id), (s.c.state, state), (s.c.account, account)):
        if value is not None:
            q = q.where(col == value)
    if since_ms is not None:
        q = q.where(s.c.updated_ms >= since_ms)
    page = await _page(engine, q, s.c.updated_ms, s.c.id, limit, cursor)
    for r in page.rows:
        r["flags"] = orjson.loads(r["flags"])
    return page


def _bill_filters(
    q: Select[Any],
    since_ms: int | None,
    until_ms: int | None,
    pile_id: str | None,
    anomaly: int | None,
    status: str | None,
) -> Select[Any]:
    b = bills
    if since_ms is not None:
        q = q.where(b.c.received_ms >= since_ms)
    if until_ms is not None:
        q = q.where(b.c.received_ms < until_ms)
    if pile_id is not None:
        q = q.where(b.c.pile_id == pile_id)
    if anomaly is not None:
        if not 1 <= anomaly <= 30:
            raise ValueError(f"anomaly code must be 1..30, got {anomaly}")
        q = q.where(b.c.anomaly_mask.op("&")(1 << anomaly) != 0)
    if status is not None:
        q = q.where(b.c.status == status)
    return q


BILL_LIST_COLUMNS = (
    "id", "received_ms", "pile_id", "gun", "transaction_id", "channel", "account",
    "charge_start_ms", "charge_end_ms", "service_end_ms", "energy_dwh", "total_amount_fen",
    "our_total_fen", "difference_fen", "idle_fee_fen", "our_idle_fee_fen", "anomaly_codes",
    "status", "flags",
)  # fmt: skip


async def list_bills(
    engine: AsyncEngine,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    pile_id: str | None = None,
    anomaly: int | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    q = select(*(bills.c[c] for c in BILL_LIST_COLUMNS))
    q = _bill_filters(q, since_ms, until_ms, pile_id, anomaly, status)
    page = await _page(engine, q, bills.c.received_ms, bills.c.id, limit, cursor)
    for r in page.rows:
        r["flags"] = orjson.loads(r["flags"])
    return page


async def get_bill(engine: AsyncEngine, bill_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        r = (await conn.execute(select(bills).where(bills.c.id == bill_id))).mappings().first()
        if r is None:
            return None
        out = dict(r)
        out["flags"] = orjson.loads(out["flags"])
        c = bill_corrections
        rows = await conn.execute(select(c).where(c.c.bill_id == bill_id).order_by(c.c.id))
        out["corrections"] = [dict(x) for x in rows.mappings()]
    for x in out["corrections"]:
        x["lines"] = orjson.loads(x["lines"])
    return out


async def list_anomalies(
    engine: AsyncEngine,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    pile_id: str | None = None,
    code: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    bill_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    a = anomalies
    q = select(a)
    for col, value in (
        (a.c.pile_id, pile_id),
        (a.c.code, code),
        (a.c.kind, kind),
        (a.c.status, status),
        (a.c.bill_id, bill_id),
    ):
        if value is not None:
            q = q.where(col == value)
    if since_ms is not None:
        q = q.where(a.c.created_ms >= since_ms)
    if until_ms is not None:
        q = q.where(a.c.created_ms < until_ms)
    return await _page(engine, q, a.c.created_ms, a.c.id, limit, cursor)


async def open_anomaly_counts(engine: AsyncEngine) -> list[tuple[str, int | None, int]]:
    """(kind, code, count) of open anomalies, for /metrics."""
    a = anomalies
    q = (
        select(a.c.kind, a.c.code, func.count())
        .where(a.c.status == "open")
        .group_by(a.c.kind, a.c.code)
        .order_by(a.c.kind, a.c.code)
    )
    async with engine.connect() as conn:
        return [(k, c, n) for k, c, n in await conn.execute(q)]


async def outbox_depth(engine: AsyncEngine) -> int:
    q = select(func.count()).select_from(outbox).where(outbox.c.published_at_ms.is_(None))
    async with engine.connect() as conn:
        return (await conn.execute(q)).scalar_one()


# --- frames ---------------------------------------------------------------------------------


async def bill_frame_window(engine: AsyncEngine, bill_id: str) -> dict[str, Any] | None:
    """Where a bill's frames are in the journal: its pile, transaction, the journal times of
    the first and last frame that carry the transaction id, and the pile's last LOGIN frame
    before the first one (the login does not carry a transaction id)."""
    j = frame_journal
    async with engine.connect() as conn:
        b = (
            await conn.execute(
                select(bills.c.pile_id, bills.c.transaction_id, bills.c.received_ms).where(
                    bills.c.id == bill_id
                )
            )
        ).first()
        if b is None:
            return None
        pile_id, tx, received = b
        first, last = (
            await conn.execute(
                select(func.min(j.c.at_ms), func.max(j.c.at_ms)).where(
                    j.c.pile_id == pile_id, j.c.transaction_id == tx
                )
            )
        ).one()
        start = first if first is not None else received
        login = (
            await conn.execute(
                select(func.max(j.c.at_ms)).where(
                    j.c.pile_id == pile_id, j.c.type_name == "LOGIN", j.c.at_ms <= start
                )
            )
        ).scalar()
    return {
        "pile_id": pile_id,
        "transaction_id": tx,
        "received_ms": received,
        "first_ms": first,
        "last_ms": last if last is not None else received,
        "login_ms": login,
    }


# --- reports --------------------------------------------------------------------------------

LOST_FLAG = '%"bill_lost"%'
OFFLINE_FLAG = '%"lost_while_offline"%'
DIMENSIONS = ("channel", "firmware", "station", "pile")


def _firmware_at(pile_col: Any, at_col: Any) -> Any:
    """The firmware the pile reported at `at` (firmware history), else its current one."""
    fh = firmware_history.alias("fh")
    at_time = (
        select(fh.c.firmware)
        .where(fh.c.pile_id == pile_col, fh.c.first_seen_ms <= at_col)
        .order_by(fh.c.first_seen_ms.desc(), fh.c.id.desc())
        .limit(1)
        .correlate_except(fh)
        .scalar_subquery()
    )
    return func.coalesce(at_time, piles.c.firmware, literal("(unknown)"))


def _dimension(by: str, pile_col: Any, at_col: Any, channel_col: Any) -> Any:
    if by == "pile":
        return cast(pile_col, String)
    if by == "channel":
        return cast(channel_col, String)
    if by == "station":
        return func.coalesce(piles.c.station_id, literal(NONE_LABEL))
    if by == "firmware":
        return _firmware_at(pile_col, at_col)
    raise ValueError(f"--by must be one of {', '.join(DIMENSIONS)}, got {by!r}")


async def anomaly_combinations(
    engine: AsyncEngine, from_ms: int, to_ms: int, by: str
) -> list[tuple[str, str, int]]:
    """(dimension value, "8,9" code combination or "", bills) over bills received in
    [from, to), grouped in SQL."""
    b = bills
    dim = _dimension(by, b.c.pile_id, b.c.received_ms, b.c.channel).label("dim")
    q = (
        select(dim, b.c.anomaly_codes, func.count())
        .select_from(b.outerjoin(piles, piles.c.id == b.c.pile_id))
        .where(b.c.received_ms >= from_ms, b.c.received_ms < to_ms)
        .group_by(dim, b.c.anomaly_codes)
    )
    async with engine.connect() as conn:
        return [(str(d), codes or "", n) for d, codes, n in await conn.execute(q)]


async def lost_bill_counts(
    engine: AsyncEngine, from_ms: int, to_ms: int, by: str
) -> list[tuple[str, int, int]]:
    """(dimension value, code 1 or 2, sessions) of sessions settled as "bill lost" whose
    service ended in [from, to) (code 2 when the pile was offline at the time)."""
    s = sessions
    at = func.coalesce(s.c.gateway_service_end_ms, s.c.pile_service_end_ms, s.c.updated_ms)
    dim = _dimension(by, s.c.pile_id, at, s.c.channel).label("dim")
    code = case((s.c.flags.like(OFFLINE_FLAG), 2), else_=1).label("code")
    q = (
        select(dim, code, func.count())
        .select_from(s.outerjoin(piles, piles.c.id == s.c.pile_id))
        .where(
            # prefilter on the (state, updated_ms) index: a lost bill settles the session,
            # and a session's row is updated at or after its end
            s.c.state == "settled",
            s.c.updated_ms >= from_ms,
            s.c.flags.like(LOST_FLAG),
            at >= from_ms,
            at < to_ms,
        )
        .group_by(dim, code)
    )
    async with engine.connect() as conn:
        return [(str(d), int(c), n) for d, c, n in await conn.execute(q)]


async def firmware_counts(
    engine: AsyncEngine, expected: str, station_id: str | None = None
) -> list[tuple[str, str, int, int]]:
    """(firmware, station, piles, online piles) of piles not on `expected`."""
    station = func.coalesce(piles.c.station_id, literal(NONE_LABEL)).label("station")
    online = func.sum(case((piles.c.online, 1), else_=0))
    q = (
        select(piles.c.firmware, station, func.count(), online)
        .where(piles.c.firmware != expected)
        .group_by(piles.c.firmware, station)
        .order_by(piles.c.firmware, station)
    )
    if station_id is not None:
        q = q.where(piles.c.station_id == station_id)
    async with engine.connect() as conn:
        return [(f, s, n, int(o or 0)) for f, s, n, o in await conn.execute(q)]


async def firmware_piles(
    engine: AsyncEngine, expected: str, station_id: str | None = None
) -> AsyncIterator[tuple[str, str, str]]:
    """(firmware, station, pile id) of every pile not on `expected`, ordered."""
    station = func.coalesce(piles.c.station_id, literal(NONE_LABEL))
    q = (
        select(piles.c.firmware, station, piles.c.id)
        .where(piles.c.firmware != expected)
        .order_by(piles.c.firmware, station, piles.c.id)
    )
    if station_id is not None:
        q = q.where(piles.c.station_id == station_id)
    async with engine.connect() as conn:
        for row in await conn.execute(q):
            yield row[0], row[1], row[2]


async def pile_totals(engine: AsyncEngine, station_id: str | None = None) -> tuple[int, int]:
    """(piles, online piles)."""
    q = select(func.count(), func.sum(case((piles.c.online, 1), else_=0)))
    if station_id is not None:
        q = q.where(piles.c.station_id == station_id)
    async with engine.connect() as conn:
        n, o = (await conn.execute(q)).one()
    return n, int(o or 0)


async def completions(
    engine: AsyncEngine, from_ms: int, to_ms: int, pile_id: str | None = None
) -> list[dict[str, Any]]:
    """Completed charges (bills received in [from, to)) per pile, aggregated in SQL."""
    b = bills
    station = func.coalesce(piles.c.station_id, literal(NONE_LABEL)).label("station")
    q = (
        select(
            b.c.pile_id,
            station,
            func.count().label("charges"),
            func.sum(case((b.c.anomaly_codes != "", 1), else_=0)).label("with_anomalies"),
            func.sum(b.c.energy_dwh).label("energy_dwh"),
            func.sum(b.c.total_amount_fen).label("total_amount_fen"),
            func.sum(b.c.our_total_fen).label("our_total_fen"),
            func.min(b.c.received_ms).label("first_ms"),
            func.max(b.c.received_ms).label("last_ms"),
        )
        .select_from(b.outerjoin(piles, piles.c.id == b.c.pile_id))
        .where(b.c.received_ms >= from_ms, b.c.received_ms < to_ms)
        .group_by(b.c.pile_id, station)
        .order_by(b.c.pile_id)
    )
    if pile_id is not None:
        q = q.where(b.c.pile_id == pile_id)
    async with engine.connect() as conn:
        # str(k): column keys are quoted_name (a str subclass), not plain str
        rows = [{str(k): v for k, v in r.items()} for r in (await conn.execute(q)).mappings()]
    for r in rows:
        for k in ("with_anomalies", "energy_dwh", "total_amount_fen", "our_total_fen"):
            r[k] = int(r[k] or 0)
    return rows


# --- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS: tuple[str, ...] = tuple(c.name for c in bills.c)


async def stream_bills(
    engine: AsyncEngine,
    from_ms: int,
    to_ms: int,
    *,
    pile_id: str | None = None,
    columns: Sequence[str] = EXPORT_COLUMNS,
    chunk: int = 5000,
) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
    """Bills received in [from, to), in (received_ms, id) order, as chunks of row tuples.
    PostgreSQL: one server-side cursor (yield_per); SQLite: keyset pages, each read in its
    own short transaction (no long-lived read snapshot holding the WAL)."""
    b = bills
    cols = [b.c[c] for c in columns]
    base = select(*cols).where(b.c.received_ms >= from_ms, b.c.received_ms < to_ms)
    if pile_id is not None:
        base = base.where(b.c.pile_id == pile_id)
    if engine.dialect.name == "postgresql":
        q = base.order_by(b.c.received_ms, b.c.id).execution_options(yield_per=chunk)
        async with engine.connect() as conn:
            result = await conn.stream(q)
            async for part in result.partitions(chunk):
                yield [tuple(r) for r in part]
        return
    extra = base.add_columns(b.c.received_ms.label("_k_at"), b.c.id.label("_k_id"))
    after: tuple[int, str] | None = None
    n = len(cols)
    while True:
        q = extra
        if after is not None:
            q = q.where(
                or_(
                    b.c.received_ms > after[0],
                    and_(b.c.received_ms == after[0], b.c.id > after[1]),
                )
            )
        async with engine.connect() as conn:
            rows = (await conn.execute(q.order_by(b.c.received_ms, b.c.id).limit(chunk))).all()
        if not rows:
            return
        yield [tuple(r[:n]) for r in rows]
        if len(rows) < chunk:
            return
        after = (rows[-1][n], rows[-1][n + 1])


# --- the web console ------------------------------------------------------------------------


async def list_accounts(engine: AsyncEngine, limit: int = MAX_PAGE) -> list[dict[str, Any]]:
    """Accounts without their password hash (only whether one is set)."""
    a = accounts
    q = select(
        a.c.id, a.c.card_token, a.c.vin, a.c.balance_fen, a.c.enabled, a.c.created_ms,
        a.c.password_hash.is_not(None).label("has_password"),
    ).order_by(a.c.id).limit(_limit(limit))  # fmt: skip
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(q)).mappings()]
    for r in rows:
        r["enabled"], r["has_password"] = bool(r["enabled"]), bool(r["has_password"])
    return rows


async def list_stations(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Stations with their pile counts (their idle-fee rules: Storage.idle_rules)."""
    counts = (
        select(piles.c.station_id, func.count().label("piles"))
        .group_by(piles.c.station_id)
        .subquery()
    )
    q = (
        select(stations.c.id, stations.c.name, func.coalesce(counts.c.piles, 0).label("piles"))
        .select_from(stations.outerjoin(counts, counts.c.station_id == stations.c.id))
        .order_by(stations.c.id)
    )
    async with engine.connect() as conn:
        return [dict(x) for x in (await conn.execute(q)).mappings()]


async def list_alarms(
    engine: AsyncEngine,
    *,
    pile_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """Anomaly rows raised by alarms (kind "alarm:<kind>"), newest first."""
    a = anomalies
    q = select(a).where(a.c.kind.like("alarm:%"))
    for col, value in ((a.c.pile_id, pile_id), (a.c.status, status)):
        if value is not None:
            q = q.where(col == value)
    return await _page(engine, q, a.c.created_ms, a.c.id, limit, cursor)


async def session_with_transitions(engine: AsyncEngine, session_id: str) -> dict[str, Any] | None:
    """One stored session, its transitions in order and the id of its bill if any."""
    t = session_transitions
    async with engine.connect() as conn:
        row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        if row is None:
            return None
        out = dict(row._mapping)
        steps = await conn.execute(
            select(t.c.from_state, t.c.to_state, t.c.reason, t.c.at_ms)
            .where(t.c.session_id == session_id)
            .order_by(t.c.id)
        )
        out["transitions"] = [dict(x) for x in steps.mappings()]
        bill = await conn.execute(
            select(bills.c.id).where(
                bills.c.pile_id == out["pile_id"], bills.c.transaction_id == out["transaction_id"]
            )
        )
        out["bill_id"] = bill.scalar()
    out["flags"] = orjson.loads(out["flags"])
    return out
