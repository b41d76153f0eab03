"""Isolated, migrated databases for tests: SQLite files and throwaway PostgreSQL databases.

    from tests.db import database_url  # fixture: one fresh migrated database per module,
                                       # parametrised over ["sqlite", "postgresql"]

    async with fresh_database("postgresql") as url:  # or "sqlite", or a base URL
        ...

PostgreSQL databases are created as ``pilegate_t_<random>`` through the ``postgres``
database of the test server (tests/services.py) and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.storage.migrate import upgrade as upgrade_schema
from tests import services

KINDS = ("sqlite", "postgresql")


def _postgres_base() -> str:
    url = services.load()["database_url"]
    if not url:
        pytest.skip("PostgreSQL is not available (run `python -m tests.services`)")
    return url


@contextlib.asynccontextmanager
async def fresh_database(
    kind_or_base_url: str = "sqlite", *, upgrade: bool = True, directory: Path | None = None
) -> AsyncIterator[str]:
    """Yield the URL of a new empty database (migrated to head unless upgrade=False);
    it is deleted afterwards. kind_or_base_url: "sqlite", "postgresql", or a PostgreSQL URL
    whose server gets the new database."""
    if kind_or_base_url == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="pilegate-db-", dir=directory))
        url = f"sqlite+aiosqlite:///{tmp / 'test.sqlite3'}"
        try:
            if upgrade:
                await upgrade_schema(url)
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    base = make_url(_postgres_base() if kind_or_base_url == "postgresql" else kind_or_base_url)
    name = f"pilegate_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            if upgrade:
                await upgrade_schema(url)
            yield url
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def _hold(kind: str) -> Iterator[str]:
    """Run fresh_database outside any test's event loop (sync fixtures have none)."""
    cm = fresh_database(kind)
    loop = asyncio.new_event_loop()
    try:
        url = loop.run_until_complete(cm.__aenter__())
        try:
            yield url
        finally:
            loop.run_until_complete(cm.__aexit__(None, None, None))
    finally:
        loop.close()


@pytest.fixture(scope="module", params=KINDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated database shared by the tests of one module, per kind."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")  # skip (or fail under CI) without a server
    yield from _hold(request.param)


@pytest.fixture(scope="module")
def sqlite_url() -> Iterator[str]:
    yield from _hold("sqlite")


@pytest.fixture(scope="module")
def postgresql_url(postgres_url: str) -> Iterator[str]:
    yield from _hold(postgres_url)
