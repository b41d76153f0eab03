"""Schema migrations: `upgrade(url)` to the newest revision, `check_current(url)` at start.

Alembic is configured programmatically (no alembic.ini at run time); the revisions live in
``gateway/storage/migrations/versions``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from gateway.storage.engine import create_engine, resolve_url
from protocol.error_root import PilegateError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(PilegateError, RuntimeError):
    """The database is not at the revision this pilegate needs."""

    def __init__(self, current: str | None, needed: str) -> None:
        self.current, self.needed = current, needed
        super().__init__(
            f"database schema is at {current or 'nothing (empty database)'}, "
            f"this pilegate needs {needed}: run `pilegate db upgrade`"
        )


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", resolve_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(url: str | None) -> str | None:
    engine = create_engine(resolve_url(url), write=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


async def _run_command(url: str | None, fn: str, revision: str) -> None:
    resolved = resolve_url(url)
    cfg = alembic_config(resolved)
    engine = create_engine(resolved, write=False)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        getattr(command, fn)(cfg, revision)

    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


async def upgrade(url: str | None, revision: str = "head") -> None:
    """Bring the database at `url` (None: the embedded SQLite file) up to `revision`."""
    await _run_command(url, "upgrade", revision)


async def downgrade(url: str | None, revision: str) -> None:
    await _run_command(url, "downgrade", revision)


async def check_current(url: str | None) -> str:
    """Return the revision, or raise SchemaOutOfDate unless the database is at the head."""
    current, needed = await current_revision(url), head_revision()
    if current != needed:
        raise SchemaOutOfDate(current, needed)
    return current
