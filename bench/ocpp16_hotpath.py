"""OCPP 1.6J hot path on one core, no I/O: an incoming Heartbeat or StatusNotification text is
parsed, validated against the 1.6 schema, turned into a typed message, answered, the answer
validated and encoded (``OcppConnection.receive_text`` → ``events_received`` → ``reply`` →
``data_to_send``). The same texts go through the `ocpp` package's own central-system routing
(``ChargePoint.route_message``: unpack, validate, dispatch to an ``@on`` handler, validate and
send the answer to a connection that drops it), measured in the same run, both with its
default validation in an executor thread and with validation inline; the ratio is ours ÷ the
faster of the two.

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


def theirs(action: str, calls: int, repeat: int, inline: bool) -> float:
    """The library's routing; ``inline`` switches its schema validation from the default
    executor thread (``ocpp.messages.ASYNC_VALIDATION = True``) to the event-loop thread."""
    import ocpp.messages
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

    saved = ocpp.messages.ASYNC_VALIDATION
    ocpp.messages.ASYNC_VALIDATION = not inline
    try:
        run()
        return best_rate(run, repeat)
    finally:
        ocpp.messages.ASYNC_VALIDATION = saved


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
    print(
        f"{'action':<20} {'pilegate /s':>12} {'ocpp lib /s':>12} {'lib inline /s':>14} {'ratio':>6}"
    )
    for action in PAYLOADS:
        mine = ours(action, args.calls, args.repeat)
        key = "heartbeat" if action == "Heartbeat" else "status"
        figures[f"{key}_per_s"] = round(mine)
        if not have_ocpp:
            print(f"{action:<20} {mine:>12,.0f} {'n/a':>12} {'n/a':>14}")
            continue
        lib_calls = max(args.calls // 4, 1000)
        default = theirs(action, lib_calls, args.repeat, inline=False)
        inline = theirs(action, lib_calls, args.repeat, inline=True)
        ratio = mine / max(default, inline)  # against the library's faster configuration
        figures[f"{key}_ocpp_lib_per_s"] = round(default)
        figures[f"{key}_ocpp_lib_inline_per_s"] = round(inline)
        figures[f"{key}_ratio"] = round(ratio, 2)
        print(f"{action:<20} {mine:>12,.0f} {default:>12,.0f} {inline:>14,.0f} {ratio:>6.1f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
