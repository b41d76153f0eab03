"""Payload validation against the official OCPP 1.6 JSON schemas, as shipped by the maintained
``ocpp`` package (``ocpp/v16/schemas/<Action>.json`` and ``<Action>Response.json``).

Each schema is compiled by fastjsonschema into a Python function the first time it is needed and
kept: no schema is read or compiled twice. A failure becomes an ``OcppError`` with the 1.6 code
that names what went wrong (see docs/ocpp.md for the table).

One deliberate leniency: a ``date-time`` without a UTC offset (``2026-01-02T03:04:05``) is
accepted and read as UTC. The schema's format asks for an offset, but charge points in the
field send such timestamps, and refusing a StopTransaction for it would only make the charge
point retry it forever.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

import fastjsonschema
import orjson

from protocol.ocpp16.errors import ErrorCode, OcppError

Validator = Callable[[Any], Any]

_DATE_TIME = (
    r"^\d{4}-[01]\d-[0-3]\d[Tt][0-2]\d:[0-5]\d:[0-6]\d(?:\.\d{1,9})?"
    r"(?:[Zz]|[+-][0-2]\d:?[0-5]\d)?\Z"
)

_RULE_CODES = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
    "additionalItems": ErrorCode.FORMATION_VIOLATION,
}
# Everything else (enum, maxLength, format, minimum, pattern, ...) is a field with a bad value.
_DEFAULT_CODE = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION

_SCHEMA_DIR = files("ocpp").joinpath("v16", "schemas")
# The schema names, listed once: a peer's action text is only ever looked up in this set, so
# neither a path nor an unbounded cache can be built from it.
SCHEMA_NAMES = frozenset(
    entry.name.removesuffix(".json")
    for entry in _SCHEMA_DIR.iterdir()
    if entry.name.endswith(".json")
)
_cache: dict[str, Validator] = {}


def _compile(name: str) -> Validator:
    schema = orjson.loads(_SCHEMA_DIR.joinpath(f"{name}.json").read_bytes())
    return fastjsonschema.compile(schema, formats={"date-time": _DATE_TIME}, use_default=False)


def validator(action: str, response: bool = False) -> Validator | None:
    """The compiled validator of ``action``'s request (or response); None for an unknown action."""
    name = f"{action}Response" if response else action
    try:
        return _cache[name]
    except KeyError:
        pass
    if name not in SCHEMA_NAMES:
        return None
    compiled = _cache[name] = _compile(name)
    return compiled


def known_action(action: str) -> bool:
    return validator(action) is not None


def validate(action: str, payload: Any, response: bool = False) -> OcppError | None:
    """None when ``payload`` is valid for ``action``; else the error that describes why not."""
    check = validator(action, response)
    if check is None:
        return OcppError(ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}", action=action)
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_CODES.get(exc.rule or "", _DEFAULT_CODE)
        where = (exc.name or "data").removeprefix("data").lstrip(".") or "payload"
        return OcppError(
            code,
            f"{where}: {exc.message}"[:255],
            action=action,
            details={"rule": exc.rule, "field": where},
        )
    return None


def compile_all(actions: list[str]) -> None:
    """Compile every request and response validator now (e.g. before serving)."""
    for action in actions:
        validator(action)
        validator(action, response=True)
