"""Session rows written from two places, and why they never go backwards.

A session's row normally goes through the batch writer (fire-and-forget, in order). An
account claim and its release are direct transactions, and each carries the rows of the
sessions it concerns (see `areas/accounts.py`), so a claim never commits without its
session's row and a release never commits while its session still looks live in the
database, however far the writer lags (after an outage it may hold rows for minutes, and a
kill -9 loses what it holds).

So the same row may be written twice, out of order: the claim writes the newest version
while the writer still holds (or is committing) older ones. Every version of a row is
stamped with `row_version` when it is submitted, and an upsert only replaces a row by a
version at least as new. The stamp is a hybrid logical clock in microseconds: wall clock,
but strictly increasing within a process whatever the wall clock does, and moved past
every version this process reads back (restart recovery), so a restarted gateway's rows
still win over the ones it restored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.inserts import dialect_insert
from gateway.storage.schema import sessions

_COLUMNS = [c.name for c in sessions.c if c.name != "id"]


class RowVersions:
    """Strictly increasing version stamps, close to wall-clock microseconds."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1_000)
        return self._last

    def observe(self, version: int | None) -> None:
        """A version read from the database: every later stamp is newer than it."""
        if version is not None and version > self._last:
            self._last = version


class HeldSessionRows:
    """The newest row of each session the writer holds and has not committed yet, by
    session and by gun, for a claim or a release to write in its own transaction."""

    __slots__ = ("_by_gun", "_by_session")

    def __init__(self) -> None:
        self._by_session: dict[str, dict[str, Any]] = {}
        self._by_gun: dict[tuple[str, int], set[str]] = {}

    def __len__(self) -> int:
        return len(self._by_session)

    def submitted(self, row: dict[str, Any]) -> None:
        sid = row["id"]
        self._by_session[sid] = row
        self._by_gun.setdefault((row["pile_id"], row["gun"]), set()).add(sid)

    def written(self, row: Mapping[str, Any]) -> None:
        """The writer committed (or gave up on) this row: forget it, unless a newer one of
        the same session is still held."""
        sid = row["id"]
        if self._by_session.get(sid) is not row:
            return
        del self._by_session[sid]
        key = (row["pile_id"], row["gun"])
        held = self._by_gun.get(key)
        if held is not None:
            held.discard(sid)
            if not held:
                del self._by_gun[key]

    def of_gun(self, pile_id: str, gun: int) -> list[dict[str, Any]]:
        return [self._by_session[sid] for sid in self._by_gun.get((pile_id, gun), ())]

    def of_session(self, session_id: str) -> dict[str, Any] | None:
        return self._by_session.get(session_id)


async def upsert_sessions(conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert or update whole session rows; a row already newer in the database is kept."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:  # one statement may not touch a row twice: the newest wins
        held = latest.get(row["id"])
        if held is None or held["row_version"] <= row["row_version"]:
            latest[row["id"]] = row
    if not latest:
        return
    stmt = dialect_insert(conn, sessions)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in _COLUMNS},
        where=sessions.c.row_version <= stmt.excluded.row_version,
    )
    # In id order: a claim and a writer's batch lock shared rows in the same order, so they
    # cannot deadlock on PostgreSQL.
    await conn.execute(stmt, [latest[sid] for sid in sorted(latest)])
