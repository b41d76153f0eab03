"""Bulk registration files: piles and accounts as CSV (a header row) or JSON (a list of
objects), parsed and validated whole before anything is written.

    piles:    pile_id, station_id, station_name, guns (or gun_count), vendor, model, enabled
    accounts: account (or id), balance_fen, card (or card_token), vin, password, enabled

Only `pile_id` / `account` is required (a pile id is 16 or 20 digits, kept as 20); an empty
cell leaves the field as it is (or its default for a new row). Used by `POST /piles/import`,
`POST /accounts/import`, `pilegate piles import FILE` and `pilegate accounts import FILE`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from protocol.error_root import PilegateError
from protocol.pile_ids import normalize_pile_id

TRUE = {"1", "true", "yes", "y", "on"}
FALSE = {"0", "false", "no", "n", "off"}
MAX_ROWS = 100_000


class ImportRowsError(PilegateError, ValueError):
    """The file cannot be imported; `errors` says which rows and why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:10]) + (" ..." if len(errors) > 10 else ""))
        self.errors = errors


def read_records(text: str) -> list[dict[str, Any]]:
    """JSON (a list of objects) when the text starts with '[', else CSV with a header."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ImportRowsError([f"not valid JSON: {exc}"]) from None
        if not all(isinstance(x, dict) for x in data):
            raise ImportRowsError(["JSON must be a list of objects"])
        return data
    reader = csv.DictReader(io.StringIO(stripped))
    if not reader.fieldnames:
        raise ImportRowsError(["empty file: a header row is required"])
    rows = []
    for row in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
    return rows


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _int(value: Any, low: int, high: int, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not low <= n <= high:
        raise ValueError(f"{name} must be {low}..{high}, got {n}")
    return n


def _text(value: Any, name: str, max_len: int) -> str:
    text = str(value).strip()
    if len(text) > max_len:
        raise ValueError(f"{name} longer than {max_len} characters")
    return text


def pile_row(raw: dict[str, Any]) -> dict[str, Any]:
    # PileIdError is a ValueError: the row is named as bad and nothing is imported.
    pile_id = normalize_pile_id(str(raw.get("pile_id") or raw.get("id") or ""))
    out: dict[str, Any] = {"pile_id": pile_id}
    if _given(raw.get("station_id")):
        out["station_id"] = _text(raw["station_id"], "station_id", 64)
    if _given(raw.get("station_name")):
        out["station_name"] = _text(raw["station_name"], "station_name", 200)
    guns = raw.get("guns", raw.get("gun_count"))
    if _given(guns):
        out["gun_count"] = _int(guns, 1, 255, "guns")
    for key in ("vendor", "model"):
        if _given(raw.get(key)):
            out[key] = _text(raw[key], key, 64)
    if _given(raw.get("enabled")):
        out["enabled"] = _bool(raw["enabled"])
    return out


def account_row(raw: dict[str, Any]) -> dict[str, Any]:
    account = _text(raw.get("account") or raw.get("id") or "", "account", 64)
    if not account:
        raise ValueError("account is required")
    out: dict[str, Any] = {"account": account}
    if _given(raw.get("balance_fen")):
        out["balance_fen"] = _int(raw["balance_fen"], -(10**12), 10**12, "balance_fen")
    card = raw.get("card", raw.get("card_token"))
    if _given(card):
        out["card_token"] = _text(card, "card", 64)
    if _given(raw.get("vin")):
        out["vin"] = _text(raw["vin"], "vin", 32)
    if _given(raw.get("password")):
        out["password"] = _text(raw["password"], "password", 128)
    if _given(raw.get("enabled")):
        out["enabled"] = _bool(raw["enabled"])
    return out


def _parse(text: str, convert: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> list:
    records = read_records(text)
    if len(records) > MAX_ROWS:
        raise ImportRowsError([f"at most {MAX_ROWS} rows per import, got {len(records)}"])
    errors, rows, seen = [], [], set()
    for n, raw in enumerate(records, start=1):
        try:
            row = convert(raw)
        except ValueError as exc:
            errors.append(f"row {n}: {exc}")
            continue
        if row[key] in seen:
            errors.append(f"row {n}: {row[key]} appears twice")
        seen.add(row[key])
        rows.append(row)
    if errors:
        raise ImportRowsError(errors)
    if not rows:
        raise ImportRowsError(["no rows to import"])
    return rows


def parse_piles(text: str) -> list[dict[str, Any]]:
    return _parse(text, pile_row, "pile_id")


def parse_accounts(text: str) -> list[dict[str, Any]]:
    return _parse(text, account_row, "account")
