"""Database URLs and engines: PostgreSQL via asyncpg, the embedded SQLite via aiosqlite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

EMBEDDED_PATH = Path("var") / "pilegate.sqlite3"
CONNECT_TIMEOUT_S = 10.0


def resolve_url(url: str | None = None) -> str:
    """The configured URL, or the embedded SQLite file var/pilegate.sqlite3 under the
    working directory (its folder is created). Plain postgresql:// and sqlite:// URLs get
    the async drivers (asyncpg, aiosqlite)."""
    if not url:
        path = (Path.cwd() / EMBEDDED_PATH).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer; FULL: a commit is on disk before it returns
    # (durable before acknowledged); busy_timeout: wait for the other connection's lock.
    # Autocommit at the driver level: transactions are begun explicitly (see _begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
    ):
        cursor.execute(pragma)
    cursor.close()


def create_engine(
    url: str,
    *,
    write: bool = True,
    pool_size: int = 8,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    **kw: Any,
) -> AsyncEngine:
    """An async engine. For SQLite, `write=True` begins every transaction with BEGIN
    IMMEDIATE (takes the write lock up front, so a read-then-write transaction never fails
    with SQLITE_BUSY_SNAPSHOT); `write=False` is for readers (plain deferred BEGIN)."""
    if not is_sqlite(url):
        # After a database restart every pooled connection is dead: pre-ping replaces them
        # at checkout instead of failing the first statement on each. A connect attempt
        # gives up after connect_timeout_s (asyncpg's own default is a minute) so that the
        # writer notices an unreachable server quickly and keeps retrying.
        kw.setdefault("pool_pre_ping", True)
        kw.setdefault("connect_args", {"timeout": connect_timeout_s})
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **kw)
    engine = create_async_engine(url, **kw)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
