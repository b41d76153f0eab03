"""Typed rejections. step() raises them; the state the caller passed in stays valid."""

from __future__ import annotations

from typing import Any

from protocol.error_root import PilegateError

from .vocab import Phase


class SessionError(PilegateError):
    """Base of every error step() raises. The gateway logs it and carries on."""

    def __init__(self, message: str, event: Any) -> None:
        super().__init__(message)
        self.event = event


class ImpossibleTransition(SessionError):
    """The event has no meaning in the current phase (None: no session on the gun)."""

    def __init__(self, phase: Phase | None, event: Any) -> None:
        where = phase.value if phase is not None else "no session"
        super().__init__(f"{type(event).__name__} is impossible in {where}", event)
        self.phase = phase


class AuthorisationRejected(SessionError):
    """A new session cannot start on this gun (disabled, offline, faulted, busy)."""

    def __init__(self, reason: str, event: Any) -> None:
        super().__init__(f"authorisation rejected: {reason}", event)
        self.reason = reason


class TransactionMismatch(SessionError):
    """The event names another transaction than the gun's live session."""

    def __init__(self, expected: str, got: str, event: Any) -> None:
        super().__init__(f"transaction {got!r} does not match live {expected!r}", event)
        self.expected = expected
        self.got = got
