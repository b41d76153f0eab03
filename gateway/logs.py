"""structlog JSON lines on stdout, configured once at start (structlog's production recipe:
a filtering bound logger, contextvars, orjson into a bytes logger).

Every logger the gateway hands out is a ``SafeLogger``: a log call is never allowed to break
the code that makes it (a frame handler above all). structlog's own call signature reserves
some keyword names — ``event`` is the message itself, so ``log.warning("x", event=...)``
raises TypeError — and the processors below overwrite others (``level``, ``timestamp``). The
wrapper renames such a key to ``<key>_`` instead; ``tests/gateway/test_log_calls.py`` keeps
the code base from passing them at all.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import IO, Any, BinaryIO

import orjson
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

#: Keyword names a log call must not use as fields: the positional names of structlog's
#: methods (``event``, ``self``, ``level`` of ``log()``) raise TypeError; ``level``,
#: ``timestamp`` and ``exception`` are overwritten by the processors configured below.
RESERVED_KEYS = frozenset({"event", "self", "level", "timestamp", "exception"})


QUIET_LIBRARIES = ("alembic", "aiosqlite", "asyncio", "httpx", "httpcore")


#: One name per thing in every output (docs/vocabulary.md): log calls may say `pile=` or
#: `transaction=`, the line says what MQTT payloads and the database say.
CANONICAL_KEYS = {"pile": "pile_id", "transaction": "transaction_id", "session": "session_id"}


def canonical_keys(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: rename the short keys of CANONICAL_KEYS (unless both given)."""
    for short, full in CANONICAL_KEYS.items():
        if short in event_dict and full not in event_dict:
            event_dict[full] = event_dict.pop(short)
    return event_dict


def configure_logging(level: str = "info", stream: BinaryIO | None = None) -> None:
    """structlog's JSON lines on `stream` (default stdout), and the standard library's
    `logging` (the storage writer, uvicorn, asyncio, libraries) rendered the same way into
    the same stream: one JSON object per line, an exception inside it as a field."""
    out = stream or sys.stdout.buffer
    structlog.configure(
        cache_logger_on_first_use=True,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            canonical_keys,
            structlog.processors.format_exc_info,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=structlog.BytesLoggerFactory(out),
    )
    _route_stdlib_logging(_LEVELS[level.lower()], out)


class _JsonLineHandler(logging.Handler):
    """A stdlib handler writing structlog-rendered JSON lines to a bytes stream."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self.stream.write(line.encode() + b"\n")
            self.stream.flush()
        except Exception:  # logging must not raise into the caller
            self.handleError(record)


def _logger_name(_logger: Any, _method: str, event_dict: Any) -> Any:
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger"] = record.name
    return event_dict


def _route_stdlib_logging(level: int, stream: IO[bytes]) -> None:
    handler = _JsonLineHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                _logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _JsonLineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that narrate their routine at INFO (alembic's "Context impl ...") speak
    # only when something is wrong.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # uvicorn installs its own plain-text handlers on these when it configures logging; the
    # admin server asks it not to (log_config=None), and any left from before are removed
    # so that its errors (an admin API 500's traceback) come out as one JSON line too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class TextAsBytes:
    """A text stream (sys.stderr, even when replaced by a StringIO) as the bytes stream that
    configure_logging writes to."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        self.text.write(data.decode(errors="replace"))
        return len(data)

    def flush(self) -> None:
        self.text.flush()


def safe_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with every reserved key renamed to ``<key>_`` (unchanged when none is)."""
    if fields.keys().isdisjoint(RESERVED_KEYS):
        return fields
    return {f"{k}_" if k in RESERVED_KEYS else k: v for k, v in fields.items()}


class SafeLogger:
    """A structlog bound logger whose calls never raise into the caller.

    The message is positional-only, so a stray ``event=`` keyword lands among the fields
    (and is renamed) rather than colliding with it. Should the underlying call fail anyway,
    a ``log_call_failed`` line says which message was lost.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def bind(self, /, **fields: Any) -> SafeLogger:
        return SafeLogger(self._logger.bind(**safe_fields(fields)))

    def new(self, /, **fields: Any) -> SafeLogger:
        return SafeLogger(self._logger.new(**safe_fields(fields)))

    def unbind(self, *keys: str) -> SafeLogger:
        return SafeLogger(self._logger.try_unbind(*keys))

    def _emit(
        self, method: str, message: str, args: tuple[Any, ...], fields: dict[str, Any]
    ) -> None:
        try:
            getattr(self._logger, method)(message, *args, **safe_fields(fields))
        except Exception as exc:  # a log line must never take its caller down
            with contextlib.suppress(Exception):
                self._logger.error(
                    "log_call_failed", lost=str(message), method=method, error=repr(exc)
                )

    def debug(self, message: str, /, *args: Any, **fields: Any) -> None:
        self._emit("debug", message, args, fields)

    def info(self, message: str, /, *args: Any, **fields: Any) -> None:
        self._emit("info", message, args, fields)

    def warning(self, message: str, /, *args: Any, **fields: Any) -> None:
        self._emit("warning", message, args, fields)

    def error(self, message: str, /, *args: Any, **fields: Any) -> None:
        self._emit("error", message, args, fields)

    def critical(self, message: str, /, *args: Any, **fields: Any) -> None:
        self._emit("critical", message, args, fields)

    def exception(self, message: str, /, *args: Any, **fields: Any) -> None:
        """An error line with the traceback of the exception being handled."""
        fields.setdefault("exc_info", True)
        self._emit("error", message, args, fields)


def get_logger(**bound: Any) -> SafeLogger:
    return SafeLogger(structlog.get_logger("pilegate")).bind(**bound)
