"""Every dialect's connection is kept the same way by the gateway (gateway/dialect.py
`Connection`): a silent logged-in one is closed by the sweep, storage back-pressure holds its
reading, and shutdown lets its in-flight work finish — none of it looks inside a v1 connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from gateway.app import Gateway
from gateway.dialect import Connection, QueryBills
from protocol.pilegate import MsgType
from tests.gateway.piles import PILE_ID, ScriptedPile


class OtherDialectConnection:
    """A connection of a dialect the gateway knows nothing about."""

    def __init__(self, logged_in_at: float | None) -> None:
        self.closed = False
        self.close_reason = ""
        self.held: list[bool] = []
        self.logged_in_at = logged_in_at
        self.work: asyncio.Future[None] | None = None

    def silent_since(self) -> float | None:
        return self.logged_in_at

    def silence_limit_s(self) -> float | None:
        return None

    def in_flight(self) -> Awaitable[Any] | None:
        return self.work

    def hold_reading(self, held: bool) -> None:
        self.held.append(held)

    def close(self, reason: str) -> None:
        self.closed, self.close_reason = True, reason


def _typed(conn: OtherDialectConnection) -> Connection:
    return conn  # mypy: the fake keeps the contract


async def test_silent_connections_of_any_dialect_are_closed_and_unlogged_ones_left(
    gateway: Gateway,
) -> None:
    now = gateway.loop.time()
    interval = gateway.config.piles.heartbeat_interval_s
    silent = OtherDialectConnection(logged_in_at=now - 3 * interval - 1)
    lively = OtherDialectConnection(logged_in_at=now - interval)
    not_logged_in = OtherDialectConnection(logged_in_at=None)
    for conn in (silent, lively, not_logged_in):
        gateway.connection_made(_typed(conn))
    gateway.close_silent(now)
    assert silent.closed and "no heartbeat" in silent.close_reason
    assert not lively.closed and not not_logged_in.closed


async def test_storage_backlog_holds_and_releases_every_connection(gateway: Gateway) -> None:
    before = OtherDialectConnection(logged_in_at=None)
    gateway.connection_made(before)
    gateway._storage_backlog(True)
    during = OtherDialectConnection(logged_in_at=None)
    gateway.connection_made(during)  # made while held: held from the start
    gateway._storage_backlog(False)
    assert before.held == [True, False]
    assert during.held == [True, False]


async def test_shutdown_waits_for_a_connections_work_in_flight(gateway: Gateway) -> None:
    conn = OtherDialectConnection(logged_in_at=None)
    conn.work = gateway.loop.create_future()
    gateway.connection_made(conn)
    gateway.loop.call_later(0.05, conn.work.set_result, None)
    stopping = asyncio.ensure_future(gateway.stop(grace_s=5))
    await asyncio.sleep(0.01)
    assert not conn.closed  # its work is not done yet: not closed under it
    await stopping
    assert conn.work.done() and conn.closed


async def test_a_command_to_a_closed_v1_connection_answers_at_once(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    conn = gateway.piles[PILE_ID].connection
    assert conn is not None
    conn.close("test")
    await pile.closed.wait()
    await asyncio.sleep(0.05)  # the transport has reported the connection lost, too
    async with asyncio.timeout(1.0):  # not the command's 30 s
        assert await conn.command(QueryBills(0), timeout_s=30.0) is None


async def test_a_v1_command_unanswered_times_out_on_the_connections_timer(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    pile.auto_ack = lambda frame: None  # the pile reads the command and never answers
    conn = gateway.piles[PILE_ID].connection
    assert conn is not None
    started = gateway.loop.time()
    assert await conn.command(QueryBills(0), timeout_s=0.2) is None
    assert 0.2 <= gateway.loop.time() - started < 2.0
    await pile.expect(MsgType.QUERY_BILLS)
    assert not conn.closed
