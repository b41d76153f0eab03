"""The gateway's background work: tasks it spawns and waits for at shutdown, timers, and the
writes it keeps retrying through a database outage. A `Scheduler` (gateway/ports.py)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    def __init__(self, loop: asyncio.AbstractEventLoop, log: Any) -> None:
        self.loop = loop
        self.log = log
        self.stopping = False  # set at shutdown: writes stop retrying
        self._tasks: set[asyncio.Task[Any]] = set()

    def call_later(
        self, delay_s: float, callback: Callable[..., object], *args: Any
    ) -> asyncio.TimerHandle:
        return self.loop.call_later(delay_s, callback, *args)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    @property
    def pending(self) -> bool:
        return bool(self._tasks)

    async def done(self, timeout: float = 5.0) -> None:
        """Wait for the work spawned so far, and what it spawns meanwhile."""
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def wait(self, timeout: float) -> None:
        """Wait once, at most `timeout`, for the work spawned so far (shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background_task_failed", error=repr(task.exception()))

    async def until_written(self, what: str, op: Callable[[], Awaitable[T]], **ctx: Any) -> T:
        """Run a database write the gateway has decided to keep, retrying it (with back-off)
        through an outage until the database takes it or the gateway stops. The write must
        be idempotent. One still unwritten at shutdown is repaired at the next start (stale
        claims by the sweep; a pile's online flag at its next login)."""
        delay = 0.05
        for attempt in itertools.count():
            try:
                return await op()
            except Exception as exc:
                if self.stopping:
                    raise
                if attempt == 0:
                    self.log.warning(f"{what}_retrying", error=repr(exc)[:200], **ctx)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")
