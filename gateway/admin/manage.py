"""Admin API routes for registration and operator corrections (included by app.py):

    POST   /piles                            register a pile
    PATCH  /piles/{pile_id}                  edit station, vendor, model, gun count
    DELETE /piles/{pile_id}                  remove a registration (refused while connected)
    POST   /piles/import                     many piles, CSV or JSON (gateway/admin/imports.py)
    GET    /accounts                         accounts (no password hashes)
    POST   /accounts                         create an account
    PATCH  /accounts/{account}               edit balance, card, VIN, password, enabled
    DELETE /accounts/{account}               remove (refused during an active service)
    POST   /accounts/import                  many accounts, CSV or JSON
    GET    /stations                         stations and their pile counts
    PUT    /stations/{station_id}            create or rename a station
    GET    /sessions/{session_id}            one stored session with its transitions
    POST   /bills/{bill_id}/corrections      correct a bill's energy (audited)
    GET    /alarms?pile=&status=&limit=&cursor=   alarms, newest first
    POST   /anomalies/{anomaly_id}/resolve   resolve an anomaly or alarm (audited)
    GET    /anomaly_codes                    the operator's anomaly codes and their meaning
    GET    /whoami                           the caller: operator name and role, or admin
    GET    /reports/anomalies_by_month?from=&to=  the anomaly report's totals per month

Pile ids go through protocol.normalize_pile_id like everywhere else: 16 or 20 digits (16 are
padded to 20), anything else is a 422 (in an import: a named bad row, nothing written).
Idle-fee rules (default, station, pile) and tariffs are set through app.py's endpoints, which
also send them to the piles they apply to.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, field_validator

from gateway import corrections, reports
from gateway.admin import access, imports, live
from gateway.storage import queries, registry
from protocol.pile_ids import PileIdError, normalize_pile_id

LOCAL = timezone(timedelta(hours=8))  # the operators' local time, as in gateway/reports.py

ANOMALY_CODES = {
    1: "bill lost",
    2: "bill lost while the pile was offline",
    3: "time anomaly (times out of order or in the future)",
    4: "energy anomaly (meter readings and energy disagree)",
    5: "charge-duration anomaly",
    6: "idle-duration anomaly",
    7: "charge periods of one account overlap",
    8: "energy differs from the gateway's own record",
    9: "charge duration differs from the gateway's",
    10: "idle duration differs from the gateway's",
    11: "energy lost",
}


class PileBody(BaseModel):
    pile_id: str = Field(description="16 or 20 decimal digits (16 are padded to 20)")
    station_id: str | None = Field(default=None, max_length=64)
    station_name: str | None = Field(default=None, max_length=200)
    gun_count: int = Field(default=1, ge=1, le=255)
    vendor: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=64)
    enabled: bool = True

    @field_validator("pile_id")
    @classmethod
    def canonical_pile_id(cls, value: str) -> str:
        return normalize_pile_id(value)  # PileIdError is a ValueError: a 422


class PileEdit(BaseModel):
    station_id: str | None = Field(default=None, max_length=64)
    station_name: str | None = Field(default=None, max_length=200)
    gun_count: int | None = Field(default=None, ge=1, le=255)
    vendor: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=64)


class AccountBody(BaseModel):
    account: str = Field(min_length=1, max_length=64)
    balance_fen: int = 0
    card_token: str | None = Field(default=None, max_length=64)
    vin: str | None = Field(default=None, max_length=32)
    password: str | None = Field(default=None, max_length=128)
    enabled: bool = True


class AccountEdit(BaseModel):
    balance_fen: int | None = None
    card_token: str | None = Field(default=None, max_length=64)
    vin: str | None = Field(default=None, max_length=32)
    password: str | None = Field(default=None, max_length=128)
    enabled: bool | None = None


class StationBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class CorrectionBody(BaseModel):
    energy_kwh: str = Field(description='the corrected energy in kWh, e.g. "12.5"')
    reason: str = Field(min_length=1, max_length=500)
    who: str = Field(default="console", min_length=1, max_length=64)
    refund_from: Literal["pile", "pilegate"] = Field(
        default="pilegate",
        description="count the refund from what the pile charged or from pilegate's amount",
    )
    force: bool = Field(default=False, description="store a figure the plausibility check refuses")


class ResolveBody(BaseModel):
    note: str | None = Field(default=None, max_length=500)
    who: str = Field(default="console", min_length=1, max_length=64)


def _pile_id(value: str) -> str:
    """A pile id from a path in its canonical form, or 422."""
    try:
        return normalize_pile_id(value)
    except PileIdError as exc:
        raise HTTPException(422, str(exc)) from None


def _kwh_to_dwh(text: str) -> int:
    try:
        value = Decimal(text.strip()) * 10_000
    except InvalidOperation:
        raise HTTPException(422, f"energy_kwh must be a number of kWh, got {text!r}") from None
    if value < 0 or value != value.to_integral_value():
        raise HTTPException(422, "energy_kwh must be >= 0 with at most 4 decimals")
    return int(value)


def _months(from_ms: int, to_ms: int) -> list[tuple[str, int, int]]:
    """(YYYY-MM, start, end) of the local calendar months overlapping [from, to)."""
    out: list[tuple[str, int, int]] = []
    day = datetime.fromtimestamp(from_ms / 1000, LOCAL)
    month = datetime(day.year, day.month, 1, tzinfo=LOCAL)
    while int(month.timestamp() * 1000) < to_ms and len(out) < 120:
        nxt = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=LOCAL)
        start, end = int(month.timestamp() * 1000), int(nxt.timestamp() * 1000)
        out.append((month.strftime("%Y-%m"), max(start, from_ms), min(end, to_ms)))
        month = nxt
    return out


def router(gateway: Any) -> APIRouter:
    api = APIRouter()
    storage = gateway.storage
    reader = storage.reader

    def hub_event(kind: str, pile_id: str, **payload: Any) -> None:
        live.broadcast(gateway, kind, pile_id, payload, gateway.now_ms())

    async def body_text(request: Request) -> str:
        raw = await request.body()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HTTPException(422, "the file must be UTF-8") from None

    # --- piles ------------------------------------------------------------------------------

    @api.post("/piles", tags=["registration"], status_code=201)
    async def add_pile(body: PileBody) -> dict[str, Any]:
        if await queries.pile_exists(reader, body.pile_id):
            raise HTTPException(409, f"pile {body.pile_id} is already registered")
        await registry.upsert_piles(storage, [body.model_dump(exclude_none=True)])
        return (await queries.piles_with_stations(reader, body.pile_id))[0]

    @api.post("/piles/import", tags=["registration"])
    async def import_piles(request: Request) -> dict[str, Any]:
        try:
            rows = imports.parse_piles(await body_text(request))
        except imports.ImportRowsError as exc:
            raise HTTPException(422, {"errors": exc.errors}) from None
        result = await registry.upsert_piles(storage, rows)
        return {**result.as_dict(), "rows": len(rows)}

    @api.patch("/piles/{pile_id}", tags=["registration"])
    async def edit_pile(pile_id: str, body: PileEdit) -> dict[str, Any]:
        pile_id = _pile_id(pile_id)
        changes = body.model_dump(exclude_unset=True)
        try:
            await registry.update_pile(storage, pile_id, changes)
        except registry.RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        runtime = gateway.piles.get(pile_id)
        if runtime is not None and "station_id" in changes:
            runtime.info.station_id = changes["station_id"] or None
        return (await queries.piles_with_stations(reader, pile_id))[0]

    @api.delete("/piles/{pile_id}", tags=["registration"])
    async def remove_pile(pile_id: str) -> dict[str, Any]:
        pile_id = _pile_id(pile_id)
        runtime = gateway.piles.get(pile_id)
        if runtime is not None and runtime.online:
            raise HTTPException(409, f"pile {pile_id} is connected: disable it first")
        try:
            await registry.delete_pile(storage, pile_id)
        except registry.RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        if runtime is not None:
            runtime.stop_timers()
            gateway.piles.pop(pile_id, None)
        return {"pile_id": pile_id, "removed": True}

    # --- accounts ---------------------------------------------------------------------------

    @api.get("/accounts", tags=["registration"])
    async def list_accounts(
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = queries.MAX_PAGE,
    ) -> list[dict[str, Any]]:
        return await queries.list_accounts(reader, limit)

    @api.post("/accounts", tags=["registration"], status_code=201)
    async def add_account(body: AccountBody) -> dict[str, Any]:
        if any(a["id"] == body.account for a in await queries.list_accounts(reader)):
            raise HTTPException(409, f"account {body.account} already exists")
        try:
            await registry.upsert_accounts(storage, [body.model_dump(exclude_none=True)])
        except registry.RegistryError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"account": body.account, "created": True}

    @api.post("/accounts/import", tags=["registration"])
    async def import_accounts(request: Request) -> dict[str, Any]:
        try:
            rows = imports.parse_accounts(await body_text(request))
            result = await registry.upsert_accounts(storage, rows)
        except imports.ImportRowsError as exc:
            raise HTTPException(422, {"errors": exc.errors}) from None
        except registry.RegistryError as exc:
            raise HTTPException(409, {"errors": [str(exc)]}) from None
        return {**result.as_dict(), "rows": len(rows)}

    @api.patch("/accounts/{account}", tags=["registration"])
    async def edit_account(account: str, body: AccountEdit) -> dict[str, Any]:
        try:
            await registry.update_account(storage, account, body.model_dump(exclude_unset=True))
        except registry.RegistryError as exc:
            status = 404 if str(exc).startswith("unknown") else 409
            raise HTTPException(status, str(exc)) from None
        return {"account": account, "updated": True}

    @api.delete("/accounts/{account}", tags=["registration"])
    async def remove_account(account: str) -> dict[str, Any]:
        try:
            await registry.delete_account(storage, account)
        except registry.RegistryError as exc:
            status = 404 if str(exc).startswith("unknown") else 409
            raise HTTPException(status, str(exc)) from None
        return {"account": account, "removed": True}

    # --- stations ----------------------------------------------------------------------

    @api.get("/stations", tags=["stations"])
    async def list_stations() -> list[dict[str, Any]]:
        return await queries.list_stations(reader)

    @api.put("/stations/{station_id}", tags=["stations"])
    async def put_station(station_id: str, body: StationBody) -> dict[str, Any]:
        await storage.add_station(station_id, body.name)
        return {"id": station_id, "name": body.name}

    # --- sessions, bills, alarms ------------------------------------------------------------

    @api.get("/sessions/{session_id}", tags=["sessions"])
    async def get_session(session_id: str) -> dict[str, Any]:
        found = await queries.session_with_transitions(reader, session_id)
        if found is None:
            raise HTTPException(404, f"unknown session {session_id}")
        return found

    def who(request: Request, given: str) -> str:
        """An operator token's name; the name the caller gave with the admin token."""
        op = access.operator_of(request)
        return given if op is None else op.name

    @api.get("/whoami", tags=["access"])
    async def whoami(request: Request) -> dict[str, Any]:
        op = access.operator_of(request)
        return {"name": None, "role": "admin"} if op is None else {"name": op.name,
                                                                   "role": op.role}  # fmt: skip

    @api.post("/bills/{bill_id}/corrections", tags=["bills"])
    async def correct_bill(bill_id: str, body: CorrectionBody, request: Request) -> dict[str, Any]:
        energy = _kwh_to_dwh(body.energy_kwh)
        body.who = who(request, body.who)
        try:
            done = await corrections.correct_bill(
                storage, bill_id, energy, reason=body.reason, who=body.who,
                at_ms=gateway.now_ms(), refund_from=body.refund_from, force=body.force,
                max_power_kw=gateway.config.limits.default_max_power_kw,
                publish=gateway.events_enabled,
            )  # fmt: skip
        except corrections.UnknownBill:
            raise HTTPException(404, f"unknown bill {bill_id}") from None
        except ValueError as exc:  # CorrectionRefused, or a bad figure
            raise HTTPException(422, str(exc)) from None
        gateway.log.info(corrections.KIND, pile_id=done.pile_id, **done.payload)
        hub_event(corrections.KIND, done.pile_id, **done.payload)
        return {**done.payload, "pile_charged_fen": done.pile_charged_fen}

    @api.get("/alarms", tags=["anomalies"])
    async def list_alarms(
        pile: str | None = None,
        status: str | None = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        try:
            page = await queries.list_alarms(
                reader, pile_id=pile, status=status, limit=limit, cursor=cursor
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"items": page.rows, "next_cursor": page.next_cursor}

    @api.post("/anomalies/{anomaly_id}/resolve", tags=["anomalies"])
    async def resolve(anomaly_id: str, body: ResolveBody, request: Request) -> dict[str, Any]:
        done = await storage.resolve_anomaly(
            anomaly_id, at_ms=gateway.now_ms(), who=who(request, body.who), note=body.note
        )
        if not done:
            raise HTTPException(409, f"anomaly {anomaly_id} is unknown or already resolved")
        return {"anomaly_id": anomaly_id, "status": "resolved"}

    @api.get("/anomaly_codes", tags=["anomalies"])
    async def anomaly_codes() -> dict[str, str]:
        return {str(k): v for k, v in ANOMALY_CODES.items()}

    @api.get("/reports/anomalies_by_month", tags=["reports"])
    async def anomalies_by_month(
        from_: Annotated[str, Query(alias="from")], to: str
    ) -> dict[str, Any]:
        try:
            start = reports.parse_time(from_)
            end = reports.parse_time(to, end=True)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if start is None or end is None or end <= start:
            raise HTTPException(422, "from and to are required, to after from")
        rows = []
        for month, a, b in _months(start, end):
            total = (await reports.anomaly_report(reader, a, b, "channel"))["total"]
            rows.append({**total, "month": month})
        return {"from_ms": start, "to_ms": end, "rows": rows}

    return api
