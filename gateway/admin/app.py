"""The admin API as a FastAPI application over a running `Gateway`.

All endpoints except /healthz (and the OpenAPI document /openapi.json, /docs) require
`Authorization: Bearer <admin.token>` when a token is configured.

    GET  /healthz                                  liveness (no auth)
    GET  /metrics                                  Prometheus text format
    GET  /piles                                    piles: database rows merged with live state
    GET  /piles/{pile_id}                          one pile, its guns, their states and sessions
    GET  /sessions?pile=&state=&account=&since=&limit=&cursor=     stored sessions, newest first
    GET  /sessions/live                            live gun sessions of this gateway process
    GET  /bills?since=&until=&pile=&anomaly=&status=&limit=&cursor=  bills, newest first
    GET  /bills/{bill_id}                          one bill with its corrections
    GET  /anomalies?since=&until=&pile=&code=&kind=&status=&limit=&cursor=
    GET  /frames?pile=&transaction=&bill=&gun=&from=&to=&limit=    journal, oldest first
    GET  /piles/{pile_id}/tariff                   tariffs of the pile and the one in force
    PUT  /piles/{pile_id}/tariff                   store a tariff and send it to the pile
    PUT  /tariffs/default                          store the default tariff (piles with none)
    GET  /idle-fee                                 every stored idle-fee rule
    GET  /piles/{pile_id}/idle-fee                 the rule in force for the pile, and its scope
    PUT  /idle-fee/default                         {grace_minutes, rate_fen_per_minute, cap_fen}
    PUT  /idle-fee/stations/{station_id}           same body; sent to the piles it applies to
    PUT  /idle-fee/piles/{pile_id}                 same body; sent to the pile
    GET  /piles/{pile_id}/secret                   login secret status (never the secret)
    PUT  /piles/{pile_id}/secret     {secret?, grace_s?}  set or rotate; generated if absent
    DELETE /piles/{pile_id}/secret                 remove the pile's login secrets
    POST /piles/{pile_id}/start      {gun, account, channel}
    POST /piles/{pile_id}/stop       {gun}
    POST /piles/{pile_id}/enable
    POST /piles/{pile_id}/disable
    POST /piles/{pile_id}/query_bills  {gun}
    POST /piles/{pile_id}/time_sync
    GET  /reports/anomalies?from=&to=&by=channel|firmware|station|pile
    GET  /reports/firmware?expected=&station=&list=
    GET  /reports/completions?from=&to=&pile=
    GET  /export/bills.csv?from=&to=&pile=        streamed CSV

Commands answer 200 with the CommandResult JSON ({"outcome": accepted|stored|rejected|
timed_out|pile_offline, "reason", "transaction_id"}) whatever the pile said, 404 for a pile
the gateway does not know, 422 for a bad request (a pile id that is not 16 or 20 digits
included; 16 digits name the same pile as their 20-digit padded form). `stored`: a
configuration change (enable, disable, tariff, idle fee) for a pile that is not connected;
it is sent at the pile's next login. With `?strict=true` the outcome is also mapped to the
status: stored -> 202, rejected -> 409, pile_offline -> 409, timed_out -> 504 (the body is
the same).
Times in query parameters: epoch ms, an ISO date (local midnight, UTC+8) or ISO date-time.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff, TariffError
from gateway import reports
from gateway.adapters.narrate import describe_frame
from gateway.adapters.ocpp16 import admin as ocpp_admin
from gateway.adapters.pilegate.pile_auth import generate_secret, parse_secret
from gateway.admin import console, manage
from gateway.commands import CommandResult, Outcome
from gateway.config import DEFAULT_GRACE_S
from gateway.dialect import check_channel
from gateway.metrics import render_prometheus
from gateway.storage import queries
from gateway.storage.pricing import TariffConflict
from gateway.tariffs import TARIFF_CONFLICT
from protocol.pile_ids import PileIdError, normalize_pile_id
from sessions import Phase

STRICT_STATUS = {
    Outcome.ACCEPTED: 200,
    Outcome.STORED: 202,
    Outcome.REJECTED: 409,
    Outcome.PILE_OFFLINE: 409,
    Outcome.TIMED_OUT: 504,
}


class StartBody(BaseModel):
    gun: int = Field(ge=1, le=255)
    account: str = Field(min_length=1, max_length=64)
    channel: str = "operator"


class GunBody(BaseModel):
    gun: int = Field(default=0, ge=0, le=255)


class SecretBody(BaseModel):
    secret: str | None = Field(
        default=None, description="64 hex digits; absent: the gateway generates one"
    )
    grace_s: float = Field(
        default=DEFAULT_GRACE_S, ge=0, description="how long the replaced secret stays valid"
    )


class PriceBody(BaseModel):
    energy_e4: int = Field(ge=0, description="energy price, 0.0001 CNY/kWh")
    service_e4: int = Field(ge=0, description="service fee, 0.0001 CNY/kWh")


class TariffBody(BaseModel):
    tariff_id: str = Field(min_length=1, max_length=64)
    scope_kind: ScopeKind = ScopeKind.PILE
    scope_id: str | None = Field(
        default=None, description="default: the pile id (pile scope) or the pile's station"
    )
    effective_from_ms: int = 0
    prices: dict[PeriodKind, PriceBody]
    segments: list[tuple[int, PeriodKind]] = Field(
        description="[[start_minute, kind], ...] of the local day, the first at minute 0"
    )
    utc_offset_minutes: int = 480


class IdleFeeBody(BaseModel):
    grace_minutes: int = Field(ge=0, le=65_535, description="free minutes after the charge")
    rate_fen_per_minute: int = Field(ge=0, le=2**31 - 1, description="fen per whole minute")
    cap_fen: int | None = Field(
        default=None, ge=0, le=2**32 - 2, description="most one service pays; null = no cap"
    )

    def rule(self) -> IdleFeeRule:
        return IdleFeeRule(self.grace_minutes, self.rate_fen_per_minute, self.cap_fen)


def idle_rule_dict(rule: IdleFeeRule) -> dict[str, Any]:
    return {
        "grace_minutes": rule.grace_minutes,
        "rate_fen_per_minute": rule.rate_fen_per_minute,
        "cap_fen": rule.cap_fen,
    }


def _v1_pile_id_of(value: str | None) -> str | None:
    """A pile id from a path or query parameter in its canonical form, or 422."""
    if value is None:
        return None
    try:
        return normalize_pile_id(value)
    except PileIdError as exc:
        raise HTTPException(422, str(exc)) from None


def tariff_dict(t: Tariff) -> dict[str, Any]:
    return {
        "tariff_id": t.tariff_id,
        "scope_kind": t.scope_kind.value,
        "scope_id": t.scope_id,
        "effective_from_ms": t.effective_from_ms,
        "set_ms": t.set_ms or None,  # when set for this scope (None: the default tariff)
        "prices": {
            k.value: {"energy_e4": p.energy_e4, "service_e4": p.service_e4}
            for k, p in t.prices.items()
        },
        "segments": [[s.start_minute, s.kind.value] for s in t.segments],
        "utc_offset_minutes": t.utc_offset_minutes,
    }


def _when(value: str | None, *, end: bool = False) -> int | None:
    try:
        return reports.parse_time(value, end=end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _required_when(value: str | None, name: str, *, end: bool = False) -> int:
    ms = _when(value, end=end)
    if ms is None:
        raise HTTPException(422, f"{name} is required")
    return ms


def create_app(
    gateway: Any, *, token: str = "", bridge: Any = None, anomaly_cache_s: float = 5.0
) -> FastAPI:
    """The admin application of `gateway` (a running gateway.app.Gateway). `bridge`: an
    optional MQTT bridge with a `.connected` attribute, for /metrics."""

    def auth(authorization: Annotated[str | None, Header()] = None) -> None:
        if not token:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )

    app = FastAPI(
        title="pilegate admin API",
        version="1",
        description=(__doc__ or "").split("\n\n", 1)[-1],
    )
    api = APIRouter(dependencies=[Depends(auth)])

    def pile_id_of(value: str | None) -> str | None:
        """As the module's, and also the id of a pile of another dialect this gateway knows
        (an OCPP charge point's id is no v1 number): filters and paths can name it."""
        known_elsewhere = value is not None and value in gateway.piles
        return value if known_elsewhere else _v1_pile_id_of(value)

    reader = gateway.storage.reader

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # An outage is the database's state, not a bug of the request: 503, retry later.
        if isinstance(exc, DBAPIError) and not (
            exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
        ):
            raise exc
        return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503)

    for unavailable in (DBAPIError, OSError, TimeoutError):
        app.add_exception_handler(unavailable, database_unavailable)
    anomaly_cache: dict[str, Any] = {"at": -1e9, "value": []}

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        return {
            "status": "stopping" if gateway.stopping else "ok",
            "piles_online": sum(1 for p in gateway.piles.values() if p.online),
            "connections": len(gateway.connections),
            "database": gateway.storage.dialect,
        }

    # --- metrics ----------------------------------------------------------------------------

    @api.get("/metrics", response_class=PlainTextResponse, tags=["metrics"])
    async def metrics() -> PlainTextResponse:
        now = time.monotonic()
        if now - anomaly_cache["at"] > anomaly_cache_s:
            anomaly_cache["value"] = await queries.open_anomaly_counts(reader)
            anomaly_cache["at"] = now
        stats = gateway.storage.stats
        if callable(stats):
            stats = stats()
        text = render_prometheus(
            gateway.metrics,
            piles=gateway.piles,
            phases=[p.value for p in Phase],
            writer=stats,
            outbox_depth=await queries.outbox_depth(reader),
            anomalies_open=anomaly_cache["value"],
            mqtt_connected=None if bridge is None else bool(getattr(bridge, "connected", False)),
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    # --- piles ------------------------------------------------------------------------------

    def merged(row: dict[str, Any] | None, pile_id: str) -> dict[str, Any]:
        live = gateway.piles.get(pile_id)
        out: dict[str, Any] = {"pile_id": pile_id}
        if row is not None:
            out.update(
                station_id=row["station_id"],
                station_name=row.get("station_name"),
                vendor=row["vendor"],
                model=row["model"],
                firmware=row["firmware"],
                gun_count=row["gun_count"],
                enabled=bool(row["enabled"]),
                registered_at_ms=row["registered_at_ms"],
                last_login_ms=row["last_login_ms"],
                last_seen_ms=row["last_seen_ms"],
                online=bool(row["online"]),
            )
            if row.get("ykc_protocol_version") is not None:  # a YKC pile (docs/ykc.md A3)
                out["ykc"] = {
                    "protocol_version": row["ykc_protocol_version"],
                    "crc_order": row["ykc_crc_order"],
                    "allowed_sources": [
                        a for a in (row["ykc_allowed_sources"] or "").split(",") if a
                    ],
                }
        if live is not None:
            d = live.describe()
            out["online"] = d["online"]
            out["enabled"] = d["enabled"]
            out["connected_here"] = d["online"]
            out["guns"] = {str(g): v for g, v in d["guns"].items()}
        else:
            out["connected_here"] = False
            out["guns"] = {}
        return out

    @api.get("/piles", tags=["piles"])
    async def list_piles() -> list[dict[str, Any]]:
        rows = await queries.piles_with_stations(reader)
        seen = {r["id"] for r in rows}
        out = [merged(r, r["id"]) for r in rows]
        out += [merged(None, p) for p in sorted(gateway.piles) if p not in seen]
        return out

    @api.get("/piles/{pile_id}", tags=["piles"])
    async def get_pile(pile_id: str) -> dict[str, Any]:
        pile_id = pile_id_of(pile_id) or ""
        rows = await queries.piles_with_stations(reader, pile_id)
        if not rows and pile_id not in gateway.piles:
            raise HTTPException(404, f"unknown pile {pile_id}")
        out = merged(rows[0] if rows else None, pile_id)
        out["firmware_history"] = [
            {"firmware": f.firmware, "first_seen_ms": f.first_seen_ms}
            for f in await gateway.storage.firmware_history(pile_id)
        ]
        recent = await queries.list_sessions(reader, pile_id=pile_id, limit=20)
        out["recent_sessions"] = recent.rows
        return out

    # --- sessions, bills, anomalies ---------------------------------------------------------

    @api.get("/sessions", tags=["sessions"])
    async def list_sessions(
        pile: str | None = None,
        state: str | None = None,
        account: str | None = None,
        since: str | None = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        page = await queries.list_sessions(
            reader, pile_id=pile_id_of(pile), state=state, account=account, since_ms=_when(since),
            limit=limit, cursor=cursor,
        )  # fmt: skip
        return {"items": page.rows, "next_cursor": page.next_cursor}

    @api.get("/sessions/live", tags=["sessions"])
    async def live_sessions() -> list[dict[str, Any]]:
        out = []
        for pile_id, pile in sorted(gateway.piles.items()):
            for gun, g in sorted(pile.describe()["guns"].items()):
                if g["session"] is not None:
                    out.append({"pile_id": pile_id, "gun": gun, **g["session"]})
        return out

    @api.get("/bills", tags=["bills"])
    async def list_bills(
        since: str | None = None,
        until: str | None = None,
        pile: str | None = None,
        anomaly: Annotated[int | None, Query(ge=1, le=30)] = None,
        status: str | None = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        try:
            page = await queries.list_bills(
                reader, since_ms=_when(since), until_ms=_when(until, end=True),
                pile_id=pile_id_of(pile), anomaly=anomaly, status=status, limit=limit,
                cursor=cursor,
            )  # fmt: skip
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"items": page.rows, "next_cursor": page.next_cursor}

    @api.get("/bills/{bill_id}", tags=["bills"])
    async def get_bill(bill_id: str) -> dict[str, Any]:
        bill = await queries.get_bill(reader, bill_id)
        if bill is None:
            raise HTTPException(404, f"unknown bill {bill_id}")
        return bill

    @api.get("/anomalies", tags=["anomalies"])
    async def list_anomalies(
        since: str | None = None,
        until: str | None = None,
        pile: str | None = None,
        code: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        bill: str | None = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        try:
            page = await queries.list_anomalies(
                reader, since_ms=_when(since), until_ms=_when(until, end=True),
                pile_id=pile_id_of(pile), code=code, kind=kind, status=status, bill_id=bill,
                limit=limit, cursor=cursor,
            )  # fmt: skip
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"items": page.rows, "next_cursor": page.next_cursor}

    # --- frames -----------------------------------------------------------------------------

    @api.get("/frames", tags=["frames"])
    async def frames(
        pile: str | None = None,
        transaction: str | None = None,
        bill: str | None = None,
        gun: int | None = None,
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
        heartbeats: bool = True,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    ) -> dict[str, Any]:
        since, until = _when(from_), _when(to, end=True)
        pile = pile_id_of(pile)
        summary = None
        if bill is not None:
            window = await queries.bill_frame_window(reader, bill)
            if window is None:
                raise HTTPException(404, f"unknown bill {bill}")
            pile = window["pile_id"]
            since = window["login_ms"] if window["login_ms"] is not None else window["first_ms"]
            until = window["last_ms"] + 1
        if pile is None and transaction is None and since is None:
            raise HTTPException(422, "give pile, transaction, bill or from")
        items = []
        async for e in gateway.storage.frames(
            pile, transaction_id=transaction, gun=gun, since_ms=since, until_ms=until
        ):
            if not heartbeats and e.type_name in reports.HEARTBEATS:
                continue
            items.append(e)
            if len(items) >= limit:
                break
        rows = list(reports.frame_rows(items, describe_frame))
        if bill is not None:
            summary = reports.bill_frame_summary(rows)
        return {"items": rows, "summary": summary, "truncated": len(rows) >= limit}

    # --- tariffs ----------------------------------------------------------------------------

    async def known(pile_id: str) -> str:
        """The pile id in canonical form (422 if it is not a pile id), 404 if unknown."""
        pile_id = pile_id_of(pile_id) or ""
        if pile_id not in gateway.piles and not await queries.pile_exists(reader, pile_id):
            raise HTTPException(404, f"unknown pile {pile_id}")
        return pile_id

    @api.get("/piles/{pile_id}/tariff", tags=["tariffs"])
    async def show_tariff(pile_id: str) -> dict[str, Any]:
        pile_id = await known(pile_id)
        now = gateway.now_ms()
        found = await gateway.storage.tariffs_for(pile_id)
        current = await gateway.storage.tariff_for(pile_id, now)
        return {
            "pile_id": pile_id,
            "at_ms": now,
            "current": tariff_dict(current),
            "tariffs": [tariff_dict(t) for t in found],
        }

    @api.put("/piles/{pile_id}/tariff", tags=["tariffs"])
    async def set_tariff(pile_id: str, body: TariffBody, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        scope_id = body.scope_id
        if body.scope_kind is ScopeKind.DEFAULT:
            scope_id = ""
        elif body.scope_kind is ScopeKind.PILE:
            scope_id = pile_id_of(scope_id or pile_id)
        if scope_id is None:
            if body.scope_kind is ScopeKind.PILE:
                scope_id = pile_id
            else:
                rows = await queries.piles_with_stations(reader, pile_id)
                scope_id = rows[0]["station_id"] if rows else None
                if not scope_id:
                    raise HTTPException(422, f"pile {pile_id} has no station: give scope_id")
        try:
            tariff = Tariff(
                body.tariff_id,
                body.scope_kind,
                scope_id,
                body.effective_from_ms,
                {k: PeriodPrice(p.energy_e4, p.service_e4) for k, p in body.prices.items()},
                tuple(Segment(m, k) for m, k in body.segments),
                body.utc_offset_minutes,
            )
        except TariffError as exc:
            raise HTTPException(422, f"bad tariff: {exc}") from None
        result = await gateway.set_tariff(pile_id, tariff)
        if result.reason.startswith(TARIFF_CONFLICT):  # not stored, not sent: a client error
            raise HTTPException(409, result.reason)
        return _result(result, strict, tariff=tariff_dict(tariff))

    @api.put("/tariffs/default", tags=["tariffs"])
    async def set_default_tariff(body: TariffBody, strict: bool = False) -> Any:
        """The tariff of every pile with no pile or station tariff; sent to those connected."""
        try:
            tariff = Tariff(
                body.tariff_id,
                ScopeKind.DEFAULT,
                "",
                body.effective_from_ms,
                {k: PeriodPrice(p.energy_e4, p.service_e4) for k, p in body.prices.items()},
                tuple(Segment(m, k) for m, k in body.segments),
                body.utc_offset_minutes,
            )
        except TariffError as exc:
            raise HTTPException(422, f"bad tariff: {exc}") from None
        try:
            results = await gateway.set_default_tariff(tariff)
        except TariffConflict as exc:  # not stored, not sent: a client error
            raise HTTPException(409, f"{TARIFF_CONFLICT}: {exc}") from None
        return _fanout(results, strict, tariff=tariff_dict(tariff))

    # --- idle-fee rules ---------------------------------------------------------------------

    @api.get("/idle-fee", tags=["idle fee"])
    async def list_idle_fee_rules() -> list[dict[str, Any]]:
        return [
            {"scope_kind": kind.value, "scope_id": scope_id, **idle_rule_dict(rule)}
            for kind, scope_id, rule in await gateway.storage.idle_rules()
        ]

    @api.get("/piles/{pile_id}/idle-fee", tags=["idle fee"])
    async def show_idle_fee(pile_id: str) -> dict[str, Any]:
        pile_id = await known(pile_id)
        rule = await gateway.storage.idle_rule_for(pile_id)
        scope = await gateway.storage.idle_rule_scope(pile_id)
        return {
            "pile_id": pile_id,
            "scope_kind": scope.scope_kind.value,
            "scope_id": scope.scope_id,
            "builtin": scope.builtin,
            **idle_rule_dict(rule),
        }

    @api.put("/idle-fee/default", tags=["idle fee"])
    async def set_default_idle_fee(body: IdleFeeBody, strict: bool = False) -> Any:
        results = await gateway.set_idle_fee_rule(ScopeKind.DEFAULT, "", body.rule())
        return _fanout(results, strict, rule=idle_rule_dict(body.rule()))

    @api.put("/idle-fee/stations/{station_id}", tags=["idle fee"])
    async def set_station_idle_fee(station_id: str, body: IdleFeeBody, strict: bool = False) -> Any:
        if not await queries.station_exists(reader, station_id):
            raise HTTPException(404, f"unknown station {station_id}")
        results = await gateway.set_idle_fee_rule(ScopeKind.STATION, station_id, body.rule())
        return _fanout(results, strict, rule=idle_rule_dict(body.rule()))

    @api.put("/idle-fee/piles/{pile_id}", tags=["idle fee"])
    async def set_pile_idle_fee(pile_id: str, body: IdleFeeBody, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        results = await gateway.set_idle_fee_rule(ScopeKind.PILE, pile_id, body.rule())
        return _result(results[pile_id], strict, rule=idle_rule_dict(body.rule()))

    def _fanout(results: dict[str, CommandResult], strict: bool, **extra: Any) -> JSONResponse:
        """A change for many piles: stored, and each connected pile it applies to answered."""
        piles = {p: r.as_dict() | {"outcome": r.outcome.value} for p, r in results.items()}
        refused = [r.outcome for r in results.values() if r.outcome is not Outcome.ACCEPTED]
        if not results:  # no connected pile uses it now: each gets it at its next login
            outcome = Outcome.STORED
        else:
            outcome = refused[0] if refused else Outcome.ACCEPTED
        body = {"outcome": outcome.value, "reason": "", "piles": piles, **extra}
        status = STRICT_STATUS.get(outcome, 200) if strict else 200
        return JSONResponse(body, status_code=status)

    # --- login secrets (docs/protocol.md §6.1.1) --------------------------------------------

    async def secret_status(pile_id: str) -> dict[str, Any]:
        pile_id = await known(pile_id)
        found = await gateway.storage.pile_secrets(pile_id)
        if found is None:
            raise HTTPException(404, f"unknown pile {pile_id}")
        return found.status(gateway.now_ms())

    @api.get("/piles/{pile_id}/secret", tags=["piles"])
    async def show_secret(pile_id: str) -> dict[str, Any]:
        return await secret_status(pile_id)

    @api.put("/piles/{pile_id}/secret", tags=["piles"])
    async def set_secret(pile_id: str, body: SecretBody | None = None) -> dict[str, Any]:
        body = body or SecretBody()
        try:
            secret = generate_secret() if body.secret is None else parse_secret(body.secret)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        grace_ms = int(body.grace_s * 1000)
        pile_id = await known(pile_id)
        if not await gateway.storage.set_pile_secret(
            pile_id, secret, grace_ms=grace_ms, at_ms=gateway.now_ms()
        ):
            raise HTTPException(404, f"unknown pile {pile_id}")
        out = await secret_status(pile_id)
        if body.secret is None:
            out["secret"] = secret.hex()  # generated: this answer is the only place it shows
        return out

    @api.delete("/piles/{pile_id}/secret", tags=["piles"])
    async def clear_secret(pile_id: str) -> dict[str, Any]:
        pile_id = await known(pile_id)
        await gateway.storage.clear_pile_secret(pile_id)
        return await secret_status(pile_id)

    # --- commands ---------------------------------------------------------------------------

    def _result(result: CommandResult, strict: bool, **extra: Any) -> JSONResponse:
        body = {**result.as_dict(), **extra}
        body["outcome"] = result.outcome.value
        status = STRICT_STATUS.get(result.outcome, 200) if strict else 200
        return JSONResponse(body, status_code=status)

    @api.post("/piles/{pile_id}/start", tags=["commands"])
    async def start(pile_id: str, body: StartBody, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        try:
            check_channel(body.channel)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        result = await gateway.start_charge(pile_id, body.gun, body.account, body.channel)
        return _result(result, strict)

    @api.post("/piles/{pile_id}/stop", tags=["commands"])
    async def stop(pile_id: str, body: GunBody, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        return _result(await gateway.stop_charge(pile_id, body.gun), strict)

    async def enabled(pile_id: str, value: bool, strict: bool) -> Any:
        pile_id = await known(pile_id)
        result = await gateway.set_enabled(pile_id, value)
        if result.outcome is Outcome.REJECTED and result.reason == "unknown_pile":
            raise HTTPException(404, f"unknown pile {pile_id}")
        return _result(result, strict)

    @api.post("/piles/{pile_id}/enable", tags=["commands"])
    async def enable(pile_id: str, strict: bool = False) -> Any:
        return await enabled(pile_id, True, strict)

    @api.post("/piles/{pile_id}/disable", tags=["commands"])
    async def disable(pile_id: str, strict: bool = False) -> Any:
        return await enabled(pile_id, False, strict)

    @api.post("/piles/{pile_id}/query_bills", tags=["commands"])
    async def query_bills(pile_id: str, body: GunBody | None = None, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        gun = 0 if body is None else body.gun
        return _result(await gateway.query_bills(pile_id, gun), strict)

    @api.post("/piles/{pile_id}/time_sync", tags=["commands"])
    async def time_sync(pile_id: str, strict: bool = False) -> Any:
        pile_id = await known(pile_id)
        return _result(await gateway.time_sync(pile_id), strict)

    # --- reports ----------------------------------------------------------------------------

    @api.get("/reports/anomalies", tags=["reports"])
    async def report_anomalies(
        from_: Annotated[str, Query(alias="from")],
        to: str,
        by: str = "channel",
    ) -> dict[str, Any]:
        if by not in queries.DIMENSIONS:
            raise HTTPException(422, f"by must be one of {', '.join(queries.DIMENSIONS)}")
        return await reports.anomaly_report(
            reader, _required_when(from_, "from"), _required_when(to, "to", end=True), by
        )

    @api.get("/reports/firmware", tags=["reports"])
    async def report_firmware(
        expected: str, station: str | None = None, list: bool = False
    ) -> dict[str, Any]:
        return await reports.firmware_report(reader, expected, station_id=station, list_piles=list)

    @api.get("/reports/completions", tags=["reports"])
    async def report_completions(
        from_: Annotated[str, Query(alias="from")], to: str, pile: str | None = None
    ) -> dict[str, Any]:
        return await reports.completions_report(
            reader,
            _required_when(from_, "from"),
            _required_when(to, "to", end=True),
            pile_id=pile_id_of(pile),
        )

    @api.get("/export/bills.csv", tags=["reports"], response_class=StreamingResponse)
    async def export_bills(
        from_: Annotated[str, Query(alias="from")], to: str, pile: str | None = None
    ) -> StreamingResponse:
        chunks = reports.export_bills_csv(
            reader,
            _required_when(from_, "from"),
            _required_when(to, "to", end=True),
            pile_id=pile_id_of(pile),
        )
        return StreamingResponse(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="bills.csv"'},
        )

    app.include_router(api)
    app.include_router(manage.router(gateway), dependencies=[Depends(auth)])
    app.include_router(ocpp_admin.router(gateway), dependencies=[Depends(auth)])
    console.install(app, gateway, Depends(auth), token)
    return app
