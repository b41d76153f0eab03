"""The operator's commands of `pilegate` (registered by gateway.cli.build_parser).

Commands that act on the running gateway go through its admin API over HTTP
(`--admin URL`, default $PILEGATE_ADMIN_URL or http://127.0.0.1:8406; `--token`, default
$PILEGATE_ADMIN_TOKEN):

    piles | sessions [--live] | start PILE GUN --account A [--channel C] | stop PILE GUN
    enable PILE | disable PILE | time-sync PILE | tariff show PILE
    tariff set PILE --id ID --price KIND=ENERGY[/SERVICE] ... --segment HH:MM=KIND ...
    tariff set-default --id ID --price KIND=ENERGY[/SERVICE] ... [--segment HH:MM=KIND ...]
    idle-fee show [PILE] | idle-fee set (--pile P | --station S | --default)
                                        --grace MIN --rate FEN [--cap FEN]

A pile id is 16 or 20 decimal digits (16 are padded to 20, as on the wire), or a YKC pile's
14 digits; anything else is refused before anything is stored or sent. Enable, disable, tariff
and idle-fee changes for a pile that is not connected print `stored` (exit 0): the pile gets
them at its next login.

Commands that read or correct stored data go straight to the database (`--config FILE`,
`--database URL`, $PILEGATE_DATABASE_URL; default the embedded SQLite file):

    bills [--since] [--until] [--pile] [--anomaly CODE] | bills show BILL_ID
    bills correct BILL_ID --energy KWH --reason TEXT [--who NAME]
    frames [--pile P] [--bill B] [--transaction T] [--gun G] [--from T] [--to T]
    piles add PILE_ID [--station S] [--guns N] [--secret HEX|generate]
    piles import FILE                                     (CSV or JSON, all rows or none)
    piles secret PILE_ID [--set HEX] [--grace SECONDS] | --status | --clear
    piles sources PILE_ID [ADDRESS|NETWORK ...] | --clear  (a YKC pile's source allow-list)
    accounts add ACCOUNT [--card T] [--password P] [--balance FEN]
    accounts import FILE                                  (CSV or JSON, all rows or none)
    report anomalies (--from D --to D | --month YYYY-MM) [--by channel|firmware|station|pile]
    report firmware --expected VERSION [--station S] [--list]
    report completions (--from D --to D | --month YYYY-MM) [--pile P]
    export bills (--from D --to D | --month YYYY-MM) [--output FILE]   (CSV, streamed)

Listings print a table by default, `--format csv|json` otherwise. Times: epoch ms, ISO date
(local midnight, UTC+8; as --to the whole day is included) or ISO date-time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway import reports
from gateway.config import DEFAULT_GRACE_S
from protocol.error_root import PilegateError

DEFAULT_ADMIN_URL = "http://127.0.0.1:8406"
PERIODS = ("sharp", "peak", "flat", "valley")


class OperatorError(PilegateError):
    """A failure to report in one line (exit status 1)."""


# --- plumbing -------------------------------------------------------------------------------


def pile_arg(text: str) -> str:
    """argparse type of every pile argument: the pile id in canonical form (20 digits)."""
    from protocol.pile_ids import PileIdError, normalize_pile_id

    try:
        return normalize_pile_id(text)
    except PileIdError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fmt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=reports.FORMATS, default="table", help="output format")


def _api(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--admin",
        metavar="URL",
        default=os.environ.get("PILEGATE_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="admin API of the running gateway (env PILEGATE_ADMIN_URL)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("PILEGATE_ADMIN_TOKEN", ""),
        help="admin API bearer token (env PILEGATE_ADMIN_TOKEN)",
    )


PILE_HELP = "pile id: 16 or 20 digits (16 are padded to 20)"
SEGMENT_HELP = (
    "day table: period KIND from HH:MM on; repeat (default 00:00=flat); every period it "
    "uses needs a --price"
)
FROM_HELP = "from this time on: epoch ms, ISO date (local midnight) or ISO date-time"
TO_HELP = "up to this time (exclusive; an ISO date includes that whole day)"


def _month_or_range(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="from_", metavar="TIME", help=FROM_HELP)
    p.add_argument("--to", metavar="TIME", help=TO_HELP)
    p.add_argument(
        "--month", metavar="YYYY-MM", help="a whole calendar month (local time), for --from/--to"
    )


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML file (default config/gateway.toml)")
    p.add_argument("--database", metavar="URL", help="database URL (overrides the config)")


def _handler(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except OperatorError as exc:
            print(f"pilegate: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"pilegate: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # `pilegate export ... | head`
            return 0

    return run


def _when(text: str | None, *, end: bool = False) -> int | None:
    return reports.parse_time(text, end=end)


def _out(args: argparse.Namespace) -> Any:
    return sys.stdout


# --- HTTP -----------------------------------------------------------------------------------


def request(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """JSON over HTTP to the admin API; raises OperatorError with the API's detail."""
    url = args.admin.rstrip("/") + path
    if params:
        query = {k: v for k, v in params.items() if v is not None and v is not False}
        if query:
            url += "?" + urllib.parse.urlencode(query)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("detail", detail)
        raise OperatorError(f"admin API {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise OperatorError(f"cannot reach the admin API at {args.admin}: {exc.reason}") from None


def _print_result(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.format == "table":
        line = f"{result['outcome']}"
        if result.get("reason"):
            line += f": {result['reason']}"
        if result.get("transaction_id"):
            line += f" (transaction {result['transaction_id']})"
        print(line)
    else:
        reports.render([result], list(result), args.format, _out(args))
    return 0 if result.get("outcome") in ("accepted", "stored") else 1


# --- database -------------------------------------------------------------------------------


@asynccontextmanager
async def open_storage(args: argparse.Namespace) -> AsyncIterator[Any]:
    from gateway.config import ConfigError, load_config
    from gateway.storage import SchemaOutOfDate, Storage

    url = getattr(args, "database", None)
    if not url:
        try:
            url = load_config(getattr(args, "config", None)).database.url or None
        except ConfigError as exc:
            raise OperatorError(str(exc)) from None
    from gateway.storage.engine import connect_failure, display_url, resolve_url, url_problem

    if url and (problem := url_problem(url)):
        raise OperatorError(problem.replace("database.url", "--database"))
    try:
        storage = await Storage.open(url)
    except SchemaOutOfDate as exc:
        raise OperatorError(str(exc)) from None
    except Exception as exc:
        line = connect_failure(resolve_url(url), exc)
        if line is None:
            raise
        raise OperatorError(line) from None
    # Say which database this command reads: a database-side command does not go through a
    # gateway's admin API, so an old SQLite file can differ from what a running gateway shows.
    print(f"pilegate: database {display_url(resolve_url(url))}", file=sys.stderr)
    try:
        yield storage
    finally:
        await storage.close()


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


# --- piles and sessions (API) ---------------------------------------------------------------


def _guns_text(guns: dict[str, Any]) -> str:
    parts = []
    for gun, g in sorted(guns.items(), key=lambda kv: int(kv[0])):
        s = g.get("session")
        text = f"{gun}:{g.get('availability', '?')}"
        if s:
            text += f"/{s['phase']}"
        parts.append(text)
    return " ".join(parts)


def _protocol_text(pile: dict[str, Any]) -> str:
    """"ykc 1.6 high_first" for a YKC pile (version, CRC byte order), "" otherwise."""
    ykc = pile.get("ykc")
    if not ykc:
        return ""
    return f"ykc {(ykc.get('protocol_version') or 0) / 10:.1f} {ykc.get('crc_order') or ''}".strip()


def cmd_piles(args: argparse.Namespace) -> int:
    piles = request(args, "GET", "/piles")
    rows = []
    for p in piles:
        live = [
            # Whole: the ids are time-ordered (UUIDv7), so any prefix is alike for all.
            f"{gun}:{g['session']['phase']}:{g['session']['transaction_id']}"
            for gun, g in sorted(p.get("guns", {}).items())
            if g.get("session")
        ]
        rows.append(
            {
                "pile_id": p["pile_id"],
                "station_id": p.get("station_id"),
                "firmware": p.get("firmware"),
                "protocol": _protocol_text(p),
                "online": p.get("online"),
                "enabled": p.get("enabled"),
                "guns": _guns_text(p.get("guns", {})) or p.get("gun_count"),
                "sessions": " ".join(live),
                "last_seen_ms": p.get("last_seen_ms"),
            }
        )
    reports.render(rows, None if rows else ["pile_id"], args.format, _out(args))
    return 0


SESSION_COLUMNS = (
    "updated_ms", "pile_id", "gun", "transaction_id", "account", "channel", "state",
    "charge_start_ms", "charge_end_ms", "observed_energy_dwh", "flags",
)  # fmt: skip


def cmd_sessions(args: argparse.Namespace) -> int:
    if args.live:
        rows = request(args, "GET", "/sessions/live")
        if args.pile:
            rows = [r for r in rows if r.get("pile_id") == args.pile]
        if args.account:
            rows = [r for r in rows if r.get("account") == args.account]
        if args.state:
            rows = [r for r in rows if r.get("phase") == args.state]
        cols = ["pile_id", "gun", "transaction_id", "phase", "account", "since_ms"]
        reports.render(rows, cols, args.format, _out(args))
        return 0
    page = request(
        args,
        "GET",
        "/sessions",
        params={
            "pile": args.pile,
            "state": args.state,
            "account": args.account,
            "since": args.since,
            "limit": args.limit,
        },
    )
    reports.render(page["items"], SESSION_COLUMNS, args.format, _out(args))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    body = {"gun": args.gun, "account": args.account, "channel": args.channel}
    return _print_result(args, request(args, "POST", f"/piles/{_q(args.pile)}/start", body))


def cmd_stop(args: argparse.Namespace) -> int:
    return _print_result(
        args, request(args, "POST", f"/piles/{_q(args.pile)}/stop", {"gun": args.gun})
    )


def cmd_enable(args: argparse.Namespace) -> int:
    action = "enable" if args.command == "enable" else "disable"
    return _print_result(args, request(args, "POST", f"/piles/{_q(args.pile)}/{action}"))


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _tariff_rows(t: dict[str, Any], current: bool = False) -> list[dict[str, Any]]:
    rows = []
    for kind in PERIODS:
        p = t["prices"].get(kind, {})
        minutes = [m for m, k in t["segments"] if k == kind]
        rows.append(
            {
                "tariff_id": t["tariff_id"],
                "scope": f"{t['scope_kind']}:{t['scope_id']}",
                "effective_from_ms": t["effective_from_ms"],
                "set_ms": t.get("set_ms"),
                "current": current,
                "period": kind,
                "energy_cny_kwh": str(Decimal(p.get("energy_e4", 0)) / 10_000),
                "service_cny_kwh": str(Decimal(p.get("service_e4", 0)) / 10_000),
                "starts": " ".join(f"{m // 60:02d}:{m % 60:02d}" for m in minutes),
            }
        )
    return rows


def _same_assignment(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """One tariff id may be set on a scope more than once: match the very assignment."""
    keys = ("tariff_id", "scope_kind", "scope_id", "effective_from_ms", "set_ms")
    return all(a.get(k) == b.get(k) for k in keys)


def cmd_tariff_show(args: argparse.Namespace) -> int:
    shown = request(args, "GET", f"/piles/{_q(args.pile)}/tariff")
    if args.format == "json":
        reports.render([shown], list(shown), "json", _out(args))
        return 0
    rows = []
    cur = shown["current"]
    for t in shown["tariffs"]:
        rows += _tariff_rows(t, current=_same_assignment(t, cur))
    if not any(r["current"] for r in rows):
        rows += _tariff_rows(cur, current=True)
    reports.render(rows, None, args.format, _out(args))
    return 0


def _e4(text: str) -> int:
    try:
        value = Decimal(text) * 10_000
    except InvalidOperation:
        raise ValueError(f"not a price in CNY/kWh: {text!r}") from None
    if value != value.to_integral_value() or value < 0:
        raise ValueError(f"price must be >= 0 with at most 4 decimals: {text!r}")
    return int(value)


def segment_arg(item: str) -> list[Any]:
    """--segment HH:MM=KIND: [minute of the day, kind]; a clear message otherwise."""
    import re

    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*=\s*([A-Za-z]+)\s*", item)
    if m is None:
        raise ValueError(f"--segment wants HH:MM=KIND (e.g. 08:00=peak), got {item}")
    hh, mm, kind = int(m.group(1)), int(m.group(2)), m.group(3).lower()
    if hh > 23 or mm > 59:
        raise ValueError(f"--segment {item}: the time must be 00:00..23:59")
    if kind not in PERIODS:
        raise ValueError(f"--segment {item}: KIND must be one of {', '.join(PERIODS)}")
    return [hh * 60 + mm, kind]


def tariff_body(args: argparse.Namespace) -> dict[str, Any]:
    """--price KIND=ENERGY[/SERVICE] (CNY/kWh), --segment HH:MM=KIND (default 00:00=flat).
    Every period the day table uses needs its price; periods it never enters get the flat
    price, else that of the first one it uses (the pile's frame carries four; never charged)."""
    prices: dict[str, dict[str, int]] = {}
    for item in args.price:
        kind, sep, value = item.partition("=")
        kind = kind.strip().lower()
        if not sep or kind not in PERIODS:
            raise ValueError(
                f"--price wants KIND=ENERGY[/SERVICE] with KIND one of {', '.join(PERIODS)}, "
                f"got {item}"
            )
        energy, _, service = value.partition("/")
        prices[kind] = {"energy_e4": _e4(energy), "service_e4": _e4(service or "0")}
    if not prices:
        raise ValueError("give at least one --price")
    segments = [segment_arg(item) for item in args.segment or ["00:00=flat"]]
    segments.sort()
    used = {kind for _, kind in segments}
    unpriced = [k for k in PERIODS if k in used and k not in prices]
    if unpriced:
        table = "the day table" if args.segment else "the default day table (00:00=flat)"
        raise ValueError(
            f"{table} uses {', '.join(unpriced)} but no --price "
            + " ".join(f"{k}=ENERGY[/SERVICE]" for k in unpriced)
            + " was given"
        )
    # The pile's tariff frame carries four prices; a period the day table never enters is
    # never charged, so it gets the flat price (or that of the first period the table uses).
    fallback = prices.get("flat") or prices[next(k for k in PERIODS if k in used)]
    for kind in PERIODS:
        prices.setdefault(kind, dict(fallback))
    body: dict[str, Any] = {
        "tariff_id": args.id,
        "scope_kind": args.scope,
        "effective_from_ms": _when(args.effective) or 0,
        "prices": prices,
        "segments": segments,
        "utc_offset_minutes": args.utc_offset,
    }
    if args.scope_id:
        body["scope_id"] = args.scope_id
    return body


def cmd_time_sync(args: argparse.Namespace) -> int:
    return _print_result(args, request(args, "POST", f"/piles/{_q(args.pile)}/time_sync"))


def cmd_tariff_set_default(args: argparse.Namespace) -> int:
    body = tariff_body(args)
    body["scope_kind"] = "default"
    result = request(args, "PUT", "/tariffs/default", body)
    return _print_fanout(args, result, f"default tariff {result['tariff']['tariff_id']} stored")


def _print_fanout(args: argparse.Namespace, result: dict[str, Any], what: str) -> int:
    """A change stored for many piles, and what each connected pile it applies to said."""
    if args.format == "table":
        piles = result.get("piles", {})
        sent = ", ".join(f"{p}: {r['outcome']}" for p, r in sorted(piles.items()))
        print(f"{what}; sent to {sent}" if sent else f"{what}; no connected pile uses it now")
    else:
        reports.render([result], list(result), args.format, _out(args))
    return 0 if result.get("outcome") in ("accepted", "stored") else 1


IDLE_FEE_COLUMNS = ("scope_kind", "scope_id", "grace_minutes", "rate_fen_per_minute", "cap_fen")


def cmd_idle_fee_show(args: argparse.Namespace) -> int:
    if args.pile:
        rows = [request(args, "GET", f"/piles/{_q(args.pile)}/idle-fee")]
        cols = ["pile_id", *IDLE_FEE_COLUMNS, "builtin"]
    else:
        rows, cols = request(args, "GET", "/idle-fee"), list(IDLE_FEE_COLUMNS)
    reports.render(rows, cols, args.format, _out(args))
    return 0


def cmd_idle_fee_set(args: argparse.Namespace) -> int:
    if args.grace < 0 or args.rate < 0 or (args.cap is not None and args.cap < 0):
        raise ValueError("--grace, --rate and --cap must be >= 0")
    body = {"grace_minutes": args.grace, "rate_fen_per_minute": args.rate, "cap_fen": args.cap}
    if args.pile:
        result = request(args, "PUT", f"/idle-fee/piles/{_q(args.pile)}", body)
        if args.format == "table":
            sent = "" if result["outcome"] == "stored" else "sent to the pile: "
            print(f"idle-fee rule of pile {args.pile} stored; {sent}", end="")
        return _print_result(args, result)
    if args.station:
        path, what = f"/idle-fee/stations/{_q(args.station)}", f"station {args.station}"
    else:
        path, what = "/idle-fee/default", "the default"
    return _print_fanout(args, request(args, "PUT", path, body), f"idle-fee rule of {what} stored")


def cmd_tariff_set(args: argparse.Namespace) -> int:
    result = request(args, "PUT", f"/piles/{_q(args.pile)}/tariff", tariff_body(args))
    if args.format == "table":
        sent = "" if result["outcome"] == "stored" else "sent to the pile: "
        print(f"tariff {result['tariff']['tariff_id']} stored; {sent}", end="")
    return _print_result(args, result)


# --- bills, corrections, frames (database) --------------------------------------------------


def cmd_bills(args: argparse.Namespace) -> int:
    from gateway.storage import queries

    async def go() -> int:
        async with open_storage(args) as storage:
            page = await queries.list_bills(
                storage.reader,
                since_ms=_when(args.since),
                until_ms=_when(args.until, end=True),
                pile_id=args.pile,
                anomaly=args.anomaly,
                status=args.status,
                limit=args.limit,
            )
        rows = page.rows
        for r in rows:
            r["energy_kwh"] = r["energy_dwh"] / 10_000
        cols = [
            "id", "received_ms", "pile_id", "gun", "transaction_id", "channel", "account",
            "energy_kwh", "total_amount_fen", "our_total_fen", "anomaly_codes", "status",
        ]  # fmt: skip
        if args.format != "table":
            cols = [*queries.BILL_LIST_COLUMNS, "energy_kwh"]
        reports.render(rows, cols, args.format, _out(args))
        if page.next_cursor and args.format == "table":
            print(f"(more: raise --limit above {args.limit})", file=sys.stderr)
        return 0

    return _run(go())


def cmd_bill_show(args: argparse.Namespace) -> int:
    from gateway.storage import queries

    async def go() -> int:
        async with open_storage(args) as storage:
            bill = await queries.get_bill(storage.reader, args.bill_id)
        if bill is None:
            raise OperatorError(f"no bill {args.bill_id}")
        if args.format == "table":
            corrections = bill.pop("corrections")
            rows = [{"field": k, "value": reports._cell(v, k)} for k, v in bill.items()]
            reports.render(rows, ["field", "value"], "table", _out(args))
            if corrections:
                print()
                reports.render(corrections, CORRECTION_COLUMNS, "table", _out(args))
        else:
            reports.render([bill], list(bill), args.format, _out(args))
        return 0

    return _run(go())


CORRECTION_COLUMNS = (
    "id", "at_ms", "who", "reason", "tariff_id", "original_energy_dwh", "corrected_energy_dwh",
    "original_total_fen", "corrected_total_fen", "refund_fen",
)  # fmt: skip


def _kwh_to_dwh(text: str) -> int:
    try:
        value = Decimal(text) * 10_000
    except InvalidOperation:
        raise ValueError(f"--energy is kWh, got {text!r}") from None
    if value < 0 or value != value.to_integral_value():
        raise ValueError("--energy must be >= 0 kWh with at most 4 decimals (0.1 Wh)")
    return int(value)


def _max_power_kw(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError, LimitsConfig, load_config

    try:
        return load_config(getattr(args, "config", None)).limits.default_max_power_kw
    except ConfigError:
        return LimitsConfig().default_max_power_kw


def _mqtt_configured(args: argparse.Namespace) -> bool:
    from gateway.config import ConfigError, load_config

    try:
        return bool(load_config(getattr(args, "config", None)).mqtt.url)
    except ConfigError:
        return False


def cmd_bill_correct(args: argparse.Namespace) -> int:
    from gateway.app import wall_clock_ms
    from gateway.corrections import CorrectionRefused, UnknownBill, correct_bill
    from gateway.logs import TextAsBytes, configure_logging, get_logger
    from gateway.northbound.corrections import KIND

    energy = _kwh_to_dwh(args.energy)
    if not args.reason.strip():
        raise ValueError("--reason must not be empty")

    async def go() -> int:
        async with open_storage(args) as storage:
            try:
                done = await correct_bill(
                    storage, args.bill_id, energy, reason=args.reason, who=args.who,
                    at_ms=wall_clock_ms(), refund_from=args.refund_from, force=args.force,
                    max_power_kw=_max_power_kw(args), publish=_mqtt_configured(args),
                )  # fmt: skip
            except UnknownBill:
                raise OperatorError(f"no bill {args.bill_id}") from None
            except CorrectionRefused as exc:
                raise OperatorError(str(exc).replace("or force it", "or add --force")) from None
        # The gateway's JSON log line, on stderr: stdout is the operator's answer.
        configure_logging("info", TextAsBytes(sys.stderr))  # type: ignore[arg-type]  # duck-typed write/flush
        get_logger().info(KIND, pile=done.pile_id, **done.payload)
        p, pile_charged = done.payload, done.pile_charged_fen
        theirs, ours = p["pile_refund_fen"], p["pilegate_refund_fen"]
        row = {
            "bill_id": p["bill_id"],
            "correction_id": p["correction_id"],
            "tariff_id": p["tariff_id"],
            "old_energy_kwh": p["original_energy_dwh"] / 10_000,
            "new_energy_kwh": p["corrected_energy_dwh"] / 10_000,
            "old_total_fen": p["original_total_fen"],
            "new_total_fen": p["corrected_total_fen"],
            "pile_charged_fen": pile_charged,
            "refund_fen": p["refund_fen"],
            "refund_from": args.refund_from,
            "pile_refund_fen": theirs,
            "pilegate_refund_fen": ours,
            "who": args.who,
            "reason": args.reason,
        }
        if args.format == "table":
            print(f"bill {p['bill_id']} corrected (audit row {p['correction_id']}, by {args.who})")
            print(f"  energy  {row['old_energy_kwh']:.4f} kWh -> {row['new_energy_kwh']:.4f} kWh")
            print(
                f"  amount  {p['original_total_fen'] / 100:.2f} CNY -> "
                f"{p['corrected_total_fen'] / 100:.2f} CNY (energy + service, "
                f"tariff {p['tariff_id']})"
            )
            print(
                f"  the pile charged {pile_charged / 100:.2f} CNY: refund "
                f"{theirs / 100:.2f} CNY counted from the pile's amount, "
                f"{ours / 100:.2f} CNY from pilegate's"
            )
            verb = "refund" if p["refund_fen"] >= 0 else "charge extra"
            print(
                f"  {verb}  {abs(p['refund_fen']) / 100:.2f} CNY (from {args.refund_from}'s amount)"
            )
        else:
            reports.render([row], list(row), args.format, _out(args))
        return 0

    return _run(go())


def cmd_frames(args: argparse.Namespace) -> int:
    from gateway.adapters.narrate import describe_frame
    from gateway.storage import queries

    async def go() -> int:
        async with open_storage(args) as storage:
            pile, since, until = args.pile, _when(args.from_), _when(args.to, end=True)
            if args.bill:
                window = await queries.bill_frame_window(storage.reader, args.bill)
                if window is None:
                    raise OperatorError(f"no bill {args.bill}")
                pile = window["pile_id"]
                since = window["login_ms"] if window["login_ms"] is not None else window["first_ms"]
                until = window["last_ms"] + 1
            if pile is None and args.transaction is None and since is None:
                raise ValueError("give --pile, --bill, --transaction or --from")
            rows: list[dict[str, Any]] = []
            async for e in storage.frames(
                pile, transaction_id=args.transaction, gun=args.gun, since_ms=since,
                until_ms=until,
            ):  # fmt: skip
                if not args.heartbeats and e.type_name in reports.HEARTBEATS:
                    continue
                rows.extend(reports.frame_rows([e], describe_frame))
        cols = list(reports.FRAME_COLUMNS)
        if args.format != "table":
            cols = ["id", *cols, "pile_id", "fields"]
        if args.bill and args.format == "json":
            out = {"frames": rows, "summary": reports.bill_frame_summary(rows)}
            reports.render([out], ["frames", "summary"], "json", _out(args))
            return 0
        reports.render(rows, cols, args.format, _out(args))
        if args.bill and args.format == "table":
            s = reports.bill_frame_summary(rows)
            print()
            print(f"login:      {reports.format_ms(s['login_ms']) or 'not in the journal'}")
            logout = "yes, at " + reports.format_ms(s["logout_ms"]) if s["logout_ms"] else "no"
            print(f"logout:     {logout}")
            print(f"bill:       {reports.format_ms(s['bill_ms']) or 'not in the journal'}")
            print(f"bill ack:   {reports.format_ms(s['bill_ack_ms']) or 'none sent'}")
            print(f"logout received between login and bill: "
                  f"{'yes' if s['logout_received'] else 'no'}")  # fmt: skip
        return 0

    return _run(go())


# --- registration (database) ----------------------------------------------------------------


def cmd_pile_add(args: argparse.Namespace) -> int:
    """Register a pile, or update an existing one: only the options given change it."""

    async def go() -> int:
        async with open_storage(args) as storage:
            existing = await storage.get_pile(args.pile_id)
            station = args.station
            if station is None and existing is not None:
                station = existing.station_id  # not given: keep the pile's station
            if args.enabled is not None:
                enabled = args.enabled
            else:
                enabled = existing.enabled if existing is not None else True
            new_station = existing is None or existing.station_id != args.station
            if args.station and (args.station_name or new_station):
                await storage.add_station(args.station, args.station_name or args.station)
            record = await storage.register_pile(
                args.pile_id,
                station_id=station,
                vendor=args.vendor or "",
                model=args.model or "",
                gun_count=args.guns or 1,
                enabled=enabled,
            )
            if secret is not None:
                await storage.set_pile_secret(record.pile_id, secret, grace_ms=0)
        row: dict[str, Any] = {
            "pile_id": record.pile_id,
            "station_id": record.station_id,
            "gun_count": record.gun_count,
            "enabled": record.enabled,
            "result": "added" if existing is None else "updated",
        }
        if generated and secret is not None:  # shown once: the database keeps it, not printed again
            row["secret"] = secret.hex()
        if args.format == "table":
            station_text = f"station {record.station_id}" if record.station_id else "no station"
            state = "enabled" if record.enabled else "disabled"
            print(
                f"pile {record.pile_id} {row['result']} ({station_text}, "
                f"{record.gun_count} gun(s), {state})"
            )
            if existing is not None and args.guns and args.guns != record.gun_count:
                print("  (the gun count of a known pile comes from its login)")
            if generated:
                print(f"  login secret (shown once): {row['secret']}")
            return 0
        reports.render([row], list(row), args.format, _out(args))
        return 0

    if args.guns is not None and not 1 <= args.guns <= 255:
        raise ValueError("--guns must be 1..255")
    generated = args.secret == "generate"
    secret = _secret_arg(args.secret)
    return _run(go())


def _secret_arg(text: str | None) -> bytes | None:
    """--secret HEX, or the word `generate` for a new random one."""
    from gateway.adapters.pilegate.pile_auth import generate_secret, parse_secret

    if text is None:
        return None
    return generate_secret() if text == "generate" else parse_secret(text)


def cmd_pile_secret(args: argparse.Namespace) -> int:
    """Set, rotate (the old secret stays valid for --grace seconds) or clear a pile's secret."""
    from gateway.adapters.pilegate.pile_auth import generate_secret, parse_secret

    new = None
    if not (args.status or args.clear):
        new = parse_secret(args.set) if args.set else generate_secret()
    if args.grace < 0:
        raise ValueError("--grace must be >= 0 seconds")

    async def go() -> int:
        async with open_storage(args) as storage:
            if args.clear:
                if not await storage.clear_pile_secret(args.pile_id):
                    raise OperatorError(f"pile {args.pile_id} has no secret")
            elif new is not None:
                grace_ms = int(args.grace * 1000)
                if not await storage.set_pile_secret(args.pile_id, new, grace_ms=grace_ms):
                    raise OperatorError(f"unknown pile {args.pile_id}")
            known = await storage.pile_secrets(args.pile_id)
            if known is None:
                raise OperatorError(f"unknown pile {args.pile_id}")
            row = known.status(storage.clock())
        if new is not None and not args.set:
            row["secret"] = new.hex()  # generated: shown once
        reports.render([row], list(row), args.format, _out(args))
        return 0

    return _run(go())


def cmd_pile_sources(args: argparse.Namespace) -> int:
    """Show or set the addresses a YKC pile may log in from (YKC has no login secret)."""
    import ipaddress

    from gateway.storage import queries

    for entry in args.sources:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"not an address or network: {entry!r}") from None

    async def go() -> int:
        async with open_storage(args) as storage:
            if not await queries.pile_exists(storage.reader, args.pile_id):
                raise OperatorError(f"unknown pile {args.pile_id}")
            if args.clear or args.sources:
                await storage.set_ykc_allowed_sources(args.pile_id, list(args.sources))
            known = await storage.ykc_pile(args.pile_id)
        row = {
            "pile_id": args.pile_id,
            "allowed_sources": " ".join(known.allowed_sources) if known else "",
            "protocol_version": known.protocol_version if known else None,
            "crc_order": known.crc_order if known else None,
            "last_peer": known.peer if known else None,
        }
        reports.render([row], list(row), args.format, _out(args))
        return 0

    return _run(go())


def cmd_account_add(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    async def go() -> int:
        async with open_storage(args) as storage:
            try:
                a = await storage.add_account(
                    args.account,
                    balance_fen=args.balance,
                    card_token=args.card,
                    vin=args.vin,
                    password=args.password,
                    enabled=not args.disabled,
                )
            except IntegrityError:
                raise OperatorError(
                    f"account {args.account} (or its card/VIN) already exists"
                ) from None
        row = {
            "account": a.account_id,
            "balance_fen": a.balance_fen,
            "card": a.card_token,
            "vin": a.vin,
            "password": a.has_password,
            "enabled": a.enabled,
        }
        reports.render([row], list(row), args.format, _out(args))
        return 0

    return _run(go())


def cmd_import(args: argparse.Namespace) -> int:
    """`pilegate piles import FILE` / `pilegate accounts import FILE`: all rows or none."""
    from gateway.admin import imports
    from gateway.storage import registry

    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8-sig") as f:
                text = f.read()
    except OSError as exc:
        raise OperatorError(f"cannot read {args.file}: {exc.strerror}") from None
    piles = args.import_kind == "piles"
    try:
        rows = imports.parse_piles(text) if piles else imports.parse_accounts(text)
    except imports.ImportRowsError as exc:
        raise OperatorError(f"{args.file}: nothing imported: " + "; ".join(exc.errors)) from None

    async def go() -> int:
        async with open_storage(args) as storage:
            try:
                if piles:
                    result = await registry.upsert_piles(storage, rows)
                else:
                    result = await registry.upsert_accounts(storage, rows)
            except registry.RegistryError as exc:
                raise OperatorError(f"{args.file}: nothing imported: {exc}") from None
        row = {"kind": args.import_kind, "rows": len(rows), **result.as_dict()}
        reports.render([row], list(row), args.format, _out(args))
        return 0

    return _run(go())


# --- reports and export ---------------------------------------------------------------------


def month_range(text: str) -> tuple[str, str]:
    """--month 2026-12: the first and the last day of that month, as ISO dates."""
    import calendar
    import re

    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"--month wants YYYY-MM, got {text!r}")
    year, month = int(m.group(1)), int(m.group(2))
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"


def _range(args: argparse.Namespace) -> tuple[int, int]:
    from_text, to_text = args.from_, args.to
    if getattr(args, "month", None):
        if from_text or to_text:
            raise ValueError("give --month or --from/--to, not both")
        from_text, to_text = month_range(args.month)
    start, end = _when(from_text), _when(to_text, end=True)
    if start is None or end is None:
        raise ValueError("give --from and --to (or --month YYYY-MM)")
    if end <= start:
        raise ValueError("--to must be after --from")
    return start, end


def cmd_report_anomalies(args: argparse.Namespace) -> int:
    start, end = _range(args)

    async def go() -> int:
        async with open_storage(args) as storage:
            report = await reports.anomaly_report(storage.reader, start, end, args.by)
        rows = [*report["rows"], report["total"]]
        if args.format == "json":
            reports.render([report], list(report), "json", _out(args))
            return 0
        columns = reports.anomaly_report_columns(report, compact=args.format == "table")
        if args.format == "table":
            print(
                f"anomalies by {args.by}, bills received {reports.format_ms(start)} .. "
                f"{reports.format_ms(end)} (exclusive)"
            )
        reports.render(rows, columns, args.format, _out(args))
        return 0

    return _run(go())


def cmd_report_firmware(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_storage(args) as storage:
            report = await reports.firmware_report(
                storage.reader, args.expected, station_id=args.station, list_piles=args.list
            )
        if args.format == "json":
            reports.render([report], list(report), "json", _out(args))
            return 0
        columns = ["firmware", "station", "piles", "online"] + (["pile_ids"] if args.list else [])
        if args.format == "table":
            print(
                f"expected firmware {args.expected}: {report['on_expected']} of "
                f"{report['piles']} piles on it, {report['not_on_expected']} not"
            )
        reports.render(report["rows"], columns, args.format, _out(args))
        return 0

    return _run(go())


def cmd_report_completions(args: argparse.Namespace) -> int:
    start, end = _range(args)

    async def go() -> int:
        async with open_storage(args) as storage:
            report = await reports.completions_report(storage.reader, start, end, pile_id=args.pile)
        if args.format == "json":
            reports.render([report], list(report), "json", _out(args))
            return 0
        rows = [*report["rows"], report["total"]]
        reports.render(rows, reports.COMPLETION_COLUMNS, args.format, _out(args))
        return 0

    return _run(go())


def cmd_export_bills(args: argparse.Namespace) -> int:
    start, end = _range(args)
    to_file = args.output not in (None, "-")

    async def go(out: Any) -> int:
        async with open_storage(args) as storage:
            chunks = reports.export_bills_csv(
                storage.reader, start, end, pile_id=args.pile, chunk=args.chunk,
                utc_offset_minutes=args.utc_offset,
            )  # fmt: skip
            rows = await reports.write_export(chunks, out)
        if to_file:
            print(f"{rows} bills written to {args.output}", file=sys.stderr)
        return 0

    if not to_file:
        return _run(go(sys.stdout))
    with open(args.output, "w", newline="") as out:
        return _run(go(out))


# --- argparse -------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add the operator's subcommands to `pilegate`'s subparsers."""
    H = _handler

    # piles (API) / piles add (database)
    piles = commands.add_parser("piles", help="list piles and their guns (admin API)")
    _api(piles)
    _fmt(piles)
    piles.set_defaults(handler=H(cmd_piles))
    piles_sub = piles.add_subparsers(dest="piles_command", metavar="ACTION")
    add = piles_sub.add_parser("add", help="register a pile (database)")
    add.add_argument("pile_id", type=pile_arg, metavar="PILE_ID", help=PILE_HELP)
    add.add_argument("--station", help="station id (created if new); kept if not given")
    add.add_argument("--station-name", help="station name (default: the id)")
    add.add_argument("--guns", type=int, metavar="N", help="gun count of a new pile (default 1)")
    add.add_argument("--vendor", help="vendor of a new pile (its login reports it later)")
    add.add_argument("--model", help="model of a new pile (its login reports it later)")
    onoff = add.add_mutually_exclusive_group()
    onoff.add_argument(
        "--disabled", dest="enabled", action="store_false", default=None,
        help="register it disabled (or disable it)",
    )  # fmt: skip
    onoff.add_argument(
        "--enabled", dest="enabled", action="store_true", default=None,
        help="enable it (a new pile is enabled unless --disabled)",
    )  # fmt: skip
    add.add_argument(
        "--secret",
        metavar="HEX|generate",
        help="login secret, 64 hex digits, or `generate` (printed once)",
    )
    _db(add)
    _fmt(add)
    add.set_defaults(handler=H(cmd_pile_add))
    pimp = piles_sub.add_parser("import", help="register or update many piles (CSV or JSON)")
    pimp.add_argument("file", metavar="FILE", help="CSV with a header row, or JSON; - for stdin")
    _db(pimp)
    _fmt(pimp)
    pimp.set_defaults(handler=H(cmd_import), import_kind="piles")
    secret = piles_sub.add_parser(
        "secret",
        help="set or rotate a pile's login secret (database); default: generate a new one",
    )
    secret.add_argument("pile_id", type=pile_arg, metavar="PILE_ID", help=PILE_HELP)
    what = secret.add_mutually_exclusive_group()
    what.add_argument("--set", metavar="HEX", help="use this secret (64 hex digits)")
    what.add_argument("--status", action="store_true", help="show the secret's dates only")
    what.add_argument("--clear", action="store_true", help="remove the pile's secrets")
    secret.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help=f"the replaced secret stays valid this long (default {DEFAULT_GRACE_S}; 0 = not)",
    )
    _db(secret)
    _fmt(secret)
    secret.set_defaults(handler=H(cmd_pile_secret))
    sources = piles_sub.add_parser(
        "sources",
        help="show or set the addresses a YKC pile may log in from (database; none: any)",
    )
    sources.add_argument("pile_id", type=pile_arg, metavar="PILE_ID", help=PILE_HELP)
    sources.add_argument("sources", nargs="*", metavar="ADDRESS", help="an address or network")
    sources.add_argument("--clear", action="store_true", help="allow every address again")
    _db(sources)
    _fmt(sources)
    sources.set_defaults(handler=H(cmd_pile_sources))

    sessions = commands.add_parser("sessions", help="sessions (admin API)")
    _api(sessions)
    _fmt(sessions)
    sessions.add_argument("--live", action="store_true", help="live gun sessions only")
    sessions.add_argument("--pile", type=pile_arg, help="only this pile's sessions")
    sessions.add_argument("--state", help="only sessions in this state (with --live: phase)")
    sessions.add_argument("--account", help="only this account's sessions")
    sessions.add_argument("--since", help="updated since")
    sessions.add_argument("--limit", type=int, default=100, help="most rows (default 100)")
    sessions.set_defaults(handler=H(cmd_sessions))

    start = commands.add_parser("start", help="start a charge (admin API)")
    start.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
    start.add_argument("gun", type=int, metavar="GUN", help="gun number (1, 2, ...)")
    start.add_argument("--account", required=True, help="account the charge is billed to")
    start.add_argument(
        "--channel", default="operator", help="start channel recorded (default operator)"
    )
    _api(start)
    _fmt(start)
    start.set_defaults(handler=H(cmd_start))

    stop = commands.add_parser("stop", help="stop a charge (admin API)")
    stop.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
    stop.add_argument("gun", type=int, metavar="GUN", help="gun number (1, 2, ...)")
    _api(stop)
    _fmt(stop)
    stop.set_defaults(handler=H(cmd_stop))

    for name in ("enable", "disable"):
        p = commands.add_parser(name, help=f"{name} a pile (admin API)")
        p.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
        _api(p)
        _fmt(p)
        p.set_defaults(handler=H(cmd_enable))

    tariff = commands.add_parser("tariff", help="show or set a pile's tariff (admin API)")
    tariff_sub = tariff.add_subparsers(dest="tariff_command", metavar="ACTION", required=True)
    show = tariff_sub.add_parser("show", help="the pile's tariffs and the one in force")
    show.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
    _api(show)
    _fmt(show)
    show.set_defaults(handler=H(cmd_tariff_show))
    put = tariff_sub.add_parser(
        "set",
        help="store a tariff and send it to the pile",
        description="e.g. tariff set PILE --id st7-2020 --price peak=1.06/0.4 "
        "--price flat=0.70/0.4 --price valley=0.27/0.4 --segment 00:00=valley "
        "--segment 08:00=peak --segment 12:00=flat --from 2020-06-01",
    )
    put.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
    put.add_argument("--id", required=True, help="tariff id")
    put.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="KIND=ENERGY[/SERVICE]",
        help="CNY/kWh per period (sharp, peak, flat, valley); repeat",
    )
    put.add_argument("--segment", action="append", metavar="HH:MM=KIND", help=SEGMENT_HELP)
    put.add_argument(
        "--scope", choices=("pile", "station"), default="pile",
        help="store it for the pile or for its whole station (default pile)",
    )  # fmt: skip
    put.add_argument("--scope-id", help="default: the pile, or its station")
    put.add_argument("--from", dest="effective", help="effective from (default: always)")
    put.add_argument("--utc-offset", type=int, default=480, help="minutes (default 480)")
    _api(put)
    _fmt(put)
    put.set_defaults(handler=H(cmd_tariff_set))

    tdef = tariff_sub.add_parser(
        "set-default",
        help="store the default tariff (piles with no pile or station tariff)",
        description="e.g. tariff set-default --id std-2026 --price flat=1.00/0.4",
    )
    tdef.add_argument("--id", required=True, help="tariff id")
    tdef.add_argument(
        "--price", action="append", default=[], metavar="KIND=ENERGY[/SERVICE]",
        help="CNY/kWh per period (sharp, peak, flat, valley); repeat",
    )  # fmt: skip
    tdef.add_argument("--segment", action="append", metavar="HH:MM=KIND", help=SEGMENT_HELP)
    tdef.add_argument("--from", dest="effective", help="effective from (default: always)")
    tdef.add_argument("--utc-offset", type=int, default=480, help="minutes (default 480)")
    tdef.set_defaults(scope="default", scope_id=None)
    _api(tdef)
    _fmt(tdef)
    tdef.set_defaults(handler=H(cmd_tariff_set_default))

    sync = commands.add_parser("time-sync", help="send TIME_SYNC to a connected pile (admin API)")
    sync.add_argument("pile", type=pile_arg, metavar="PILE", help=PILE_HELP)
    _api(sync)
    _fmt(sync)
    sync.set_defaults(handler=H(cmd_time_sync))

    idle = commands.add_parser("idle-fee", help="show or set idle-fee rules (admin API)")
    idle_sub = idle.add_subparsers(dest="idle_command", metavar="ACTION", required=True)
    ishow = idle_sub.add_parser("show", help="every stored rule, or the one in force for PILE")
    ishow.add_argument(
        "pile", nargs="?", type=pile_arg, metavar="PILE", help="the rule in force for this pile"
    )
    _api(ishow)
    _fmt(ishow)
    ishow.set_defaults(handler=H(cmd_idle_fee_show))
    iset = idle_sub.add_parser(
        "set",
        help="store a rule (pile, station or default) and send it to the piles it applies to",
        description="e.g. idle-fee set --station ST1 --grace 15 --rate 50 --cap 3000: after 15 "
        "free minutes 0.50 CNY per whole minute, at most 30.00 CNY per service",
    )
    scope = iset.add_mutually_exclusive_group(required=True)
    scope.add_argument("--pile", type=pile_arg, help="the rule of one pile")
    scope.add_argument("--station", help="the rule of every pile of a station")
    scope.add_argument("--default", action="store_true", help="piles with no other rule")
    iset.add_argument("--grace", type=int, required=True, metavar="MIN", help="free minutes")
    iset.add_argument("--rate", type=int, required=True, metavar="FEN", help="fen per minute")
    iset.add_argument("--cap", type=int, metavar="FEN", help="most per service (default none)")
    _api(iset)
    _fmt(iset)
    iset.set_defaults(handler=H(cmd_idle_fee_set))

    bills = commands.add_parser("bills", help="stored bills (database)")
    bills.add_argument("--since", help="received since")
    bills.add_argument("--until", help="received before (a date: through that day)")
    bills.add_argument("--pile", type=pile_arg, help="only this pile's bills")
    bills.add_argument("--anomaly", type=int, metavar="CODE", help="bills with this code")
    bills.add_argument(
        "--status", choices=("stored", "flagged", "corrected"), help="only bills in this status"
    )
    bills.add_argument("--limit", type=int, default=100, help="most rows (default 100)")
    _db(bills)
    _fmt(bills)
    bills.set_defaults(handler=H(cmd_bills))
    bills_sub = bills.add_subparsers(dest="bills_command", metavar="ACTION")
    bshow = bills_sub.add_parser("show", help="one bill with its corrections")
    bshow.add_argument("bill_id", metavar="BILL_ID", help="the bill's id (see `pilegate bills`)")
    _db(bshow)
    _fmt(bshow)
    bshow.set_defaults(handler=H(cmd_bill_show))
    correct = bills_sub.add_parser(
        "correct", help="correct a bill's energy; amounts recomputed from the tariff, audited"
    )
    correct.add_argument("bill_id", metavar="BILL_ID", help="the bill's id (see `pilegate bills`)")
    correct.add_argument("--energy", required=True, metavar="KWH", help="the right energy, kWh")
    correct.add_argument("--reason", required=True, help="why (kept in the audit row)")
    correct.add_argument("--who", default=_user(), help="who corrects (default: your login)")
    correct.add_argument(
        "--force", action="store_true", help="store a correction beyond the sane bound anyway"
    )
    correct.add_argument(
        "--refund-from",
        choices=("pilegate", "pile"),
        default="pilegate",
        help="count the refund from pilegate's amount (default) or from what the pile charged",
    )
    _db(correct)
    _fmt(correct)
    correct.set_defaults(handler=H(cmd_bill_correct))

    frames = commands.add_parser(
        "frames", help="journal frames in order with their meaning (database)"
    )
    frames.add_argument("--pile", type=pile_arg, help="the frames of one pile")
    frames.add_argument("--bill", help="the frames of one bill: login .. bill ack")
    frames.add_argument("--transaction", help="the frames of one transaction id")
    frames.add_argument("--gun", type=int, help="the frames of one gun")
    frames.add_argument("--from", dest="from_", metavar="TIME", help=FROM_HELP)
    frames.add_argument("--to", metavar="TIME", help=TO_HELP)
    frames.add_argument("--heartbeats", action="store_true", help="include heartbeats")
    _db(frames)
    _fmt(frames)
    frames.set_defaults(handler=H(cmd_frames))

    accounts = commands.add_parser("accounts", help="accounts (database)")
    acc_sub = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    aadd = acc_sub.add_parser("add", help="create an account")
    aadd.add_argument("account", metavar="ACCOUNT", help="account id (e.g. a phone number)")
    aadd.add_argument("--card", help="card token")
    aadd.add_argument("--vin", help="vehicle VIN that identifies the account (plug and charge)")
    aadd.add_argument("--password", help="password for account+password starts")
    aadd.add_argument(
        "--balance", type=int, default=0, metavar="FEN", help="opening balance (default 0)"
    )
    aadd.add_argument("--disabled", action="store_true", help="create it disabled")
    _db(aadd)
    _fmt(aadd)
    aadd.set_defaults(handler=H(cmd_account_add))
    aimp = acc_sub.add_parser("import", help="create or update many accounts (CSV or JSON)")
    aimp.add_argument("file", metavar="FILE", help="CSV with a header row, or JSON; - for stdin")
    _db(aimp)
    _fmt(aimp)
    aimp.set_defaults(handler=H(cmd_import), import_kind="accounts")

    report = commands.add_parser("report", help="operator reports (database)")
    rep_sub = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    ra = rep_sub.add_parser("anomalies", help="bills and anomaly codes per channel/firmware/...")
    _month_or_range(ra)
    ra.add_argument(
        "--by", choices=("channel", "firmware", "station", "pile"), default="channel",
        help="one row per (default channel)",
    )  # fmt: skip
    _db(ra)
    _fmt(ra)
    ra.set_defaults(handler=H(cmd_report_anomalies))
    rf = rep_sub.add_parser("firmware", help="piles not on the expected firmware")
    rf.add_argument("--expected", required=True, metavar="VERSION", help="the firmware wanted")
    rf.add_argument("--station", help="only this station's piles")
    rf.add_argument("--list", action="store_true", help="list the pile ids")
    _db(rf)
    _fmt(rf)
    rf.set_defaults(handler=H(cmd_report_firmware))
    rc = rep_sub.add_parser("completions", help="completed charges per pile")
    _month_or_range(rc)
    rc.add_argument("--pile", type=pile_arg, help="only this pile")
    _db(rc)
    _fmt(rc)
    rc.set_defaults(handler=H(cmd_report_completions))

    export = commands.add_parser("export", help="streamed exports (database)")
    exp_sub = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    eb = exp_sub.add_parser("bills", help="bills received in a range, as CSV")
    _month_or_range(eb)
    eb.add_argument("--pile", type=pile_arg, help="only this pile's bills")
    eb.add_argument("--format", choices=("csv",), default="csv", help="output format (csv)")
    eb.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    eb.add_argument(
        "--utc-offset",
        type=int,
        default=reports.DEFAULT_UTC_OFFSET_MINUTES,
        metavar="MINUTES",
        help="time zone of the exported times, minutes east of UTC (default 480: UTC+8)",
    )
    eb.add_argument("--chunk", type=int, default=5000, help=argparse.SUPPRESS)
    _db(eb)
    eb.set_defaults(handler=H(cmd_export_bills))

    from gateway.adapters.ocpp16 import cli as ocpp_cli  # pilegate ocpp ...

    ocpp_cli.register(commands)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
