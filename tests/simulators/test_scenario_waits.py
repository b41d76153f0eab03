"""A scenario's waits bound the time the gateway has to answer, not the time the process ran:
on a loaded CI machine a stall of the whole process used up a step, and an answer that came a
moment after it read as none (the YKC transient_fault scenario's missing BILL_ACK)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from simulators.scenarios import STALL_S, Run


async def test_a_stall_of_the_process_does_not_use_up_the_wait() -> None:
    loop = asyncio.get_running_loop()
    answers: list[str] = []

    def stall_then_answer() -> None:
        time.sleep(STALL_S + 0.3)  # the whole process stops, as a busy machine stops it
        loop.call_later(0.1, answers.append, "BILL_ACK")  # the answer once it runs again

    loop.call_later(0.05, stall_then_answer)
    got = await Run.until(SimpleNamespace(), lambda: answers, 0.3)  # type: ignore[arg-type]
    assert got == ["BILL_ACK"]


async def test_a_wait_for_what_never_comes_still_ends_at_its_bound() -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await Run.until(SimpleNamespace(), lambda: [], 0.3) == []  # type: ignore[arg-type]
    assert 0.3 <= loop.time() - began < 0.3 + STALL_S + 1.0
