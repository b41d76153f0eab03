"""Shared fixtures: the real PostgreSQL and MQTT broker found by tests/services.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests import services

# Property tests judge behaviour, not speed: no per-example deadline, so a loaded CI
# machine cannot turn a slow example into a failure.
settings.register_profile("pilegate", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pilegate")

IN_CI = os.environ.get("CI", "").lower() == "true"

#: The longest test files (each tens of seconds on a busy machine), collected first: with the
#: suite spread over workers one file at a time (`make test`), a long file started last would
#: run alone at the end while the other workers idle.
LONGEST_FIRST = (
    "tests/scenarios/test_soak.py",
    "tests/operator/test_export_memory.py",
    "tests/console/test_console.py",
    "tests/gateway/test_serve_process.py",
    "tests/gateway/test_restart.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its order


def _require(name: str, url: str | None) -> str:
    if url:
        return url
    message = f"{name} is not available (run `python -m tests.services`)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _require("PostgreSQL", services.load()["database_url"])


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _require("MQTT broker", services.load()["mqtt_url"])
