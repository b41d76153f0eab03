"""``OcppConnection``: one charge point's OCPP-J 1.6 conversation, central-system side, sans-I/O.

The owner feeds it what the WebSocket received (``receive_text``), asks it to call the charge
point (``send``), answers incoming calls (``reply`` / ``error``), and drains two queues: the
texts to write (``data_to_send``) and what happened (``events_received``). Time is passed in
(``now``, seconds on any monotonic scale); ``next_deadline`` says when to call ``timeouts``.

Rules it keeps:
* At most one CALL of ours is outstanding (OCPP-J 1.6 §4.1.1); later ones wait in order and go
  out when the outstanding one is answered, fails or times out.
* A CALLRESULT / CALLERROR is matched to the outstanding CALL by unique id; anything else is an
  ``UnmatchedReply`` (e.g. a late answer after our timeout) and is otherwise ignored.
* Every incoming CALL is answered exactly once: bad frames and payloads at once with the right
  CALLERROR, good ones by the owner. An answer the owner builds is validated too; if it is not
  valid the charge point gets ``InternalError`` instead and the owner gets the error back.
* A CALL arriving with the unique id of a CALL still being handled is answered with a
  CALLERROR ``ProtocolError`` and not delivered (OCPP-J 1.6 §4.2.3 names exactly this case
  among the reasons for a CallError; the first call still gets the owner's answer). The owner
  sees a ``DuplicateCall`` event. Once a call is answered its id is free again.
* Nothing the peer sends raises; problems become ``ProtocolViolation`` events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from protocol.error_root import PilegateError
from protocol.ocpp16 import schemas
from protocol.ocpp16.convert import ConversionError, from_payload, to_payload
from protocol.ocpp16.errors import ErrorCode, OcppError
from protocol.ocpp16.framing import (
    CallErrorFrame,
    CallFrame,
    encode_call,
    encode_error,
    encode_result,
    error_text,
    parse_frame,
)
from protocol.ocpp16.messages import INCOMING, OUTGOING, REQUESTS, RESPONSES, Request, Response

DEFAULT_CALL_TIMEOUT = 30.0  # seconds; OCPP-J leaves the choice to the implementer
MAX_CALLS_IN_HANDLING = 16  # a 1.6 charge point should have one; more is a misbehaving peer


class InvalidOutgoing(PilegateError, ValueError):
    """Our own request fails its schema: a bug in the caller, nothing was queued."""

    def __init__(self, error: OcppError) -> None:
        super().__init__(f"{error.action}: {error.code}: {error.description}")
        self.error = error


@dataclass(slots=True, eq=False)
class OutgoingCall:
    unique_id: str
    action: str
    message: Request
    payload: dict[str, Any]
    sent_at: float | None = None  # None while queued
    deadline: float | None = None


# --- events ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True, eq=False)
class IncomingCall:
    """A valid CALL from the charge point; answer it with ``reply`` or ``error``."""

    unique_id: str
    action: str
    message: Request
    received_at: float


@dataclass(slots=True, frozen=True)
class CallAnswered:
    call: OutgoingCall
    response: Response


@dataclass(slots=True, frozen=True)
class CallFailed:
    """The charge point answered our CALL with a CALLERROR."""

    call: OutgoingCall
    code: ErrorCode | None
    code_text: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class InvalidReply:
    """A CALLRESULT to our CALL whose payload breaks the response schema."""

    call: OutgoingCall
    error: OcppError


@dataclass(slots=True, frozen=True)
class CallTimedOut:
    call: OutgoingCall


@dataclass(slots=True, frozen=True)
class UnmatchedReply:
    unique_id: str
    late: bool  # True when it answers one of our calls that had already timed out


@dataclass(slots=True, frozen=True)
class DuplicateCall:
    """A CALL reused the id of one still being handled; it was answered ProtocolError."""

    unique_id: str
    action: str
    same_action: bool  # True: most likely a resend of the call being handled


@dataclass(slots=True, frozen=True)
class ProtocolViolation:
    """A frame we could not accept; ``answered`` when a CALLERROR went back for it."""

    error: OcppError
    answered: bool


Event = (
    IncomingCall
    | CallAnswered
    | CallFailed
    | InvalidReply
    | UnmatchedReply
    | DuplicateCall
    | ProtocolViolation
)

_TIMED_OUT_MEMORY = 8


class OcppConnection:
    def __init__(self, *, call_timeout: float = DEFAULT_CALL_TIMEOUT, id_prefix: str = "") -> None:
        self.call_timeout = call_timeout
        self._id_prefix = id_prefix
        self._next_id = 1
        self._outbox: list[str] = []
        self._events: list[Event] = []
        self._queue: deque[OutgoingCall] = deque()
        self._outstanding: OutgoingCall | None = None
        self._timed_out: deque[str] = deque(maxlen=_TIMED_OUT_MEMORY)
        self._handling: dict[str, IncomingCall] = {}

    # --- draining --------------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        out, self._outbox = self._outbox, []
        return out

    def events_received(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    @property
    def outstanding(self) -> OutgoingCall | None:
        return self._outstanding

    @property
    def queued(self) -> tuple[OutgoingCall, ...]:
        return tuple(self._queue)

    @property
    def awaiting_answer(self) -> tuple[IncomingCall, ...]:
        """Incoming calls the owner has not answered yet."""
        return tuple(self._handling.values())

    # --- input -----------------------------------------------------------------------------

    def receive_text(self, text: str | bytes, now: float) -> None:
        frame = parse_frame(text)
        if isinstance(frame, OcppError):
            self._violation(frame)
        elif isinstance(frame, CallFrame):
            self._on_call(frame, now)
        elif (call := self._outstanding) is None or frame.unique_id != call.unique_id:
            self._events.append(UnmatchedReply(frame.unique_id, frame.unique_id in self._timed_out))
        else:
            self._outstanding = None
            if isinstance(frame, CallErrorFrame):
                self._events.append(
                    CallFailed(call, frame.code, frame.code_text, frame.description, frame.details)
                )
            else:
                self._events.append(self._answer(call, frame.payload))
            self._pump(now)

    def _answer(self, call: OutgoingCall, payload: dict[str, Any]) -> CallAnswered | InvalidReply:
        error = schemas.validate(call.action, payload, response=True)
        if error is not None:
            return InvalidReply(call, error.for_call(call.unique_id, call.action))
        try:
            return CallAnswered(call, from_payload(RESPONSES[call.action], payload))
        except ConversionError as exc:
            error = OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc))
            return InvalidReply(call, error.for_call(call.unique_id, call.action))

    def _on_call(self, frame: CallFrame, now: float) -> None:
        uid, action = frame.unique_id, frame.action
        prior = self._handling.get(uid)
        if prior is not None:
            self._outbox.append(
                encode_error(
                    uid, ErrorCode.PROTOCOL_ERROR, "a call with this unique id is being handled"
                )
            )
            self._events.append(DuplicateCall(uid, action, same_action=prior.action == action))
            return
        if action not in INCOMING:
            if schemas.known_action(action):
                self._refuse(
                    ErrorCode.NOT_SUPPORTED,
                    f"{action} is not sent to a central system",
                    uid,
                    action,
                )
            else:
                self._refuse(ErrorCode.NOT_IMPLEMENTED, "unknown action", uid, action)
            return
        if len(self._handling) >= MAX_CALLS_IN_HANDLING:
            self._refuse(ErrorCode.GENERIC_ERROR, "too many calls in progress", uid, action)
            return
        error = schemas.validate(action, frame.payload)
        if error is not None:
            self._violation(error.for_call(uid, action))
            return
        try:
            message = from_payload(REQUESTS[action], frame.payload)
        except ConversionError as exc:
            self._refuse(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc), uid, action)
            return
        call = IncomingCall(uid, action, message, now)
        self._handling[uid] = call
        self._events.append(call)

    def _refuse(self, code: ErrorCode, why: str, uid: str, action: str) -> None:
        self._violation(OcppError(code, why, uid, action))

    def _violation(self, error: OcppError) -> None:
        text = error_text(error)
        if text is not None:
            self._outbox.append(text)
        self._events.append(ProtocolViolation(error, answered=text is not None))

    # --- answering the charge point's calls ---------------------------------------------------

    def reply(self, call: IncomingCall, response: Response | dict[str, Any]) -> OcppError | None:
        """Answer ``call``; None when sent, else why not (the charge point then got an error)."""
        if self._handling.get(call.unique_id) is not call:
            return OcppError(ErrorCode.GENERIC_ERROR, "call already answered", call.unique_id)
        error: OcppError | None
        if isinstance(response, Response) and response.action != call.action:
            error = OcppError(
                ErrorCode.INTERNAL_ERROR, f"{response.action} answer to {call.action}"
            )
        else:
            payload = response if isinstance(response, dict) else to_payload(response)
            error = schemas.validate(call.action, payload, response=True)
        del self._handling[call.unique_id]
        if error is not None:
            self._outbox.append(
                encode_error(call.unique_id, ErrorCode.INTERNAL_ERROR, "invalid answer built")
            )
            return error.for_call(call.unique_id, call.action)
        self._outbox.append(encode_result(call.unique_id, payload))
        return None

    def error(
        self,
        call: IncomingCall,
        code: ErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> OcppError | None:
        """Answer ``call`` with a CALLERROR; None when sent, else why not."""
        code = ErrorCode(code)  # a name that is not a 1.6 code raises here, the call still open
        if self._handling.get(call.unique_id) is not call:
            return OcppError(ErrorCode.GENERIC_ERROR, "call already answered", call.unique_id)
        del self._handling[call.unique_id]
        self._outbox.append(encode_error(call.unique_id, code, description, details))
        return None

    # --- our calls to the charge point ----------------------------------------------------------

    def send(self, request: Request, now: float) -> OutgoingCall:
        """Queue ``request``; it goes out at once unless another CALL of ours is outstanding."""
        if request.action not in OUTGOING:
            raise InvalidOutgoing(
                OcppError(
                    ErrorCode.NOT_SUPPORTED, "not a central-system request", None, request.action
                )
            )
        payload = to_payload(request)
        error = schemas.validate(request.action, payload)
        if error is not None:
            raise InvalidOutgoing(error)
        call = OutgoingCall(f"{self._id_prefix}{self._next_id}", request.action, request, payload)
        self._next_id += 1
        self._queue.append(call)
        self._pump(now)
        return call

    def _pump(self, now: float) -> None:
        if self._outstanding is None and self._queue:
            call = self._queue.popleft()
            call.sent_at, call.deadline = now, now + self.call_timeout
            self._outstanding = call
            self._outbox.append(encode_call(call.unique_id, call.action, call.payload))

    def next_deadline(self) -> float | None:
        return None if self._outstanding is None else self._outstanding.deadline

    def timeouts(self, now: float) -> list[CallTimedOut]:
        """The outstanding call if its deadline has passed (then the next queued one goes out)."""
        call = self._outstanding
        if call is None or call.deadline is None or now < call.deadline:
            return []
        self._outstanding = None
        self._timed_out.append(call.unique_id)
        self._pump(now)
        return [CallTimedOut(call)]

    def abandon(self) -> list[OutgoingCall]:
        """The connection is gone: drop and return our outstanding and queued calls."""
        dropped = [] if self._outstanding is None else [self._outstanding]
        dropped.extend(self._queue)
        self._outstanding = None
        self._queue.clear()
        self._handling.clear()
        return dropped
