"""``pilegate serve``: run the gateway until SIGTERM/SIGINT.

The first signal stops accepting, finishes and acknowledges what is in flight, flushes and
closes; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from gateway.admin import AdminServer, AdminStartError
from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.logs import configure_logging, get_logger
from gateway.northbound import MqttBridge
from gateway.storage import Storage
from gateway.storage.migrate import SchemaOutOfDate
from gateway.tls import TlsConfigError


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (the `fast` extra), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def open_storage(config: GatewayConfig) -> Storage:
    """Storage at the configured URL. The embedded default (no URL) gets its schema created
    and upgraded by itself, so one command starts a new gateway; a configured database must
    have been upgraded with `pilegate db upgrade`, else SchemaOutOfDate."""
    d = config.database
    return await Storage.open(
        d.url or None,
        batch_rows=d.batch_rows,
        flush_ms=d.batch_ms,
        upgrade=not d.url,
        max_pending=d.max_pending_rows,
        close_timeout_s=d.close_timeout_s,
        pool_size=d.pool_size,
        pool_timeout_s=d.pool_timeout_s,
    )


async def serve(
    config: GatewayConfig, ready: Callable[[Gateway], Awaitable[None]] | None = None
) -> int:
    configure_logging(config.log.level)
    log = get_logger()
    try:
        storage = await open_storage(config)
    except SchemaOutOfDate as exc:
        log.error("schema_out_of_date", detail=str(exc))
        print(f"pilegate: {exc}", file=sys.stderr)
        return 1
    gateway = Gateway(config, storage)
    try:
        await gateway.start()
    except TlsConfigError as exc:
        await storage.close()
        log.error("tls_failed", error=str(exc))
        print(f"pilegate: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        await storage.close()
        log.error("listen_failed", error=str(exc))
        print(f"pilegate: cannot listen: {exc}", file=sys.stderr)
        return 1

    bridge = MqttBridge(gateway, config.mqtt.url) if config.mqtt.url else None
    if bridge is not None:
        await bridge.start()  # connects in the background; piles are served without it
    admin = AdminServer(gateway, config.admin, bridge=bridge) if config.admin.port else None
    if admin is not None:
        try:
            await admin.start()
        except AdminStartError as exc:
            if bridge is not None:
                await bridge.stop()
            await gateway.stop()
            log.error("admin_start_failed", error=str(exc))
            print(f"pilegate: {exc}", file=sys.stderr)
            return 1

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.warning("second_signal_exiting_now", signal=signal.Signals(signum).name)
            os._exit(130)
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        if ready is not None:
            await ready(gateway)
        await stop.wait()
    finally:
        if admin is not None:
            await admin.stop()
        if bridge is not None:
            await bridge.stop()  # before the gateway: it closes storage
        await gateway.stop()
    return 0
