"""A few of the OCPP cases again on PostgreSQL, the database several gateway instances share:
transaction ids from its identity column, the ON CONFLICT paths of retried starts and stops,
and a billed session. (The same test functions, run here with this module's database.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.db import fresh_database
from tests.ocpp.test_core import (
    test_retried_start_transaction_gets_the_same_id,
    test_retried_stop_transaction_is_counted_once,
    test_stop_for_an_unknown_transaction_is_answered_and_kept,
    test_tc_005_1_ev_side_disconnected_and_billed,
)
from tests.ocpp.test_profiles import test_tc_046_reserve_a_connector_then_use_it

__all__ = [
    "test_retried_start_transaction_gets_the_same_id",
    "test_retried_stop_transaction_is_counted_once",
    "test_stop_for_an_unknown_transaction_is_answered_and_kept",
    "test_tc_005_1_ev_side_disconnected_and_billed",
    "test_tc_046_reserve_a_connector_then_use_it",
]


@pytest.fixture
async def db_url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_database("postgresql") as url:
        yield url
