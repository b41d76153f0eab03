"""structlog JSON lines on stdout, configured once at start (structlog's production recipe:
a filtering bound logger, contextvars, orjson into a bytes logger)."""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import orjson
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def configure_logging(level: str = "info", stream: IO[bytes] | None = None) -> None:
    structlog.configure(
        cache_logger_on_first_use=True,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=structlog.BytesLoggerFactory(stream or sys.stdout.buffer),
    )


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("pilegate").bind(**bound)
