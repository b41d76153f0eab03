"""Admin API routes for OCPP charge points (included by gateway/admin/app.py):

    POST   /ocpp/chargers                    register one {charger_id, connectors, station_id}
    PUT    /ocpp/{charger_id}/password       {password? | authorization_key?, security_profile}
                                             (1 or 2); a random key is made, shown once, if none
    DELETE /ocpp/{charger_id}/password       back to profile 0 (no password)
    POST   /ocpp/{charger_id}/start          {connector, account, channel}, as /piles/.../start
    POST   /ocpp/{charger_id}/stop           {connector}
    POST   /ocpp/{charger_id}/call/{action}  any central-system action with its OCPP payload;
                                             answer {"status", "response"} as the charger said
    GET    /ocpp/{charger_id}/configuration  keys last read by GetConfiguration, read-only flags
    GET    /ocpp/{charger_id}/transactions   OCPP transactions, newest first
    GET    /ocpp/{charger_id}/reservations
    GET    /ocpp/orphan-stops?charger=       StopTransactions that matched no transaction

Charge point ids are strings (1..32 of ``[A-Za-z0-9._:-]``), used as given.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from gateway.adapters.ocpp16 import operator
from gateway.adapters.ocpp16.auth import MAX_PASSWORD, MIN_PASSWORD, hash_password
from gateway.adapters.ocpp16.transport import CHARGER_ID

if TYPE_CHECKING:
    from gateway.app import Gateway


class ChargerBody(BaseModel):
    charger_id: str = Field(pattern=CHARGER_ID.pattern)
    connectors: int = Field(default=2, ge=1, le=255)
    station_id: str | None = Field(default=None, max_length=64)


class PasswordBody(BaseModel):
    password: str | None = Field(default=None, description="the password as text (UTF-8)")
    authorization_key: str | None = Field(
        default=None, description="the AuthorizationKey as hex digits (its bytes are the password)"
    )
    security_profile: int = Field(default=1, ge=1, le=2)


class StartBody(BaseModel):
    connector: int = Field(ge=1)
    account: str
    channel: str = "operator"


class StopBody(BaseModel):
    connector: int = Field(ge=1)


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/ocpp", tags=["ocpp"])
    storage = gateway.storage

    def checked(charger_id: str) -> str:
        if not CHARGER_ID.match(charger_id):
            raise HTTPException(422, f"not a charge point id: {charger_id!r}")
        return charger_id

    def connected(charger_id: str) -> Any:
        server = gateway.ocpp
        charger = None if server is None else server.chargers.get(checked(charger_id))
        if charger is None or charger.closed:
            raise HTTPException(409, f"charge point {charger_id} is not connected")
        return charger

    @api.post("/chargers")
    async def register(body: ChargerBody) -> dict[str, Any]:
        new = await storage.register_charger(
            body.charger_id, gun_count=body.connectors, station_id=body.station_id,
            at_ms=gateway.now_ms(),
        )  # fmt: skip
        return {"charger_id": body.charger_id, "registered": new}

    @api.put("/{charger_id}/password")
    async def set_password(charger_id: str, body: PasswordBody) -> dict[str, Any]:
        shown = None
        if body.authorization_key is not None:
            try:
                password = bytes.fromhex(body.authorization_key)
            except ValueError:
                raise HTTPException(422, "authorization_key must be hex digits") from None
        elif body.password is not None:
            password = body.password.encode()
        else:
            password = secrets.token_bytes(20)
            shown = password.hex()
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise HTTPException(422, f"a password is {MIN_PASSWORD}..{MAX_PASSWORD} bytes")
        ok = await storage.set_charger_password(
            checked(charger_id), hash_password(password), body.security_profile,
            at_ms=gateway.now_ms(),
        )  # fmt: skip
        if not ok:
            raise HTTPException(404, f"unknown charge point {charger_id}")
        out: dict[str, Any] = {"charger_id": charger_id, "security_profile": body.security_profile}
        if shown is not None:
            out["authorization_key"] = shown  # generated: this answer is the only place it shows
        return out

    @api.delete("/{charger_id}/password")
    async def clear_password(charger_id: str) -> dict[str, Any]:
        if not await storage.set_charger_password(
            checked(charger_id), None, 0, at_ms=gateway.now_ms()
        ):
            raise HTTPException(404, f"unknown charge point {charger_id}")
        return {"charger_id": charger_id, "security_profile": 0}

    @api.post("/{charger_id}/start")
    async def start(charger_id: str, body: StartBody) -> dict[str, Any]:
        connected(charger_id)
        pile = gateway.piles[charger_id]
        result = await pile.start(body.connector, body.account, body.channel)
        return result.as_dict()

    @api.post("/{charger_id}/stop")
    async def stop(charger_id: str, body: StopBody) -> dict[str, Any]:
        connected(charger_id)
        result = await gateway.piles[charger_id].stop(body.connector)
        return result.as_dict()

    @api.post("/{charger_id}/call/{action}")
    async def call(charger_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
        charger = connected(charger_id)
        try:
            answer = await operator.send(charger, storage, action, body or {}, gateway.now_ms())
        except operator.BadCommand as exc:
            raise HTTPException(422, str(exc)) from None
        return answer.as_dict()

    @api.get("/{charger_id}/configuration")
    async def configuration(charger_id: str) -> list[dict[str, Any]]:
        return await storage.config_keys(checked(charger_id))

    @api.get("/{charger_id}/transactions")
    async def transactions(charger_id: str, limit: int = 100) -> list[dict[str, Any]]:
        found = await storage.ocpp_transactions(checked(charger_id), limit=min(limit, 1000))
        return [dataclasses.asdict(tx) for tx in found]

    @api.get("/{charger_id}/reservations")
    async def reservations(charger_id: str) -> list[dict[str, Any]]:
        return await storage.reservations(checked(charger_id))

    @api.get("/orphan-stops")
    async def orphan_stops(charger: str | None = None) -> list[dict[str, Any]]:
        return await storage.orphan_stops(None if charger is None else checked(charger))

    return api
