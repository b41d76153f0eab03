"""Typed rejections. step() raises them; the state the caller passed in stays valid."""

from __future__ import annotations

from typing import Any

from .refusal import Refusal
from .vocab import Phase


class SessionError(Exception):
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
    """A new session cannot start on this gun: reason says why (sessions.refusal)."""

    def __init__(self, reason: Refusal, event: Any) -> None:
        super().__init__(f"authorisation rejected: {reason.value}", event)
        self.reason = reason


class TransactionMismatch(SessionError):
    """The event names another transaction than the gun's live session."""

    def __init__(self, expected: str, got: str, event: Any) -> None:
        super().__init__(f"transaction {got!r} does not match live {expected!r}", event)
        self.expected = expected
        self.got = got


class UndeclaredMove(SessionError):
    """A handler tried to move a session to a phase its table cell does not name: a defect
    of the machine, refused like any impossible step so the caller's state stays valid."""

    def __init__(self, phase: Phase, to: Phase) -> None:
        super().__init__(f"undeclared move {phase.value} -> {to.value}", None)
        self.phase = phase
        self.to = to
