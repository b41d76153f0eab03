"""A live gateway (in-process, its own event loop in a thread) with its admin server and a
scripted pile, plus a headless Chromium driven by selenium: what the console tests and the
screenshot script (tests/console/screenshots.py) click through.

The gateway runs in a thread so that the tests can make blocking browser calls while the
gateway keeps answering the browser and the pile; `env.run(coro)` runs a coroutine (a pile
frame, a database read) on the gateway's loop and returns its result.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from gateway.admin import AdminServer
from gateway.app import Gateway
from gateway.config import AdminConfig
from tests.console.browser import find_browser, missing_browser_reason
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import ScriptedPile

TOKEN = "console-test-token"


def make_driver(width: int = 1360, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    assert found is not None, missing_browser_reason()
    browser, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--window-size={width},{height}", "--force-device-scale-factor=1",
        "--no-first-run", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):  # fmt: skip
        options.add_argument(arg)
    # An explicit driver path: selenium must not try to download one.
    os.environ.setdefault("SE_OFFLINE", "true")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


@dataclass
class LiveGateway:
    """Gateway + admin server + one logged-in scripted pile, on a private event loop."""

    sessions: dict[str, float] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    gateway: Gateway | None = None
    admin: AdminServer | None = None
    pile: ScriptedPile | None = None
    _thread: threading.Thread | None = None
    _db: Any = None

    def start(self) -> LiveGateway:
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self._db = fresh_database("sqlite")
        url = await self._db.__aenter__()
        self.gateway = await start_gateway(url, gateway_config(**self.sessions))
        self.admin = AdminServer(self.gateway, AdminConfig(host="127.0.0.1", port=0, token=TOKEN))
        await self.admin.start()
        self.pile = ScriptedPile()
        await self.pile.login(self.gateway.tcp_port)
        await self.pile.heartbeat()

    @property
    def url(self) -> str:
        assert self.admin is not None
        return self.admin.url

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            if self.pile is not None:
                await self.pile.close()
            if self.admin is not None:
                await self.admin.stop()
            if self.gateway is not None:
                await self.gateway.stop(grace_s=2)
            if self._db is not None:
                await self._db.__aexit__(None, None, None)

        try:
            self.run(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self.loop.close()
