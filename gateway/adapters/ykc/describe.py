"""The meaning of a journaled YKC frame in words, for `pilegate frames` and the console.

Journal rows of YKC frames are named ``YKC_<FRAME TYPE>`` (``YKC_LOGIN``, ``YKC_REALTIME``,
``YKC_BILL``, ...) so that they never read as protocol v1's frames of the same name; their
fields are the decoded message (docs/ykc.md §4), values in YKC's own units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.adapters.ykc.codes import START_FAIL, STOP_FAIL, fail_name, stop_kind, trade_channel

PREFIX = "YKC_"
_STATUS = {0: "offline", 1: "faulted", 2: "idle", 3: "charging"}
_MODE = {1: "card", 2: "account", 3: "VIN"}


def _kwh(dwh: Any) -> str:
    return f"{int(dwh or 0) / 10_000:.4f} kWh"


def _cny_e4(e4: Any) -> str:
    return f"{int(e4 or 0) / 10_000:.4f} CNY"


def _time(t: Any) -> str:
    if not isinstance(t, Mapping):
        return "no time"
    seconds = int(t.get("millisecond", 0)) // 1000
    return (
        f"{t.get('year')}-{t.get('month', 0):02d}-{t.get('day', 0):02d} "
        f"{t.get('hour', 0):02d}:{t.get('minute', 0):02d}:{seconds:02d} (pile time)"
    )


def _label(table: Mapping[int, str], value: Any) -> str:
    return table.get(value, str(value)) if isinstance(value, int) else str(value)


def _ok(value: Any, ok: int = 1) -> str:
    return "ok" if value == ok else "failed"


def _bill(f: Mapping[str, Any]) -> str:
    reason = int(f.get("stop_reason") or 0)
    return (
        f"bill for trade {f.get('trade_no')} gun {f.get('gun')}: {_kwh(f.get('total_energy_dwh'))},"
        f" total {_cny_e4(f.get('total_amount_e4'))}, {_time(f.get('start_time'))} .. "
        f"{_time(f.get('end_time'))}, {trade_channel(int(f.get('trade_flag') or 0))}, "
        f"stop reason 0x{reason:02X} ({stop_kind(reason)})"
    )


_MEANINGS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "LOGIN": lambda f: (
        f"pile logged in: YKC V{int(f.get('protocol_version') or 0) / 10:.1f}, "
        f"{'DC' if f.get('pile_type') == 0 else 'AC'}, {f.get('gun_count')} guns, "
        f"program {f.get('program_version')}"
    ),
    "LOGIN_REPLY": lambda f: f"login answered {'ok' if f.get('result') == 0 else 'refused'}",
    "HEARTBEAT": lambda f: f"heartbeat gun {f.get('gun')}: {_ok(f.get('gun_state'), 0)}",
    "HEARTBEAT_REPLY": lambda f: f"heartbeat answered, gun {f.get('gun')}",
    "MODEL_VERIFY": lambda f: f"pile holds billing model {f.get('model_id')}",
    "MODEL_VERIFY_REPLY": lambda f: (
        f"billing model {f.get('model_id')} "
        + ("is current" if f.get("result") == 0 else "differs: the pile is to ask for it")
    ),
    "MODEL_REQUEST": lambda f: "pile asks for its billing model",
    "MODEL_REPLY": lambda f: f"billing model {f.get('model_id')} sent",
    "SET_MODEL": lambda f: f"billing model {f.get('model_id')} pushed",
    "SET_MODEL_REPLY": lambda f: f"billing model set: {_ok(f.get('result'))}",
    "READ_REALTIME": lambda f: f"real-time data asked for, gun {f.get('gun')}",
    "REALTIME": lambda f: (
        f"gun {f.get('gun')} {_label(_STATUS, f.get('status'))}"
        f"{', plugged' if f.get('plugged') == 1 else ''}: {_kwh(f.get('energy_dwh'))}, "
        f"{_cny_e4(f.get('amount_e4'))}, SOC {f.get('soc')} %, trade {f.get('trade_no')}"
    ),
    "START_REQUEST": lambda f: (
        f"start asked for at the pile, gun {f.get('gun')}, by {_label(_MODE, f.get('start_mode'))}"
    ),
    "START_AUTHORISATION": lambda f: (
        f"start authorised, trade {f.get('trade_no')}"
        if f.get("authorised") == 1
        else f"start refused (reason 0x{int(f.get('fail_reason') or 0):02X})"
    ),
    "REMOTE_START": lambda f: (
        f"start command: gun {f.get('gun')}, trade {f.get('trade_no')}, "
        f"balance {int(f.get('balance_fen') or 0) / 100:.2f} CNY"
    ),
    "REMOTE_START_RESULT": lambda f: (
        f"start result on gun {f.get('gun')}: "
        + ("ok" if f.get("result") == 1 else fail_name(START_FAIL, int(f.get("fail_reason") or 0)))
    ),
    "REMOTE_STOP": lambda f: f"stop command: gun {f.get('gun')}",
    "REMOTE_STOP_RESULT": lambda f: (
        f"stop result on gun {f.get('gun')}: "
        + ("ok" if f.get("result") == 1 else fail_name(STOP_FAIL, int(f.get("fail_reason") or 0)))
    ),
    "BILL": _bill,
    "BILL_V17": lambda f: _bill(f) + f", meter {f.get('meter_number')}",
    "BILL_CONFIRM": lambda f: (
        f"bill {f.get('trade_no')} confirmed"
        if f.get("result") == 0
        else f"bill {f.get('trade_no')} answered illegal"
    ),
    "TIME_SYNC": lambda f: f"clock set to {_time(f.get('time'))}",
    "TIME_SYNC_REPLY": lambda f: f"pile clock now {_time(f.get('time'))}",
    "REBOOT": lambda f: f"reboot {'now' if f.get('control') == 1 else 'when idle'}",
    "REBOOT_REPLY": lambda f: f"reboot: {_ok(f.get('result'))}",
}


def describe_ykc(type_name: str, fields: Mapping[str, Any]) -> str | None:
    """The meaning of a ``YKC_...`` journal row; None for a name that is not YKC's."""
    if not type_name.startswith(PREFIX):
        return None
    name = type_name[len(PREFIX) :]
    if name.startswith("INVALID:"):
        return f"undecodable YKC frame ({fields.get('error')}): {fields.get('detail', '')}"
    meaning = _MEANINGS.get(name)
    if meaning is None:
        return None
    try:
        return meaning(fields)
    except (TypeError, ValueError):
        return None  # a row of an older layout: the caller lists its fields instead
