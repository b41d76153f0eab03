"""Database URLs and engines: PostgreSQL via asyncpg, the embedded SQLite via aiosqlite."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

EMBEDDED_PATH = Path("var") / "pilegate.sqlite3"
CONNECT_TIMEOUT_S = 10.0


# The one table of database URL schemes pilegate accepts, and the async driver each gets:
# postgres:// and postgresql:// are the usual spellings (libpq, Heroku, docker images).
SCHEMES: dict[str, str] = {
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
}


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a database URL of pilegate's, or None when it can."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        return f"database.url must start with one of {known} (got {scheme or url[:12]}...)"
    try:
        make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError and friends: say it in one line
        return f"database.url is not a URL: {exc}"
    return None


def display_url(url: str) -> str:
    """The URL to show to a person or in a log: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://..."


def connect_failure(url: str, exc: BaseException) -> str | None:
    """One line for an error opening the database (unreachable host, refused port, missing
    database, bad password, timeout), naming the URL with its password hidden; None when
    `exc` is not such an error (a bug keeps its traceback)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    cause: BaseException = exc
    if isinstance(exc, DBAPIError | OperationalError | InterfaceError) and exc.orig is not None:
        cause = exc.orig
    elif (
        not isinstance(exc, OSError | TimeoutError)
        and type(exc).__module__.split(".")[0] != "asyncpg"
    ):
        return None
    if isinstance(cause, ConnectionRefusedError):
        text = "connection refused (is the server running and listening there?)"
    elif isinstance(cause, socket.gaierror):
        text = f"unknown host ({cause.strerror})"
    elif isinstance(cause, TimeoutError) or not str(cause).strip():
        text = f"no answer within {CONNECT_TIMEOUT_S:g} s ({type(cause).__name__})"
    else:
        text = str(cause).strip().splitlines()[0]
    return f"cannot open the database at {display_url(url)}: {text}"


def resolve_url(url: str | None = None) -> str:
    """The configured URL, or the embedded SQLite file var/pilegate.sqlite3 under the
    working directory (its folder is created). Every scheme of SCHEMES gets its async
    driver (asyncpg, aiosqlite)."""
    if not url:
        path = (Path.cwd() / EMBEDDED_PATH).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    u = make_url(url)
    if u.drivername in SCHEMES:
        u = u.set(drivername=SCHEMES[u.drivername])
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
    pool_timeout_s: float = 30.0,
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
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=pool_timeout_s, **kw
        )
    engine = create_async_engine(url, **kw)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
