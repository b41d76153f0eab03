"""One v1 pile connection as a sans-I/O state machine: bytes in, events out; messages in, bytes out.

    conn = PilegateConnection(now, login_timeout=10.0)
    conn.receive_data(chunk, now)          # TCP: whatever the socket read
    conn.receive_frame(message, now)       # WebSocket: one binary message, exactly one frame
    for event in conn.events_received():   # FrameReceived, ReplyReceived, DecodeFailed, ...
        ...
    conn.accept_login(event.frame, time_ms=..., heartbeat_interval_s=30, guns={1, 2})
    conn.reply(event.frame, HeartbeatAck())            # echoes the request's seq
    command = conn.send_command(StartCharge(...), now)  # numbered, awaits its COMMAND_ACK
    sock.write(conn.data_to_send())
    conn.tick(now)                         # at next_deadline(): timed-out commands, login timeout

It keeps the protocol's rules of a connection (docs/protocol.md §2.3, §2.6, §4.8, §5), on a
clock passed in (``now``: seconds on any monotonic scale), and never raises on input:

* Login first. Before LOGIN_ACK OK every frame but LOGIN and NACK is refused with NACK
  UNEXPECTED; a second LOGIN too. From a LOGIN until the owner accepts or refuses it, further
  frames are held and routed, in order, once it has (a pile may send before it is answered).
  No LOGIN within ``login_timeout`` of the connection's start closes it; once one is in, the
  owner's time deciding on it does not count (a gateway slow in a login storm must not close
  piles that did log in: they would log in again and feed the storm).
* A frame of a gateway-only type (0x80-0xFF but NACK) is refused UNEXPECTED; an event naming
  a gun the pile does not have BAD_FIELD (LOGOUT may name gun 0: the whole pile).
* A frame that cannot be decoded is answered with the NACK its problem names, when it was
  readable enough to have a seq; garbage and impossible lengths get none. Every decode problem
  and every refused frame counts as a bad frame; ``bad_frame_burst`` of them within
  ``bad_frame_window`` seconds close the connection.
* Commands are numbered 1, 2, ... (wrapping to 0 after 65535, skipping a seq still awaited)
  and matched to their COMMAND_ACK by (seq, command type). A pile's NACK of a command refuses
  it (as a COMMAND_ACK with result OTHER). Replies are never answered, not even with a NACK.
  A command unanswered after ``command_timeout`` times out (``tick``).
* A request the owner failed to handle gets NACK INTERNAL_ERROR (``fail``) unless it was
  already answered.

The owner reacts to events and may answer a request later (a bill after its commit). Closing
(a burst, the login timeout, a refused login, or ``close``) is announced by one
``ConnectionClosing`` event; from then on input is ignored and nothing more is sent.
Misuse by the owner (answering a frame twice, or with the wrong type) raises
``PilegateUsageError``.

The gateway's v1 adapter (``PileConnection``, gateway/adapters/pilegate/connection.py) is
its owner: one per transport, made with ``loop.time()`` and the configured timeouts and
limits; after every call into it one pump handles ``events_received()``, writes
``data_to_send()`` and re-arms one timer at ``next_deadline()`` that calls ``tick``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from protocol.error_root import PilegateError
from protocol.pilegate.codec import MAX_FRAME_SIZE, Frame, decode_frame, encode
from protocol.pilegate.codes import ACKED_EVENTS, COMMANDS, FROM_PILE, MsgType, NackReason, Result
from protocol.pilegate.decoder import FrameDecoder
from protocol.pilegate.errors import DecodeError
from protocol.pilegate.messages import (
    Ack,
    CommandAck,
    Login,
    LoginAck,
    Logout,
    Message,
    Nack,
)

T = MsgType

#: What the gateway answers to each pile request (besides NACK, which answers anything).
ANSWER_TO: dict[int, MsgType] = {
    T.HEARTBEAT: T.HEARTBEAT_ACK,
    T.AUTH_REQUEST: T.AUTH_RESULT,
    T.BILL: T.BILL_ACK,
    **dict.fromkeys(ACKED_EVENTS, T.ACK),
}

#: Requests handed out as they are once logged in, with no check on a gun: the fast path.
_PLAIN_REQUESTS = frozenset({T.HEARTBEAT, T.AUTH_REQUEST, T.BILL})

DEFAULT_LOGIN_TIMEOUT = 10.0  # seconds (§5)
DEFAULT_COMMAND_TIMEOUT = 10.0  # seconds (§5)
DEFAULT_BAD_FRAME_BURST = 20
DEFAULT_BAD_FRAME_WINDOW = 60.0  # seconds
MAX_OPEN_REQUESTS = 256  # requests handed out and not yet answered; beyond that the oldest
#                          is forgotten (an owner that never answers must not grow memory)


class PilegateUsageError(PilegateError, RuntimeError):
    """The owner used the connection wrongly (not the pile's fault)."""


class ConnectionClosed(PilegateError, ConnectionError):
    """A command on a connection that is closed."""


class Phase(StrEnum):
    AWAITING_LOGIN = "awaiting_login"
    LOGGING_IN = "logging_in"  # a LOGIN was handed out; the owner has not decided yet
    LOGGED_IN = "logged_in"
    CLOSED = "closed"


class CloseCause(StrEnum):
    BAD_FRAME_BURST = "bad_frame_burst"
    LOGIN_TIMEOUT = "login_timeout"
    LOGIN_REFUSED = "login_refused"
    OWNER = "owner"  # close() was called


# Outgoing and FrameReceived are built for every heartbeat, so they are not frozen: a frozen
# dataclass takes about three times as long to build. Treat them as read-only all the same.


@dataclass(slots=True)
class Outgoing:
    """A frame queued for the pile: what ``data_to_send`` will include (for the journal)."""

    seq: int
    message: Message
    data: bytes


@dataclass(slots=True, eq=False)
class PendingCommand:
    seq: int
    message: Message
    sent_at: float
    deadline: float
    sent: Outgoing


# --- events ----------------------------------------------------------------------------------


@dataclass(slots=True)
class FrameReceived:
    """A pile request for the owner to handle and answer: LOGIN (answer with ``accept_login``
    or ``refuse_login``), then HEARTBEAT, AUTH_REQUEST, BILL and the acknowledged events."""

    frame: Frame


@dataclass(slots=True, frozen=True)
class ReplyReceived:
    """The pile's answer to one of our commands: its COMMAND_ACK or, when it could not read the
    command, its NACK (``nack``; ``ack`` then says result OTHER for gun 0)."""

    command: PendingCommand
    frame: Frame
    ack: CommandAck
    nack: Nack | None = None


@dataclass(slots=True, frozen=True)
class UnmatchedReply:
    """A COMMAND_ACK or NACK that answers no command awaited (late, duplicate, wrong type)."""

    frame: Frame
    reason: str


@dataclass(slots=True, frozen=True)
class FrameRefused:
    """A valid frame the connection will not pass on; it was answered ``nack`` and counted."""

    frame: Frame
    reason: NackReason
    why: str
    nack: Outgoing | None  # None once the connection is closed


@dataclass(slots=True, frozen=True)
class DecodeFailed:
    """Bytes that are no valid frame; ``nack`` is the answer when there was one to give."""

    error: DecodeError
    nack: Outgoing | None


@dataclass(slots=True, frozen=True)
class CommandTimedOut:
    command: PendingCommand


@dataclass(slots=True, frozen=True)
class ConnectionClosing:
    """The connection is closed: the owner writes what is left to send and closes the link."""

    cause: CloseCause
    reason: str


Event = (
    FrameReceived
    | ReplyReceived
    | UnmatchedReply
    | FrameRefused
    | DecodeFailed
    | CommandTimedOut
    | ConnectionClosing
)


class PilegateConnection:
    def __init__(
        self,
        now: float,
        *,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        bad_frame_burst: int = DEFAULT_BAD_FRAME_BURST,
        bad_frame_window: float = DEFAULT_BAD_FRAME_WINDOW,
        max_frame_size: int = MAX_FRAME_SIZE,
    ) -> None:
        self.command_timeout = command_timeout
        self.bad_frame_burst = bad_frame_burst
        self.bad_frame_window = bad_frame_window
        self.max_frame_size = max_frame_size
        self.phase = Phase.AWAITING_LOGIN
        self.pile_id: str | None = None  # from the accepted LOGIN
        self.guns: frozenset[int] = frozenset()
        self.close_reason = ""
        self.last_received = now  # when the last frame or decode problem arrived
        self.login_deadline: float | None = now + login_timeout
        self._decoder = FrameDecoder(max_frame_size)
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._held: list[Frame] = []  # frames behind a LOGIN the owner has not decided on
        self._open: dict[int, Frame] = {}  # id(frame) -> request handed out, not yet answered
        self._pending: dict[int, PendingCommand] = {}  # seq -> command awaiting its ack
        self._seq = 0
        self._bad_times: deque[float] = deque()

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    @property
    def logged_in(self) -> bool:
        return self.phase is Phase.LOGGED_IN

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held by the decoder."""
        return self._decoder.buffered

    # --- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """A chunk of a TCP byte stream."""
        for item in self._decoder.feed(data):
            phase = self.phase
            if phase is Phase.CLOSED:
                return
            # The steady state inline (what _accept, _route and _hand_out would do): a
            # logged-in pile's heartbeat, auth request or bill is handed out at once.
            if (
                phase is Phase.LOGGED_IN
                and type(item) is Frame
                and item.message.TYPE in _PLAIN_REQUESTS
            ):
                self.last_received = now
                open_requests = self._open
                open_requests[id(item)] = item
                if len(open_requests) > MAX_OPEN_REQUESTS:
                    del open_requests[next(iter(open_requests))]
                self._events.append(FrameReceived(item))
            else:
                self._accept(item, now)

    def receive_frame(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """One WebSocket binary message: exactly one frame, or rejected as a whole (§1)."""
        if self.phase is not Phase.CLOSED:
            self._accept(decode_frame(data, self.max_frame_size), now)

    def events_received(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _accept(self, item: Frame | DecodeError, now: float) -> None:
        self.last_received = now
        if isinstance(item, DecodeError):
            self._decode_failed(item, now)
        elif self.phase is Phase.LOGGING_IN:
            self._held.append(item)
        else:
            self._route(item, now)

    def _route(self, frame: Frame, now: float) -> None:
        message = frame.message
        if isinstance(message, Nack):
            self._nacked(frame, message)  # a reply: never answered, not even before login
        elif isinstance(message, Login):
            if self.phase is Phase.AWAITING_LOGIN:
                self.phase = Phase.LOGGING_IN
                self.login_deadline = None  # the LOGIN is in: deciding takes what it takes
                self._hand_out(frame)
            else:
                self._refuse(frame, NackReason.UNEXPECTED, "already logged in", now)
        elif self.phase is not Phase.LOGGED_IN:
            self._refuse(frame, NackReason.UNEXPECTED, "not logged in", now)
        elif message.TYPE not in FROM_PILE:
            self._refuse(frame, NackReason.UNEXPECTED, "a gateway message, not a pile's", now)
        elif isinstance(message, CommandAck):
            self._command_acked(frame, message)
        elif message.TYPE in ACKED_EVENTS and not self._gun_known(message):
            self._refuse(frame, NackReason.BAD_FIELD, "no such gun on this pile", now)
        else:
            self._hand_out(frame)

    def _hand_out(self, frame: Frame) -> None:
        open_requests = self._open
        open_requests[id(frame)] = frame
        if len(open_requests) > MAX_OPEN_REQUESTS:
            del open_requests[next(iter(open_requests))]
        self._events.append(FrameReceived(frame))

    def _gun_known(self, message: Message) -> bool:
        gun: int = getattr(message, "gun", 0)
        return gun in self.guns or (gun == 0 and isinstance(message, Logout))

    def _nacked(self, frame: Frame, nack: Nack) -> None:
        """The pile could not read a command of ours: the command is refused (§7.13)."""
        command = self._pending.get(frame.seq)
        if command is None or nack.nacked_type != command.message.TYPE:
            self._events.append(UnmatchedReply(frame, "a NACK of no command awaited"))
            return
        del self._pending[frame.seq]
        ack = CommandAck(nack.nacked_type, 0, Result.OTHER)
        self._events.append(ReplyReceived(command, frame, ack, nack))

    def _command_acked(self, frame: Frame, ack: CommandAck) -> None:
        command = self._pending.get(frame.seq)
        if command is None or ack.command != command.message.TYPE:
            self._events.append(UnmatchedReply(frame, "a COMMAND_ACK of no command awaited"))
            return
        del self._pending[frame.seq]
        self._events.append(ReplyReceived(command, frame, ack))

    # --- bad input -------------------------------------------------------------------------

    def _decode_failed(self, error: DecodeError, now: float) -> None:
        nack = None
        if error.nack_reason is not None and error.seq is not None:
            nack = self._queue(Nack(error.msg_type or 0, error.nack_reason), error.seq)
        self._events.append(DecodeFailed(error, nack))
        self._count_bad(now)

    def _refuse(self, frame: Frame, reason: NackReason, why: str, now: float) -> None:
        """A valid frame the connection will not pass on: NACK it and count it as bad."""
        nack = self._queue(Nack(frame.message.TYPE, reason), frame.seq)
        self._events.append(FrameRefused(frame, reason, why, nack))
        self._count_bad(now)

    def _count_bad(self, now: float) -> None:
        times, window = self._bad_times, self.bad_frame_window
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        if len(times) >= self.bad_frame_burst:
            reason = f"{len(times)} bad frames within {window:g} s"
            self._close(CloseCause.BAD_FRAME_BURST, reason)

    # --- login -----------------------------------------------------------------------------

    def accept_login(
        self, frame: Frame, *, time_ms: int, heartbeat_interval_s: int, guns: Collection[int]
    ) -> Outgoing | None:
        """Answer the LOGIN handed out with LOGIN_ACK OK; ``guns``: the pile's gun numbers.
        The frames held behind it are routed now (their events follow)."""
        login = self._take_login(frame)
        if login is None:
            return None
        sent = self._queue(LoginAck(Result.OK, time_ms, heartbeat_interval_s), frame.seq)
        self.phase = Phase.LOGGED_IN
        self.pile_id = login.pile_id
        self.guns = frozenset(guns)
        self.login_deadline = None
        self._route_held()
        return sent

    def refuse_login(self, frame: Frame, result: int, *, time_ms: int) -> Outgoing | None:
        """Answer the LOGIN handed out with a refusal and close. The gateway's clock goes out
        with it: after CLOCK_SKEW the pile sets its clock from it and signs a new LOGIN."""
        if self._take_login(frame) is None:
            return None
        sent = self._queue(LoginAck(result, time_ms, 0), frame.seq)
        self._close(CloseCause.LOGIN_REFUSED, f"login refused: {Result(result).name.lower()}")
        return sent

    def _take_login(self, frame: Frame) -> Login | None:
        """The LOGIN being answered; None when the connection closed meanwhile."""
        answered = self._open.pop(id(frame), None) is None
        if self.phase is Phase.CLOSED:
            return None
        if not isinstance(frame.message, Login) or answered:
            raise PilegateUsageError("not a LOGIN awaiting its answer")
        return frame.message

    def _route_held(self) -> None:
        """Route the frames that arrived behind a LOGIN, in order, now that it is decided;
        a LOGIN among them (after a failed one) holds the rest again."""
        held, self._held = self._held, []
        for item in held:
            if self.phase is Phase.LOGGING_IN:
                self._held.append(item)
            elif self.phase is not Phase.CLOSED:
                self._route(item, self.last_received)

    # --- answering -------------------------------------------------------------------------

    def reply(self, request: Frame, message: Message) -> Outgoing | None:
        """Answer a request handed out in a ``FrameReceived``, echoing its seq. None: the
        connection is closed, nothing was sent."""
        kind = request.message.TYPE
        answer = message.TYPE
        # Fast path: the expected answer, not an ACK (whose acked type is checked below).
        if answer is not ANSWER_TO.get(kind) or answer is T.ACK:
            if kind == T.LOGIN:
                raise PilegateUsageError("a LOGIN is answered with accept_login or refuse_login")
            if answer != T.NACK and (
                ANSWER_TO.get(kind) != answer
                or (isinstance(message, Ack) and message.acked_type != kind)
            ):
                raise PilegateUsageError(f"{kind.name} is not answered by {message!r}")
        if self._open.pop(id(request), None) is None:
            if self.phase is Phase.CLOSED:
                return None
            raise PilegateUsageError(f"{kind.name} seq {request.seq} is answered already")
        if self.phase is Phase.CLOSED:
            return None
        seq = request.seq  # what _queue does, inline
        data = encode(message, seq)
        self._out.append(data)
        return Outgoing(seq, message, data)

    def fail(self, request: Frame) -> Outgoing | None:
        """Handling a valid frame failed: answer NACK INTERNAL_ERROR unless it was answered
        (or is a reply, which is never answered). The pile re-sends it later (§4.8)."""
        if self._open.pop(id(request), None) is None:
            return None
        sent = self._queue(Nack(request.message.TYPE, NackReason.INTERNAL_ERROR), request.seq)
        if isinstance(request.message, Login) and self.phase is Phase.LOGGING_IN:
            self.phase = Phase.AWAITING_LOGIN  # not logged in: a new LOGIN is handed out
            self._route_held()
        return sent

    @property
    def awaiting_answer(self) -> tuple[Frame, ...]:
        """Requests handed out and not answered yet, oldest first."""
        return tuple(self._open.values())

    # --- commands --------------------------------------------------------------------------

    def send_command(
        self, message: Message, now: float, timeout: float | None = None
    ) -> PendingCommand:
        """Send a command with the next seq; it awaits its COMMAND_ACK until ``now + timeout``
        (``command_timeout`` by default). ConnectionClosed once the connection is closed."""
        if message.TYPE not in COMMANDS:
            raise PilegateUsageError(f"{type(message).__name__} is not a gateway command")
        if self.phase is Phase.CLOSED:
            raise ConnectionClosed(self.close_reason)
        if self.phase is not Phase.LOGGED_IN:
            raise PilegateUsageError("no command before the login is accepted")
        seq = self._next_seq()
        sent = self._queue(message, seq)
        assert sent is not None  # open, so queued
        wait = self.command_timeout if timeout is None else timeout
        command = PendingCommand(seq, message, now, now + wait, sent)
        self._pending[seq] = command
        return command

    def _next_seq(self) -> int:
        seq = (self._seq + 1) & 0xFFFF
        while seq in self._pending:
            seq = (seq + 1) & 0xFFFF
        self._seq = seq
        return seq

    @property
    def pending(self) -> tuple[PendingCommand, ...]:
        return tuple(self._pending.values())

    # --- output ----------------------------------------------------------------------------

    def _queue(self, message: Message, seq: int) -> Outgoing | None:
        if self.phase is Phase.CLOSED:
            return None
        data = encode(message, seq)
        self._out.append(data)
        return Outgoing(seq, message, data)

    def data_to_send(self) -> bytes:
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

    # --- time ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``tick`` has something to do (None: nothing is waiting)."""
        if not self._pending and self.login_deadline is None:
            return None  # the steady state, asked after every heartbeat
        deadlines = [c.deadline for c in self._pending.values()]
        if self.login_deadline is not None and self.phase is not Phase.CLOSED:
            deadlines.append(self.login_deadline)
        return min(deadlines, default=None)

    def tick(self, now: float) -> None:
        """Commands whose COMMAND_ACK did not come by ``now`` time out (no longer awaited);
        a connection not logged in by its login deadline closes."""
        expired = [c for c in self._pending.values() if c.deadline <= now]
        for command in expired:
            del self._pending[command.seq]
            self._events.append(CommandTimedOut(command))
        deadline = self.login_deadline
        if deadline is not None and now >= deadline and self.phase is not Phase.CLOSED:
            self.login_deadline = None
            self._close(CloseCause.LOGIN_TIMEOUT, "no login in time")

    # --- closing ---------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """The owner closes the connection (pile replaced, write buffer full, shutdown...)."""
        self._close(CloseCause.OWNER, reason)

    def _close(self, cause: CloseCause, reason: str) -> None:
        if self.phase is Phase.CLOSED:
            return
        self.phase = Phase.CLOSED
        self.close_reason = reason
        self._held.clear()
        self._events.append(ConnectionClosing(cause, reason))

    def connection_lost(self, reason: str = "closed by the pile") -> list[PendingCommand]:
        """The link is gone: returns the commands still awaited (none is any longer)."""
        if self.phase is not Phase.CLOSED:
            self.phase = Phase.CLOSED
            self.close_reason = reason
        self._held.clear()
        abandoned = list(self._pending.values())
        self._pending.clear()
        return abandoned


__all__ = [
    "ANSWER_TO",
    "CloseCause",
    "CommandTimedOut",
    "ConnectionClosed",
    "ConnectionClosing",
    "DecodeFailed",
    "Event",
    "FrameReceived",
    "FrameRefused",
    "Outgoing",
    "PendingCommand",
    "Phase",
    "PilegateConnection",
    "PilegateUsageError",
    "ReplyReceived",
    "UnmatchedReply",
]
