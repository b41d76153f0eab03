"""Operator reports and exports (CLI `pilegate report ...`/`export ...` and the admin API).

Reports aggregate in SQL (gateway/storage/queries.py) and only combine the grouped rows
here; exports stream rows as they come. Nothing loads a month of bills into memory (field
case 10). Times: reports select bills by the gateway's receive time (`received_ms`); dates
without a zone are local time at `utc_offset_minutes` (default UTC+8, as the tariffs).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TextIO

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage import queries

DEFAULT_UTC_OFFSET_MINUTES = 480
FORMATS = ("table", "csv", "json")
CODES = tuple(range(1, 12))

# --- times ----------------------------------------------------------------------------------


def parse_time(
    text: str | int | None,
    *,
    end: bool = False,
    utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES,
) -> int | None:
    """Epoch ms from epoch ms, an ISO date or an ISO date-time. A bare date is local
    midnight; with end=True a bare date means the end of that day (the next midnight), so
    `--from 2020-01-01 --to 2020-01-31` covers all of January."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    s = text.strip()
    if s.lstrip("-").isdigit() and len(s) > 8:
        return int(s)
    tz = timezone(timedelta(minutes=utc_offset_minutes))
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            dt = datetime(d.year, d.month, d.day, tzinfo=tz)
            if end:
                dt += timedelta(days=1)
        else:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
    except ValueError:
        raise ValueError(f"not a date, date-time or epoch ms: {text!r}") from None
    return int(dt.timestamp() * 1000)


def format_ms(ms: int | None, utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES) -> str:
    if ms is None:
        return ""
    tz = timezone(timedelta(minutes=utc_offset_minutes))
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)
    return dt.isoformat(timespec="milliseconds")


# --- output ---------------------------------------------------------------------------------


# Columns ending in _ms that are lengths of time, not instants: shown as durations.
DURATION_COLUMNS = frozenset({"idle_ms", "duration_ms", "idle_duration_ms"})
# Columns where 0 means "since ever" (a tariff effective from the beginning).
ALWAYS_AT_ZERO = frozenset({"effective_from_ms"})


