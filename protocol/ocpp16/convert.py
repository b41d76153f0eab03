"""Payload dicts <-> typed dataclasses, planned once per class from its type hints.

Field ``id_tag`` is JSON key ``idTag``; a field typed ``EpochMs`` is an ISO-8601 ``date-time``
on the wire and UTC epoch milliseconds in Python; nested dataclasses and lists of them recurse.
The plan (one tuple of field converters per class) is built the first time a class is used, as
protocol/pilegate/plan.py does for the binary bodies, so decoding does no type introspection
per message.
Decoding assumes the payload already passed schema validation; what the schema cannot catch
(an impossible date such as 31 February) raises ``ConversionError``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from protocol.error_root import PilegateError

ISO_TIME = "ocpp16.date-time"
EpochMs = Annotated[int, ISO_TIME]
"""UTC milliseconds since 1970; an ISO-8601 date-time in the JSON."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

T = TypeVar("T")
Convert = Callable[[Any], Any]


class ConversionError(PilegateError, ValueError):
    """A value the schema let through but that has no typed meaning (e.g. 2026-02-31)."""


def iso_to_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise ConversionError(f"not a date-time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no offset: read as UTC (see schemas.py)
    return (moment - _EPOCH) // _MS


_NAIVE_EPOCH = datetime(1970, 1, 1)
_last_second: list[tuple[int, str]] = [(0, "1970-01-01T00:00:00")]


def ms_to_iso(ms: int) -> str:
    # Answers (Heartbeat's currentTime, ...) mostly carry the same second again and again:
    # the formatted second is kept, so only the milliseconds are written per call.
    second = ms // 1000
    cached_second, text = _last_second[0]
    if second != cached_second:
        text = (_NAIVE_EPOCH + timedelta(seconds=second)).isoformat()
        _last_second[0] = (second, text)
    return f"{text}.{ms % 1000:03d}Z"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _same(value: Any) -> Any:
    return value


def _to_float(value: Any) -> float:
    return float(value)


_Plan = tuple[tuple[str, str, Convert, Convert], ...]  # (attribute, key, decode, encode)
_plans: dict[type, _Plan] = {}


def _converters(hint: Any) -> tuple[Convert, Convert]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _converters(inner[0])
    if origin is Annotated:
        if ISO_TIME in hint.__metadata__:
            return iso_to_ms, ms_to_iso
        return _converters(typing.get_args(hint)[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        dec, enc = _converters(item)
        if dec is _same:
            return list, list
        return (lambda xs: [dec(x) for x in xs]), (lambda xs: [enc(x) for x in xs])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls = hint
        return (lambda d: from_payload(cls, d)), to_payload
    if hint is float:
        return _to_float, _same
    return _same, _same


def _plan(cls: type) -> _Plan:
    try:
        return _plans[cls]
    except KeyError:
        pass
    hints = typing.get_type_hints(cls, include_extras=True)
    plan = tuple(
        (f.name, f.metadata.get("key", camel(f.name)), *_converters(hints[f.name]))
        for f in dataclasses.fields(cls)
    )
    _plans[cls] = plan
    return plan


def from_payload(cls: type[T], payload: dict[str, Any]) -> T:
    kwargs = {}
    for attr, key, decode, _ in _plan(cls):
        value = payload.get(key)
        if value is not None:
            kwargs[attr] = value if decode is _same else decode(value)
    return cls(**kwargs)


def to_payload(message: Any) -> dict[str, Any]:
    out = {}
    for attr, key, _, encode in _plan(type(message)):
        value = getattr(message, attr)
        if value is not None:
            out[key] = value if encode is _same else encode(value)
    return out
