"""One YKC connection as a sans-I/O state machine: bytes in, events out; messages in, bytes out.

    conn = YkcConnection()
    conn.receive_data(chunk)               # whatever the socket read
    for event in conn.events_received():   # FrameReceived, ReplyReceived, DecodeFailed, ...
        ...
    conn.reply(event.frame, LoginReply(pile, 0))      # echoes the request's sequence bytes
    command = conn.send_command(RemoteStop(pile, "01"), now)   # numbered, awaits 0x35
    sock.send(conn.data_to_send())
    conn.timeouts(now)                     # CommandTimedOut for replies past their deadline

It never reads a clock: ``now`` (seconds, any monotonic origin) is passed in where a deadline
is set or checked, and ``next_deadline()`` tells the caller when to call ``timeouts`` next.
It never raises on input; API misuse (answering a frame with the wrong reply type, a command
before login) raises ``YkcUsageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from protocol.error_root import PilegateError
from protocol.ykc.codec import CrcOrder, YkcFrame, encode
from protocol.ykc.cp56 import CHINA
from protocol.ykc.decoder import YkcFrameDecoder
from protocol.ykc.errors import YkcDecodeError
from protocol.ykc.messages import FrameType, Login, LoginReply, Message, RemoteStartResult

T = FrameType

#: What the platform answers to each pile request.
ANSWER_TO: dict[int, FrameType] = {
    T.LOGIN: T.LOGIN_REPLY,
    T.HEARTBEAT: T.HEARTBEAT_REPLY,
    T.MODEL_VERIFY: T.MODEL_VERIFY_REPLY,
    T.MODEL_REQUEST: T.MODEL_REPLY,
    T.START_REQUEST: T.START_AUTHORISATION,
    T.BILL: T.BILL_CONFIRM,
    T.BILL_V17: T.BILL_CONFIRM,
}

#: What the pile answers to each platform command that pilegate tracks.
REPLY_TO: dict[int, FrameType] = {
    T.REMOTE_START: T.REMOTE_START_RESULT,
    T.REMOTE_STOP: T.REMOTE_STOP_RESULT,
    T.SET_MODEL: T.SET_MODEL_REPLY,
    T.TIME_SYNC: T.TIME_SYNC_REPLY,
    T.REBOOT: T.REBOOT_REPLY,
}
_REPLY_TYPES = frozenset(REPLY_TO.values())

#: Seconds a command waits for its reply. 90 s for a start: SPEC gives the pile that long to
#: confirm, and a pile that was not plugged answers again once the car is (within 60 s).
DEFAULT_REPLY_TIMEOUTS: dict[FrameType, float] = {
    T.REMOTE_START: 90.0,
    T.REMOTE_STOP: 30.0,
    T.SET_MODEL: 30.0,
    T.TIME_SYNC: 30.0,
    T.REBOOT: 30.0,
}

NOT_PLUGGED = 5  # RemoteStartResult.fail_reason: the pile waits for the plug and answers again


def _key(message: Any) -> tuple[str, ...]:
    """What a reply must share with its command when the pile did not echo the seq."""
    if message.TYPE in (T.REMOTE_START, T.REMOTE_START_RESULT):
        return (message.pile, message.gun, message.trade_no)
    if message.TYPE in (T.REMOTE_STOP, T.REMOTE_STOP_RESULT):
        return (message.pile, message.gun)
    return (message.pile,)


class YkcUsageError(PilegateError, RuntimeError):
    """The caller used the connection wrongly (not the pile's fault)."""


@dataclass(slots=True)
class PendingCommand:
    seq: int
    message: Message
    sent_at: float
    deadline: float
    last_reply: YkcFrame | None = None  # a provisional reply (start: "not plugged yet")

    @property
    def reply_type(self) -> FrameType:
        return REPLY_TO[self.message.TYPE]


@dataclass(slots=True, frozen=True)
class FrameReceived:
    """A frame the pile sent on its own: a request to answer or a report to record."""

    frame: YkcFrame


@dataclass(slots=True, frozen=True)
class FrameBeforeLogin:
    """A frame other than 0x01 before a successful login: SPEC says drop it (and the link)."""

    frame: YkcFrame


@dataclass(slots=True, frozen=True)
class ReplyReceived:
    """A pile's answer to one of our commands. ``final`` is False for a start that failed
    only because the gun was not plugged in: the pile may still answer success later."""

    command: PendingCommand
    frame: YkcFrame
    final: bool
    matched_by: str  # "seq": the pile echoed our sequence bytes; "content": pile/gun/trade


@dataclass(slots=True, frozen=True)
class UnexpectedFrame:
    """A reply nothing waits for (late, duplicate) or a platform-side frame type from a pile."""

    frame: YkcFrame
    reason: str


@dataclass(slots=True, frozen=True)
class DecodeFailed:
    error: YkcDecodeError


@dataclass(slots=True, frozen=True)
class CommandTimedOut:
    command: PendingCommand


Event = FrameReceived | FrameBeforeLogin | ReplyReceived | UnexpectedFrame | DecodeFailed


class YkcConnection:
    def __init__(
        self,
        *,
        tz: tzinfo = CHINA,
        reply_timeouts: Mapping[FrameType, float] | None = None,
        encoder: Callable[[Message, int], bytes] = encode,
    ) -> None:
        self.tz = tz  # the pile's zone, for its CP56Time2a times
        self.reply_timeouts = {**DEFAULT_REPLY_TIMEOUTS, **(reply_timeouts or {})}
        self.version: int | None = None  # learnt from the login
        self.pile: str | None = None
        self.logged_in = False
        self.crc_order: CrcOrder | None = None  # of the last good frame
        self._crc_counts = dict.fromkeys(CrcOrder, 0)
        self._decoder = YkcFrameDecoder(version=None)
        self._encode = encoder
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._pending: list[PendingCommand] = []  # oldest first
        self._next_seq = 0

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, YkcFrame):
                self._receive_frame(item)
            else:
                self._events.append(DecodeFailed(item))

    def events_received(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    @property
    def crc_orders_seen(self) -> dict[CrcOrder, int]:
        """Good frames per CRC byte order on this connection (for the pile's record)."""
        return dict(self._crc_counts)

    def _receive_frame(self, frame: YkcFrame) -> None:
        self.crc_order = frame.crc_order
        self._crc_counts[frame.crc_order] += 1
        message = frame.message
        if isinstance(message, Login):
            self.version = message.protocol_version
            self.pile = message.pile
            self._decoder.version = message.protocol_version
            self._events.append(FrameReceived(frame))
        elif not self.logged_in:
            self._events.append(FrameBeforeLogin(frame))
        elif frame.frame_type in _REPLY_TYPES:
            self._match_reply(frame)
        elif frame.frame_type % 2 == 0:
            self._events.append(UnexpectedFrame(frame, "platform frame type sent by the pile"))
        else:
            self._events.append(FrameReceived(frame))

    def _match_reply(self, frame: YkcFrame) -> None:
        key = _key(frame.message)
        candidates = [
            c for c in self._pending if c.reply_type == frame.frame_type and _key(c.message) == key
        ]
        by_seq = [c for c in candidates if c.seq == frame.seq]
        command = next(iter(by_seq or candidates), None)
        if command is None:
            self._events.append(UnexpectedFrame(frame, "no command awaits this reply"))
            return
        message = frame.message
        final = not (
            isinstance(message, RemoteStartResult)
            and message.result == 0
            and message.fail_reason == NOT_PLUGGED
        )
        if final:
            self._pending.remove(command)
        else:
            command.last_reply = frame
        matched_by = "seq" if by_seq else "content"
        self._events.append(ReplyReceived(command, frame, final, matched_by))

    # -- sending ---------------------------------------------------------------------------

    def reply(self, request: YkcFrame, message: Message) -> None:
        """Answer a pile request, echoing its sequence bytes."""
        expected = ANSWER_TO.get(request.frame_type)
        if expected != message.TYPE:
            raise YkcUsageError(
                f"0x{request.frame_type:02x} is answered by {expected!r}, not {message.TYPE!r}"
            )
        if isinstance(message, LoginReply):
            self.logged_in = message.result == 0
        self._out.append(self._encode(message, request.seq))

    def send_command(self, message: Message, now: float) -> PendingCommand | None:
        """Send a platform command with the next sequence number. Commands with a reply
        (REPLY_TO) are tracked until it arrives or ``timeouts`` expires them; others
        (0x12 read realtime data) are sent and forgotten: None."""
        if not self.logged_in:
            raise YkcUsageError("no command before a successful login")
        if message.TYPE in ANSWER_TO.values() or message.TYPE % 2:
            raise YkcUsageError(f"{type(message).__name__} is not a platform command")
        seq = self._allocate_seq()
        self._out.append(self._encode(message, seq))
        if message.TYPE not in REPLY_TO:
            return None
        deadline = now + self.reply_timeouts[FrameType(message.TYPE)]
        command = PendingCommand(seq, message, now, deadline)
        self._pending.append(command)
        return command

    def _allocate_seq(self) -> int:
        busy = {c.seq for c in self._pending}
        seq = self._next_seq
        while seq in busy:
            seq = (seq + 1) & 0xFFFF
        self._next_seq = (seq + 1) & 0xFFFF
        return seq

    def data_to_send(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    # -- time ------------------------------------------------------------------------------

    @property
    def pending(self) -> tuple[PendingCommand, ...]:
        return tuple(self._pending)

    def next_deadline(self) -> float | None:
        return min((c.deadline for c in self._pending), default=None)

    def timeouts(self, now: float) -> list[CommandTimedOut]:
        """Commands whose reply did not come by ``now``; they are no longer awaited."""
        expired = [c for c in self._pending if c.deadline <= now]
        self._pending = [c for c in self._pending if c.deadline > now]
        return [CommandTimedOut(c) for c in expired]

    def connection_lost(self) -> list[PendingCommand]:
        """The link is gone: every awaited command is abandoned (returned), state reset."""
        abandoned, self._pending = self._pending, []
        self.logged_in = False
        self._next_seq = 0  # YKC restarts numbering on reconnect
        self._decoder.clear()
        return abandoned
