"""Fixtures of the console's browser tests: one live gateway and one headless Chromium per
module (starting them is most of the cost); without a browser the tests skip, with the
reason, except under CI=true where tests/services.py has already failed the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.harness import LiveGateway, make_driver, missing_browser_reason


@pytest.fixture(scope="module")
def env() -> Iterator[LiveGateway]:
    reason = missing_browser_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the browser tests cannot run: {reason}")
        pytest.skip(f"browser tests: {reason}")
    live = LiveGateway(sessions={"fault_confirm_samples": 2}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser(env: LiveGateway) -> Iterator[Any]:
    driver = make_driver()
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
