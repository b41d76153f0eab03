from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.storage import Storage
from tests.db import database_url, postgresql_url, sqlite_url  # noqa: F401


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:  # noqa: F811
    s = await Storage.open(database_url, upgrade=False)
    try:
        yield s
    finally:
        await s.close()
