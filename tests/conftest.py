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
