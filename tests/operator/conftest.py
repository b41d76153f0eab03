"""Fixtures of the operator tests: seeded databases (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.engine import create_engine
from tests.db import database_url, postgresql_url, sqlite_url  # noqa: F401
from tests.operator.seed import seed_reports


@pytest.fixture(scope="module")
def seeded(database_url: str) -> tuple[str, list[str]]:  # noqa: F811
    """(url, ids of January's bills in export order) of the report data set."""

    async def go() -> list[str]:
        engine = create_engine(database_url)
        try:
            return await seed_reports(engine)
        finally:
            await engine.dispose()

    return database_url, asyncio.run(go())


@pytest.fixture
async def reader(seeded: tuple[str, list[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(seeded[0], write=False)
    try:
        yield engine
    finally:
        await engine.dispose()
