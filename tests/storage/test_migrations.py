from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.storage import SchemaOutOfDate, Storage, check_current, upgrade
from gateway.storage.engine import create_engine, resolve_url
from gateway.storage.migrate import current_revision, head_revision
from gateway.storage.schema import metadata
from tests.db import KINDS, fresh_database


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    return request.param


async def test_empty_database_is_out_of_date_until_upgraded(kind: str) -> None:
    async with fresh_database(kind, upgrade=False) as url:
        with pytest.raises(SchemaOutOfDate, match="run `pilegate db upgrade`") as info:
            await check_current(url)
        assert info.value.current is None and info.value.needed == head_revision()
        with pytest.raises(SchemaOutOfDate):
            await Storage.open(url, upgrade=False)
        await upgrade(url)
        assert await check_current(url) == head_revision()
        await upgrade(url)  # idempotent
        assert await current_revision(url) == head_revision()
        storage = await Storage.open(url, upgrade=False)
        await storage.close()


async def test_migrated_schema_matches_metadata(kind: str) -> None:
    async with fresh_database(kind) as url:
        engine = create_engine(url, write=False)
        try:
            async with engine.connect() as conn:

                def diff(sync_conn):  # type: ignore[no-untyped-def]
                    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                    return compare_metadata(ctx, metadata)

                assert await conn.run_sync(diff) == []
        finally:
            await engine.dispose()


def test_default_url_is_the_embedded_sqlite_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    url = resolve_url(None)
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'pilegate.sqlite3'}"
    assert (tmp_path / "var").is_dir()
    assert resolve_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_embedded_default_is_upgraded_with_wal(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    storage = await Storage.open()
    try:
        async with storage.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await storage.close()
    assert (tmp_path / "var" / "pilegate.sqlite3").exists()
