"""OCPP 1.6J hot path on one core, no I/O: an incoming Heartbeat or StatusNotification text is
parsed, validated against the 1.6 schema, turned into a typed message, answered, the answer
validated and encoded (``OcppConnection.receive_text`` → ``events_received`` → ``reply`` →
``data_to_send``). The same texts go through the `ocpp` package's own central-system routing
(``ChargePoint.route_message``: unpack, validate, dispatch to an ``@on`` handler, validate and
send the answer to a connection that drops it), measured in the same run; the ratio is ours ÷
theirs.

    python bench/ocpp16_hotpath.py [--calls N] [--repeat R]

Prints a table and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from protocol.ocpp16 import messages as m  # noqa: E402
from protocol.ocpp16.connection import OcppConnection  # noqa: E402

NOW_MS = 1_767_225_600_000
NOW_ISO = "2026-01-01T00:00:00.000Z"
STATUS = {
    "connectorId": 1,
    "errorCode": "NoError",
    "status": "Charging",
    "timestamp": "2026-01-01T00:00:00Z",
}
PAYLOADS = {"Heartbeat": {}, "StatusNotification": STATUS}


def texts(action: str, calls: int) -> list[str]:
    payload = PAYLOADS[action]
    return [orjson.dumps([2, str(i), action, payload]).decode() for i in range(calls)]


def best_rate(run: Callable[[], int], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        best = max(best, count / (time.perf_counter() - start))
    return best


def ours(action: str, calls: int, repeat: int) -> float:
    frames = texts(action, calls)

    def run() -> int:
        conn = OcppConnection()
        answered = 0
        for text in frames:
            conn.receive_text(text, 0.0)
            for call in conn.events_received():
                if call.action == "Heartbeat":
                    conn.reply(call, m.HeartbeatResponse(current_time=NOW_MS))
                else:
                    conn.reply(call, m.StatusNotificationResponse())
            answered += len(conn.data_to_send())
        return answered

    run()  # compile the validators before timing
    return best_rate(run, repeat)


def theirs(action: str, calls: int, repeat: int) -> float:
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action

    class Sink:
        sent = 0

        async def send(self, message: str) -> None:
            self.sent += 1

        async def recv(self) -> str:  # pragma: no cover - not used: route_message is fed directly
            raise RuntimeError

    class CentralSystem(ChargePoint):
        @on(Action.heartbeat)
        async def on_heartbeat(self) -> call_result.Heartbeat:
            return call_result.Heartbeat(current_time=NOW_ISO)

        @on(Action.status_notification)
        async def on_status(self, **_: Any) -> call_result.StatusNotification:
            return call_result.StatusNotification()

    frames = texts(action, calls)

    async def drive() -> int:
        sink = Sink()
        cp = CentralSystem("CP1", sink)
        for text in frames:
            await cp.route_message(text)
        return sink.sent

    def run() -> int:
        return asyncio.run(drive())

    run()
    return best_rate(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import ocpp  # noqa: F401

        have_ocpp = True
    except ImportError:
        have_ocpp = False
    figures: dict[str, Any] = {"bench": "ocpp16_hotpath", "python": platform.python_version()}
    print(f"{'action':<20} {'pilegate calls/s':>17} {'ocpp lib calls/s':>17} {'ratio':>7}")
    for action in PAYLOADS:
        mine = ours(action, args.calls, args.repeat)
        other = theirs(action, max(args.calls // 4, 1000), args.repeat) if have_ocpp else None
        ratio = mine / other if other else None
        key = "heartbeat" if action == "Heartbeat" else "status"
        figures[f"{key}_per_s"] = round(mine)
        figures[f"{key}_ocpp_lib_per_s"] = round(other) if other else None
        figures[f"{key}_ratio"] = round(ratio, 2) if ratio else None
        shown = f"{other:>17,.0f} {ratio:>7.1f}" if other and ratio else f"{'n/a':>17} {'':>7}"
        print(f"{action:<20} {mine:>17,.0f} {shown}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
