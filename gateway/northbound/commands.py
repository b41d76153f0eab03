"""MQTT command payloads -> calls of the gateway's command API (docs/mqtt.md, "Commands").

Parsing is strict and separate from I/O: a bad payload raises BadRequest with a message that
says what is wrong, and the bridge answers ``{"outcome": "rejected", "reason": "bad_request:
..."}`` without touching the pile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from billing.idle_fee import IdleFeeRule
from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff, TariffError
from gateway.commands import CommandResult
from gateway.dialect import check_channel
from protocol.error_root import PilegateError
from protocol.pile_ids import PileIdError, normalize_pile_id

COMMANDS = (
    "start", "stop", "enable", "disable", "set_tariff", "set_idle_fee", "query_bills", "time_sync",
)  # fmt: skip


class BadRequest(PilegateError, ValueError):
    """A command the bridge cannot execute as sent; the message goes into the reply."""


Call = Callable[[Any], Awaitable[CommandResult]]  # gateway -> result


def topic_pile_id(text: str) -> str | None:
    """The pile of a command topic in canonical form (16 digits are padded to 20); None for
    a topic level that is not a pile id (no instance holds such a pile: nobody answers)."""
    try:
        return normalize_pile_id(text)
    except PileIdError:
        return None


def _object(payload: bytes) -> dict[str, Any]:
    if not payload or not payload.strip():
        return {}
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"payload is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest("payload must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str, *, lo: int, hi: int, default: int | None = None) -> int:
    value = body.get(key, default)
    if value is None:
        raise BadRequest(f"{key} is required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{key} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise BadRequest(f"{key} must be {lo}..{hi}, got {value}")
    return value


def _text(body: dict[str, Any], key: str, *, default: str | None = None) -> str:
    value = body.get(key, default)
    if value is None:
        raise BadRequest(f"{key} is required")
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} must be a non-empty string, got {value!r}")
    return value


def tariff_from_json(body: dict[str, Any], pile_id: str) -> Tariff:
    """A Tariff from the set_tariff payload (docs/mqtt.md). Scope defaults to this pile."""
    pile_id = topic_pile_id(pile_id) or pile_id
    scope = _text(body, "scope_kind", default="pile")
    try:
        scope_kind = ScopeKind(scope)
    except ValueError:
        scope_kind = None
    if scope_kind not in (ScopeKind.PILE, ScopeKind.STATION):
        raise BadRequest(f"scope_kind must be pile or station, got {scope!r}")
    scope_id = _text(body, "scope_id", default=pile_id if scope_kind is ScopeKind.PILE else None)
    if scope_kind is ScopeKind.PILE:
        scope_id = topic_pile_id(scope_id) or scope_id
    if scope_kind is ScopeKind.PILE and scope_id != pile_id:
        raise BadRequest(f"scope_id {scope_id!r} is not the pile of the topic ({pile_id})")
    prices_in = body.get("prices")
    if not isinstance(prices_in, dict):
        raise BadRequest("prices must be an object {sharp|peak|flat|valley: {...}}")
    prices: dict[PeriodKind, PeriodPrice] = {}
    for name, price in prices_in.items():
        try:
            kind = PeriodKind(name)
        except ValueError:
            raise BadRequest(f"unknown period {name!r} in prices") from None
        if not isinstance(price, dict):
            raise BadRequest(f"prices.{name} must be an object")
        prices[kind] = PeriodPrice(
            _int(price, "energy_e4", lo=0, hi=2**31 - 1),
            _int(price, "service_e4", lo=0, hi=2**31 - 1),
        )
    segments_in = body.get("segments")
    if not isinstance(segments_in, list) or not segments_in:
        raise BadRequest("segments must be a non-empty list of {start_minute, kind}")
    segments = []
    for seg in segments_in:
        if not isinstance(seg, dict):
            raise BadRequest("each segment must be an object {start_minute, kind}")
        try:
            kind = PeriodKind(_text(seg, "kind"))
        except ValueError:
            raise BadRequest(f"unknown period {seg.get('kind')!r} in segments") from None
        segments.append(Segment(_int(seg, "start_minute", lo=0, hi=1439), kind))
    try:
        return Tariff(
            tariff_id=_text(body, "tariff_id"),
            scope_kind=scope_kind,
            scope_id=scope_id,
            effective_from_ms=_int(body, "effective_from_ms", lo=0, hi=2**63 - 1),
            prices=prices,
            segments=tuple(segments),
            utc_offset_minutes=_int(body, "utc_offset_minutes", lo=-720, hi=840, default=480),
        )
    except TariffError as exc:
        raise BadRequest(f"tariff: {exc}") from None


def idle_fee_from_json(body: dict[str, Any]) -> IdleFeeRule:
    """The set_idle_fee payload: {grace_minutes, rate_fen_per_minute, cap_fen (null: none)}."""
    cap = body.get("cap_fen")
    return IdleFeeRule(
        _int(body, "grace_minutes", lo=0, hi=65_535),
        _int(body, "rate_fen_per_minute", lo=0, hi=2**31 - 1),
        None if cap is None else _int(body, "cap_fen", lo=0, hi=2**32 - 2),
    )


def parse(command: str, pile_id: str, payload: bytes) -> tuple[int, Call]:
    """(gun, call) for a command on pilegate/v1/cmd/{pile_id}/{command}; BadRequest if the
    pile id, the command or its payload is malformed. ``call(gateway)`` runs it."""
    canonical = topic_pile_id(pile_id)
    if canonical is None:
        raise BadRequest(f"a pile id is 16 or 20 decimal digits, got {pile_id!r}")
    pile_id = canonical
    body = _object(payload)
    if command == "start":
        gun = _int(body, "gun", lo=1, hi=255)
        account = _text(body, "account")
        channel = _text(body, "channel", default="operator")
        try:
            check_channel(channel)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return gun, lambda gw: gw.start_charge(pile_id, gun, account, channel)
    if command == "stop":
        gun = _int(body, "gun", lo=1, hi=255)
        return gun, lambda gw: gw.stop_charge(pile_id, gun)
    if command in ("enable", "disable"):
        enabled = command == "enable"
        return 0, lambda gw: gw.set_enabled(pile_id, enabled)
    if command == "query_bills":
        gun = _int(body, "gun", lo=0, hi=255, default=0)
        return gun, lambda gw: gw.query_bills(pile_id, gun)
    if command == "set_tariff":
        tariff = tariff_from_json(body, pile_id)
        return 0, lambda gw: gw.set_tariff(pile_id, tariff)
    if command == "set_idle_fee":
        rule = idle_fee_from_json(body)
        return 0, lambda gw: gw.set_idle_fee(pile_id, rule)
    if command == "time_sync":
        return 0, lambda gw: gw.time_sync(pile_id)
    raise BadRequest(f"unknown command {command!r} (one of {', '.join(COMMANDS)})")
