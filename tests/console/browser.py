"""Where the console tests find their browser: Debian's chromium and chromedriver (no
gateway imports here: tests/services.py asks this before the suite runs)."""

from __future__ import annotations

import os
import shutil

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVER_NAMES = ("chromedriver",)
DRIVER_PATHS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find_browser() -> tuple[str, str] | None:
    """(chromium binary, chromedriver) from PATH or Debian's places, else None."""
    browser = os.environ.get("PILEGATE_CHROMIUM") or next(
        (p for p in map(shutil.which, CHROMIUM_NAMES) if p), None
    )
    driver = os.environ.get("PILEGATE_CHROMEDRIVER") or next(
        (p for p in (*map(shutil.which, DRIVER_NAMES), *DRIVER_PATHS) if p and os.path.exists(p)),
        None,
    )
    return (browser, driver) if browser and driver else None


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if find_browser() is None:
        return "no chromium + chromedriver (apt-get install chromium chromium-driver)"
    return None
