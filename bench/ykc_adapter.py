"""YKC heartbeats through the gateway's YKC adapter on one core: bytes in -> decoded ->
answered (0x04 encoded, written) -> nothing journaled (a steady heartbeat), as on the
gateway's hot path, with an in-memory host (no database, no sockets).

    python bench/ykc_adapter.py [--frames N] [--chunk BYTES]

Prints heartbeats answered per second of CPU time (``time.process_time``) and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.adapters.ykc.connection import YkcPileConnection  # noqa: E402
from gateway.adapters.ykc.host import YkcLimits, YkcLogin  # noqa: E402
from protocol.ykc import CrcOrder, Heartbeat, Login, encode  # noqa: E402

PILE = "32010600019236"


class _Log:
    def bind(self, **_: Any) -> _Log:
        return self

    def __getattr__(self, _: str) -> Any:
        return lambda *a, **k: None


class _Port:
    pile_id = PILE

    def connected(self, *_: Any) -> None: ...
    def reports(self, *_: Any) -> None: ...


class _Host:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.log, self.limits = loop, _Log(), YkcLimits()
        self.written = 0

    def now_ms(self) -> int:
        return 1_700_000_000_000

    def journal(self, *_: Any, **__: Any) -> None: ...
    def touch(self, *_: Any) -> None: ...

    async def login(self, link: Any, login: YkcLogin) -> _Port:
        return _Port()

    def logged_in(self, *_: Any) -> None: ...
    def connection_lost(self, *_: Any) -> None: ...


class _Link:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def close(self) -> None: ...

    def write_buffer_size(self) -> int:
        return 0


async def run(frames: int, chunk: int) -> dict[str, float]:
    host, link = _Host(asyncio.get_running_loop()), _Link()
    conn = YkcPileConnection(host, link, "tcp:127.0.0.1:1")  # type: ignore[arg-type]
    conn.data_received(encode(Login(PILE, 0, 2, 16, "V1", 0, "0" * 20, 0), 0))
    if conn._worker is not None:
        await conn._worker  # the login
    stream = b"".join(
        encode(Heartbeat(PILE, f"{seq % 2 + 1:02d}", 0), seq & 0xFFFF, CrcOrder.HIGH_FIRST)
        for seq in range(frames)
    )
    before = link.bytes
    started = time.process_time()
    for offset in range(0, len(stream), chunk):
        conn.data_received(stream[offset : offset + chunk])
    cpu = time.process_time() - started
    answered = (link.bytes - before) // 17  # a 0x04 frame is 17 bytes
    return {"heartbeats": frames, "answered": answered, "per_cpu_second": answered / cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=4096)
    args = parser.parse_args()
    figures = asyncio.run(run(args.frames, args.chunk))
    print(f"YKC heartbeats answered by the adapter: {figures['per_cpu_second']:,.0f}/s CPU")
    print(json.dumps({"ykc_adapter_heartbeat": figures}))
    return 0 if figures["answered"] == args.frames else 1


if __name__ == "__main__":
    raise SystemExit(main())
