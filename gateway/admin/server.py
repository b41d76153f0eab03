"""`AdminServer`: the admin API served by uvicorn as a task of the gateway's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.admin.app import create_app
from gateway.config import AdminConfig
from gateway.logs import get_logger
from protocol.error_root import PilegateError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class AdminStartError(PilegateError, RuntimeError):
    """The admin API could not start (refused configuration or the port is taken)."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AdminServer:
    def __init__(self, gateway: Any, config: AdminConfig, *, bridge: Any = None) -> None:
        self.gateway = gateway
        self.config = config
        self.bridge = bridge
        self.app = create_app(gateway, token=config.token, bridge=bridge)
        self.port = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.log = get_logger()

    @property
    def url(self) -> str:
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        """Bind and serve. Refuses to bind beyond loopback without a token (the
        configuration check does too; this is the second lock)."""
        if self.config.host not in LOOPBACK and not self.config.token:
            raise AdminStartError(
                f"refusing to serve the admin API on {self.config.host} without admin.token"
            )
        config = uvicorn.Config(
            self.app,
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            log_config=None,  # its errors go through the gateway's JSON log (gateway/logs.py)
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        server = self._server = _Server(config)
        self._task = asyncio.create_task(self._serve(server), name="pilegate-admin")
        async with asyncio.timeout(timeout):
            while not server.started:
                if self._task.done():
                    exc = self._task.exception() if not self._task.cancelled() else None
                    raise AdminStartError(
                        f"admin API could not listen on {self.config.host}:{self.config.port}"
                        + (f": {exc!r}" if exc else "")
                    )
                await asyncio.sleep(0.01)
        sockets = [s for srv in server.servers for s in srv.sockets]
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        self.log.info("admin_started", url=self.url, auth=bool(self.config.token))

    @staticmethod
    async def _serve(server: _Server) -> None:
        # uvicorn calls sys.exit() when it cannot bind; a SystemExit escaping a task would
        # stop the whole event loop (the gateway), so it becomes an ordinary error here.
        try:
            await server.serve()
        except SystemExit as exc:
            raise AdminStartError(f"uvicorn exited with status {exc.code}") from None

    async def stop(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        getattr(self.app.state, "close_live_streams", lambda: None)()
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError, AdminStartError):
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._task = None
        self.log.info("admin_stopped")