def format_duration(ms: int) -> str:
    """17 min, 1 h 05 min, 2 h 00 min 30 s, 45 s, 0.250 s: what an operator reads."""
    if ms < 1000:
        return f"{ms / 1000:.3f} s"
    total_s, rest_ms = divmod(ms, 1000)
    h, rem = divmod(total_s, 3600)
    m, s = divmod(rem, 60)
    parts = []
    if h:
        parts.append(f"{h} h")
    if m or (h and s):
        parts.append(f"{m:02d} min" if h else f"{m} min")
    if s or rest_ms or not parts:
        parts.append(f"{s + rest_ms / 1000:g} s")
    return " ".join(parts)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if column in DURATION_COLUMNS and isinstance(value, int):
        return format_duration(value)
    if column in ALWAYS_AT_ZERO and value == 0:
        return "always"
    if column.endswith("_ms") and isinstance(value, int):
        return format_ms(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    fmt: str = "table",
    out: TextIO | None = None,
) -> None:
    """Write rows as an aligned table (times as local ISO), CSV (raw values) or JSON."""
    out = sys.stdout if out is None else out
    if columns is None:
        columns = list(rows[0]) if rows else []
    if fmt == "json":
        data = [{str(c): r.get(c) for c in columns} for r in rows]
        # Column names from SQLAlchemy rows are str subclasses (quoted_name) that orjson
        # refuses as dict keys unless told to accept non-str keys.
        opts = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        out.write(orjson.dumps(data, default=_json_default, option=opts).decode())
        out.write("\n")
        return
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(
                [
                    ",".join(map(str, v)) if isinstance(v, list | tuple) else v
                    for v in (r.get(c) for c in columns)
                ]
            )
        return
    if fmt != "table":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    cells = [[_cell(r.get(c), c) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows) and bool(rows)
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(list(columns)) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    if not rows:
        out.write("(no rows)\n")


# --- anomaly report -------------------------------------------------------------------------


def combo_label(codes: str) -> str:
    """ "9,10" -> "9+10"."""
    return "+".join(c for c in codes.split(",") if c)


def _combo_key(label: str) -> tuple[int, ...]:
    return tuple(int(x) for x in label.split("+"))


async def anomaly_report(
    engine: AsyncEngine, from_ms: int, to_ms: int, by: str = "channel"
) -> dict[str, Any]:
    """The operator's monthly table: per value of `by` (channel, firmware, station, pile):
    successful charges (bills stored), lost bills (codes 1/2), the count of each anomaly
    code 1..11 and of each combination of two or more codes on one bill ("9+10").
    Firmware is the version the pile reported when the bill arrived (firmware history)."""
    combos = await queries.anomaly_combinations(engine, from_ms, to_ms, by)
    lost = await queries.lost_bill_counts(engine, from_ms, to_ms, by)
    groups: dict[str, dict[str, Any]] = {}

    def group(value: str) -> dict[str, Any]:
        g = groups.get(value)
        if g is None:
            g = groups[value] = {
                by: value,
                "bills": 0,
                "with_anomalies": 0,
                "lost": 0,
                **{str(c): 0 for c in CODES},
                "combinations": {},
            }
        return g

    for value, codes, n in combos:
        g = group(value)
        g["bills"] += n
        present = [c for c in codes.split(",") if c]
        if present:
            g["with_anomalies"] += n
        for c in present:
            g[c] = g.get(c, 0) + n
        if len(present) > 1:
            label = combo_label(codes)
            g["combinations"][label] = g["combinations"].get(label, 0) + n
    for value, code, n in lost:
        g = group(value)
        g["lost"] += n
        g[str(code)] += n
    labels = sorted({k for g in groups.values() for k in g["combinations"]}, key=_combo_key)
    rows = []
    total: dict[str, Any] = {by: "TOTAL", "bills": 0, "with_anomalies": 0, "lost": 0}
    total.update({str(c): 0 for c in CODES})
    total.update(dict.fromkeys(labels, 0))
    for value in sorted(groups):
        g = groups[value]
        row = {k: v for k, v in g.items() if k != "combinations"}
        for label in labels:
            row[label] = g["combinations"].get(label, 0)
        for k in total:
            if k != by:
                total[k] += row[k]
        rows.append(row)
    for row in [*rows, total]:
        services = row["bills"] + row["lost"]
        row["lost_pct"] = round(100.0 * row["lost"] / services, 2) if services else 0.0
    columns = [by, "bills", "lost", "lost_pct", "with_anomalies", *map(str, CODES), *labels]
    return {
        "by": by,
        "from_ms": from_ms,
        "to_ms": to_ms,
        "columns": columns,
        "combinations": labels,
        "rows": rows,
        "total": total,
    }


def anomaly_report_columns(report: Mapping[str, Any], *, compact: bool = False) -> list[str]:
    """compact: drop code columns that are zero everywhere (for a readable terminal table)."""
    columns = list(report["columns"])
    if compact:
        total = report["total"]
        columns = [c for c in columns if not (c.isdigit() and total.get(c, 0) == 0)]
    return columns


# --- firmware report ------------------------------------------------------------------------


async def firmware_report(
    engine: AsyncEngine, expected: str, *, station_id: str | None = None, list_piles: bool = False
) -> dict[str, Any]:
    """Piles not on `expected`, counted by firmware version and station (field case 5)."""
    rows: list[dict[str, Any]] = [
        {"firmware": f, "station": s, "piles": n, "online": o}
        for f, s, n, o in await queries.firmware_counts(engine, expected, station_id)
    ]
    if list_piles:
        ids: dict[tuple[str, str], list[str]] = {}
        async for f, s, p in queries.firmware_piles(engine, expected, station_id):
            ids.setdefault((f, s), []).append(p)
        for r in rows:
            r["pile_ids"] = ids.get((r["firmware"], r["station"]), [])
    total, online = await queries.pile_totals(engine, station_id)
    behind = sum(r["piles"] for r in rows)
    return {
        "expected": expected,
        "piles": total,
        "online": online,
        "on_expected": total - behind,
        "not_on_expected": behind,
        "rows": rows,
    }


# --- completions ----------------------------------------------------------------------------


async def completions_report(
    engine: AsyncEngine, from_ms: int, to_ms: int, *, pile_id: str | None = None
) -> dict[str, Any]:
    rows = await queries.completions(engine, from_ms, to_ms, pile_id)
    for r in rows:
        r["energy_kwh"] = round(r["energy_dwh"] / 10_000, 4)
    total = {
        "pile_id": "TOTAL",
        "station": "",
        "charges": sum(r["charges"] for r in rows),
        "with_anomalies": sum(r["with_anomalies"] for r in rows),
        "energy_dwh": sum(r["energy_dwh"] for r in rows),
        "total_amount_fen": sum(r["total_amount_fen"] for r in rows),
        "our_total_fen": sum(r["our_total_fen"] for r in rows),
    }
    total["energy_kwh"] = round(total["energy_dwh"] / 10_000, 4)
    return {"from_ms": from_ms, "to_ms": to_ms, "rows": rows, "total": total}


COMPLETION_COLUMNS = (
    "pile_id", "station", "charges", "with_anomalies", "energy_kwh", "total_amount_fen",
    "our_total_fen", "first_ms", "last_ms",
)  # fmt: skip


# --- export ---------------------------------------------------------------------------------


#: Appended to every bill export: the bill's latest correction, empty when it has none.
CORRECTION_EXPORT_COLUMNS = (
    "corrected_energy_dwh", "corrected_total_fen", "refund_fen", "corrected_at_ms",
    "corrected_by",
)  # fmt: skip


def csv_cell(value: Any, column: str, utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES) -> Any:
    """A plain CSV value: instants as ISO-8601 in the operator's time zone, booleans as
    true/false, lists as `a;b`, nothing as an empty cell; numbers and text as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column == "flags" and isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if column.endswith("_ms") and column not in DURATION_COLUMNS and isinstance(value, int):
        try:
            return format_ms(value, utc_offset_minutes)
        except (OverflowError, OSError, ValueError):  # a pile's impossible time: as sent
            return value
    return value


async def _latest_corrections(engine: AsyncEngine, bill_ids: Sequence[str]) -> dict[str, Any]:
    from sqlalchemy import select

    from gateway.storage.schema import bill_corrections as c

    if not bill_ids:
        return {}
    q = (
        select(c.c.bill_id, c.c.corrected_energy_dwh, c.c.corrected_total_fen, c.c.refund_fen,
               c.c.at_ms, c.c.who)
        .where(c.c.bill_id.in_(list(bill_ids)))
        .order_by(c.c.id)
    )  # fmt: skip
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return {r[0]: tuple(r[1:]) for r in rows}  # the last one of each bill wins


async def export_bills_csv(
    engine: AsyncEngine,
    from_ms: int,
    to_ms: int,
    *,
    pile_id: str | None = None,
    columns: Sequence[str] = queries.EXPORT_COLUMNS,
    chunk: int = 5000,
    utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES,
) -> AsyncIterator[str]:
    """CSV text chunks (header first): one chunk per database chunk, in constant memory.
    Values are plain (csv_cell); the bill's latest correction follows its columns."""
    with_corrections = "id" in columns
    header = [*columns, *(CORRECTION_EXPORT_COLUMNS if with_corrections else ())]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    yield buf.getvalue()
    id_at = list(columns).index("id") if with_corrections else -1
    async for rows in queries.stream_bills(
        engine, from_ms, to_ms, pile_id=pile_id, columns=columns, chunk=chunk
    ):
        fixes = await _latest_corrections(engine, [r[id_at] for r in rows]) if id_at >= 0 else {}
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for r in rows:
            cells = [
                csv_cell(v, col, utc_offset_minutes) for v, col in zip(r, columns, strict=True)
            ]
            if with_corrections:
                fix = fixes.get(r[id_at])
                extra = fix if fix is not None else (None,) * len(CORRECTION_EXPORT_COLUMNS)
                cells += [
                    csv_cell(v, col, utc_offset_minutes)
                    for v, col in zip(extra, CORRECTION_EXPORT_COLUMNS, strict=True)
                ]
            w.writerow(cells)
        yield buf.getvalue()


async def write_export(chunks: AsyncIterator[str], out: TextIO) -> int:
    """Write chunks as they come; returns the number of data rows written."""
    lines = 0
    async for text in chunks:
        out.write(text)
        lines += text.count("\n")
    out.flush()
    return max(0, lines - 1)


# --- frames (field case 9) ------------------------------------------------------------------


def frame_rows(
    entries: Iterable[Any], describe: Callable[[str, Mapping[str, Any]], str]
) -> Iterable[dict[str, Any]]:
    """Journal entries as report rows; `describe` puts a frame in words (its dialect's)."""
    for e in entries:
        yield {
            "id": e.id,
            "at_ms": e.at_ms,
            "pile_id": e.pile_id,
            "direction": e.direction,
            "seq": e.seq,
            "type": e.type_name,
            "gun": e.gun,
            "transaction_id": e.transaction_id,
            "meaning": describe(e.type_name, e.fields),
            "fields": dict(e.fields),
        }


FRAME_COLUMNS = ("at_ms", "direction", "seq", "type", "gun", "transaction_id", "meaning")


LOGINS = ("LOGIN", "YKC_LOGIN")
HEARTBEATS = ("HEARTBEAT", "HEARTBEAT_ACK", "YKC_HEARTBEAT", "YKC_HEARTBEAT_REPLY")


def bill_frame_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Field case 9: the login time, whether a logout was received, the completion (bill)."""

    def first(type_name: str, direction: str = "in") -> Any:
        return next(
            (r["at_ms"] for r in rows if r["type"] == type_name and r["direction"] == direction),
            None,
        )

    login = [r["at_ms"] for r in rows if r["type"] in LOGINS and r["direction"] == "in"]
    bill = first("BILL") or first("YKC_BILL") or first("YKC_BILL_V17")
    logout = first("LOGOUT")
    return {
        "login_ms": login[-1] if login else None,
        "logout_ms": logout,
        "logout_received": logout is not None and (bill is None or logout <= bill),
        "bill_ms": bill,
        "bill_ack_ms": first("BILL_ACK", "out") or first("YKC_BILL_CONFIRM", "out"),
    }
