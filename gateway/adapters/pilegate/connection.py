"""One v1 pile connection, whatever its transport: the gateway's side of a sans-I/O
`protocol.pilegate.connection.PilegateConnection`, which keeps v1's connection rules (login
first, seq allocation, COMMAND_ACK/NACK matching, NACKs of bad and refused frames, the
bad-frame burst, login and command timeouts). It is also the pile's `PileLink`: the core's
commands go out through `command`.

After every call into the protocol object (transport data, a reply, a command, its timer,
a close) one pump handles its events, writes what it has to send, and re-arms its one timer.
Frames are handled in arrival order. Most are handled synchronously inside the transport's
callback (the heartbeat path never awaits); LOGIN, AUTH_REQUEST and BILL need the database,
so when one arrives it and every frame and command answer after it are queued, and a worker
task drains the queue in order. A bad frame is logged, journaled, answered with a NACK where
it was readable, and counted. No request is left unanswered: if handling a valid one fails,
it is logged and answered NACK INTERNAL_ERROR (§4.8).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from gateway.adapters.pilegate import inbound, outbound
from gateway.adapters.pilegate.codes import LOGIN_RESULT_CODE, channel_name
from gateway.adapters.pilegate.host import PilegateAdapter
from gateway.adapters.pilegate.journal import error_line, message_line
from gateway.dialect import (
    NOT_SUPPORTED,
    Command,
    Connection,
    LoginRefused,
    PileLink,
    PileLogin,
    PilePort,
    Reply,
)
from protocol.pilegate import (
    Ack,
    AuthRequest,
    Bill,
    CommandAck,
    Frame,
    Heartbeat,
    HeartbeatAck,
    Login,
    Message,
    MsgType,
    Result,
    StatusChange,
)
from protocol.pilegate.connection import (
    CommandTimedOut,
    ConnectionClosed,
    ConnectionClosing,
    DecodeFailed,
    FrameReceived,
    FrameRefused,
    Outgoing,
    PendingCommand,
    PilegateConnection,
    ReplyReceived,
    UnmatchedReply,
)

NEEDS_DATABASE = (Login, AuthRequest, Bill)

#: Metric names of the message types, computed once (the heartbeat path counts every frame).
_NAMES = {t: t.name.lower() for t in MsgType}

#: Every heartbeat gets the same answer: one message, read-only (only its seq differs).
_HEARTBEAT_ACK = HeartbeatAck()
_HEARTBEAT_ACK_NAME = _NAMES[MsgType.HEARTBEAT_ACK]

#: Gun numbers a v1 frame can name (one byte).
_GUN_NUMBERS = range(1, 256)

Queued = FrameReceived | ReplyReceived


class Link(Protocol):
    """What a connection needs from its transport."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def write_buffer_size(self) -> int: ...
    def hold_reading(self, held: bool) -> None: ...


class PileConnection:
    dialect = "pilegate"

    def __init__(
        self, adapter: PilegateAdapter, link: Link, peer: str, url_pile_id: str | None = None
    ) -> None:
        self.core = core = adapter.core
        self.auth = adapter.auth
        self.link = link
        self.peer = peer
        self.url_pile_id = url_pile_id  # WebSocket: the id in the URL must match the LOGIN
        self.loop = core.loop
        config = core.config
        self.proto = PilegateConnection(
            self.loop.time(),
            login_timeout=config.piles.login_timeout_s,
            command_timeout=config.piles.command_timeout_s,
            bad_frame_burst=config.server.bad_frame_burst,
            bad_frame_window=config.server.bad_frame_window_s,
            max_frame_size=config.server.max_frame_size,
        )
        self.metrics = core.metrics
        self.journaling = config.database.journal
        self.heartbeat_journal = config.database.journal_heartbeats
        self.write_buffer_limit = config.server.write_buffer_limit
        self.pile: PilePort | None = None
        self.pile_id: str | None = None
        self.authenticated = False  # logged in with a good LOGIN MAC (pile_auth.py)
        self._waiting: dict[int, asyncio.Future[CommandAck | None]] = {}  # by command seq
        self._inbox: deque[Queued] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._pumping = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        # Heartbeats are journaled per config database.journal_heartbeats: "changes" keeps
        # the first one after login and those whose gun statuses or faults changed.
        self._first_report = False
        self._last_report: dict[int, tuple[int, int]] = {}
        self.log = core.log.bind(peer=peer)
        self.metrics.connections += 1
        self._pump()  # arms the login timeout

    @property
    def closed(self) -> bool:
        return self.proto.closed

    @property
    def close_reason(self) -> str:
        return self.proto.close_reason

    @property
    def last_rx(self) -> float:
        return self.proto.last_received

    # --- input ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """A chunk of a TCP byte stream."""
        self.proto.receive_data(data, self.loop.time())
        self._pump()

    def frame_received(self, data: bytes) -> None:
        """One WebSocket binary message: exactly one frame, or rejected as a whole (§1)."""
        self.proto.receive_frame(data, self.loop.time())
        self._pump()

    def _pump(self) -> None:
        """Handle the protocol's events, write what it has to send, re-arm its timer."""
        if self._pumping:
            return  # the outer pump picks up what this call added
        self._pumping = True
        proto = self.proto
        try:
            while events := proto.events_received():
                for event in events:
                    if type(event) is FrameReceived:
                        self._frame(event)  # the steady state: a pile's request
                    else:
                        self._event(event)
        finally:
            self._pumping = False
        self._write()  # may close (write buffer full): the closing is pumped then
        deadline = proto.next_deadline()
        if deadline != self._timer_at:
            self._arm(deadline)

    def _frame(self, event: FrameReceived) -> None:
        """A pile's request: handled now, or queued behind (or as) database work."""
        frame = event.frame
        message = frame.message
        self.metrics.frame_in(_NAMES[message.TYPE])
        if self._inbox is not None:
            self._inbox.append(event)
        elif type(message) is Heartbeat:
            self._heartbeat_answered(frame, message)
        elif isinstance(message, NEEDS_DATABASE):
            self._inbox = deque((event,))
            self._worker = asyncio.create_task(self._drain())
        else:
            self._handle(frame)

    def _event(self, event: Any) -> None:
        if isinstance(event, FrameReceived):
            self._frame(event)
        elif isinstance(event, ReplyReceived):
            self.metrics.frame_in(_NAMES[event.frame.message.TYPE])
            if self._inbox is not None:
                self._inbox.append(event)  # answered in order, behind the database's work
            else:
                self._replied(event)
        elif isinstance(event, DecodeFailed):
            self._bad_frame(event)
        elif isinstance(event, FrameRefused):
            self._refused(event)
        elif isinstance(event, UnmatchedReply):
            self.metrics.frame_in(_NAMES[event.frame.message.TYPE])
            self._journal_in(event.frame)
            self.log.warning(
                "command_reply_unmatched",
                seq=event.frame.seq,
                type=event.frame.message.TYPE.name,
                why=event.reason,
            )
        elif isinstance(event, CommandTimedOut):
            self._answer(event.command.seq, None)
        elif isinstance(event, ConnectionClosing):
            self.log.info("connection_closing", reason=event.reason)
            self._write()  # a refusal's LOGIN_ACK, a last NACK
            self.link.close()

    async def _drain(self) -> None:
        inbox = self._inbox
        try:
            # Even once the connection is closed: what was received is still processed
            # (a LOGOUT behind a bill must end its service); replies are then not sent.
            while inbox:
                event = inbox.popleft()
                if isinstance(event, ReplyReceived):
                    self._replied(event)
                elif isinstance(event.frame.message, NEEDS_DATABASE):
                    await self._handle_async(event.frame)
                else:
                    self._handle(event.frame)
                self._pump()
        finally:
            self._inbox = None
            self._worker = None

    def _handle(self, frame: Frame) -> None:
        message = frame.message
        pile = self.pile
        try:
            if pile is None:  # not logged in any more: the pile was refused meanwhile
                return
            if isinstance(message, Heartbeat):
                self._heartbeat_answered(frame, message)
                return
            self._journal_in(frame)
            if isinstance(message, StatusChange):
                self._last_report[message.gun] = (message.status, message.fault_code)
            inbound.report_event(pile, message, self.log)
            self._reply(frame, Ack(message.TYPE, Result.OK))
        except Exception:
            self._failed(frame)

    def _heartbeat_answered(self, frame: Frame, heartbeat: Heartbeat) -> None:
        """The hot path: report the guns, answer HEARTBEAT_ACK (written by the pump). Journaled
        per config database.journal_heartbeats, the answer with its heartbeat."""
        pile = self.pile
        if pile is None:  # not logged in any more: the pile was refused meanwhile
            return
        try:
            first, self._first_report = self._first_report, False
            reports, changed = inbound.gun_reports(heartbeat, self._last_report, self.log)
            pile.reports(reports)
            policy = self.heartbeat_journal
            journal = policy == "all" or (policy == "changes" and (changed or first))
            if journal:
                self._journal_in(frame)
            sent = self.proto.reply(frame, _HEARTBEAT_ACK)
            if sent is not None:
                self.metrics.frame_out(_HEARTBEAT_ACK_NAME)
                if journal and self.pile_id is not None:
                    self._journal(self.pile_id, "out", sent.seq, sent.message, sent.data)
        except Exception:
            self._failed(frame)

    async def _handle_async(self, frame: Frame) -> None:
        message = frame.message
        started = self.loop.time()
        try:
            if isinstance(message, Login):
                await self._login(frame, message)
                return
            pile = self.pile
            if pile is None:
                return
            self._journal_in(frame)
            if isinstance(message, AuthRequest):
                channel = channel_name(message.channel)
                authorisation = await pile.authorise(
                    message.gun, channel, message.id_token, message.password
                )
                self._reply(frame, inbound.auth_result(message.gun, authorisation))
            else:
                assert isinstance(message, Bill)
                verdict = await pile.bill(inbound.pile_bill(message))
                # None: not committed, answered REJECTED: the pile keeps the bill and re-sends
                self._reply(frame, inbound.bill_ack(message.transaction_id, verdict))
            self.metrics.observe_ack(_NAMES[message.TYPE], self.loop.time() - started)
        except Exception:
            self._failed(frame)

    def _failed(self, frame: Frame) -> None:
        """Handling a valid frame raised: log it and, unless it was answered, say so (§4.8)."""
        message = frame.message
        self.log.exception("frame_handling_failed", seq=frame.seq, type=message.TYPE.name)
        try:
            self._sent(self.proto.fail(frame))
        except Exception:
            self.log.exception("nack_failed", seq=frame.seq, type=message.TYPE.name)

    # --- login ------------------------------------------------------------------------------

    async def _login(self, frame: Frame, login: Login) -> None:
        self._journal(login.pile_id, "in", frame.seq, login, frame.raw)
        if self.url_pile_id is not None and self.url_pile_id != login.pile_id:
            self.log.warning(
                "login_rejected", pile=login.pile_id, reason="pile id is not the URL's"
            )
            self._refuse_login(frame, Result.AUTH_FAILED, login.pile_id)
            return
        if login.protocol_version != 1:
            self.log.warning("login_rejected", pile=login.pile_id, reason="protocol version")
            self._refuse_login(frame, Result.UNSUPPORTED_VERSION, login.pile_id)
            return
        async with self.core.login_slots:
            if self.closed:  # the pile gave up waiting (it logs in again): no work for it
                return
            admitted = await self._admit(login)
        if self.closed:
            return
        if isinstance(admitted, LoginRefused):
            self.log.warning("login_rejected", pile=login.pile_id, reason=admitted.reason)
            self._refuse_login(frame, LOGIN_RESULT_CODE[admitted.refusal], login.pile_id)
            return
        pile, facts = admitted
        self.authenticated = facts.authenticated
        self.pile, self.pile_id = pile, login.pile_id
        self.log = self.log.bind(pile=login.pile_id)
        self._first_report = True  # it reconciles the sessions held: always journaled
        sent = self.proto.accept_login(
            frame,
            time_ms=self.core.now_ms(),
            heartbeat_interval_s=self.core.config.piles.heartbeat_interval_s,
            guns=[gun for gun in _GUN_NUMBERS if pile.has_gun(gun)],
        )
        self._sent(sent)
        self._write()
        self.log.info(
            "pile_login",
            vendor=login.vendor,
            model=login.model,
            firmware=login.firmware,
            guns=login.gun_count,
            seq=frame.seq,
            authenticated=self.authenticated,
        )
        pile.connected(self, facts)  # it sends the pile's configuration: state, tariff, ...

    async def _admit(self, login: Login) -> tuple[PilePort, PileLogin] | LoginRefused:
        """The LOGIN MAC first (a login it refuses stores nothing and leaves the pile's live
        connection, if any, as it is), then the gateway's own login."""
        allowed = await self.auth.check(login)
        if isinstance(allowed, LoginRefused):
            return allowed
        facts = PileLogin(
            login.pile_id,
            login.gun_count,
            vendor=login.vendor,
            model=login.model,
            firmware=login.firmware,
            pile_time_ms=login.pile_time_ms,
            authenticated=allowed.authenticated,
            peer=self.peer,
        )
        pile = await self.core.login(self, facts)
        return pile if isinstance(pile, LoginRefused) else (pile, facts)

    def _refuse_login(self, frame: Frame, result: int, pile_id: str) -> None:
        # The gateway's clock goes out with a refusal too: after CLOCK_SKEW the pile sets its
        # clock from it and signs a new LOGIN (docs/protocol.md §6.1.1).
        sent = self.proto.refuse_login(frame, result, time_ms=self.core.now_ms())
        if sent is not None:
            self.metrics.frame_out(_NAMES[sent.message.TYPE])
            self._journal(pile_id, "out", sent.seq, sent.message, sent.data)

    # --- bad input --------------------------------------------------------------------------

    def _bad_frame(self, event: DecodeFailed) -> None:
        error = event.error
        metrics = self.metrics
        metrics.decode_errors[error.kind] = metrics.decode_errors.get(error.kind, 0) + 1
        self.log.warning(
            "bad_frame",
            kind=error.kind,
            detail=error.detail,
            seq=error.seq,
            raw=error.raw[:64].hex(),
        )
        if self.pile_id is not None and self.journaling:
            self.core.journal(self.pile_id, error_line(error))
        self._sent(event.nack)

    def _refused(self, event: FrameRefused) -> None:
        """A valid frame the protocol will not pass on: answered NACK and counted as bad."""
        frame = event.frame
        self.metrics.frame_in(_NAMES[frame.message.TYPE])
        if frame.message.TYPE != MsgType.LOGIN:
            self._journal_in(frame)
        self.log.warning(
            "frame_refused",
            type=frame.message.TYPE.name,
            seq=frame.seq,
            reason=event.reason.name,
            why=event.why,
        )
        self._sent(event.nack)

    # --- output -----------------------------------------------------------------------------

    def _reply(self, request: Frame, message: Message, *, journal: bool = True) -> None:
        self._sent(self.proto.reply(request, message), journal=journal)

    def _sent(self, sent: Outgoing | None, *, journal: bool = True) -> None:
        """Count (and journal) a frame the protocol queued; it is written by the pump."""
        if sent is None:
            return  # closed meanwhile: nothing goes out
        self.metrics.frame_out(_NAMES[sent.message.TYPE])
        if journal and self.pile_id is not None:
            self._journal(self.pile_id, "out", sent.seq, sent.message, sent.data)

    def _write(self) -> None:
        data = self.proto.data_to_send()
        if not data:
            return
        self.link.write(data)
        limit = self.write_buffer_limit
        if self.link.write_buffer_size() > limit:
            self.close(f"write buffer over {limit} bytes: the pile does not read")

    def _arm(self, deadline: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        self._timer = self._timer_at = None
        self.proto.tick(self.loop.time())
        self._pump()

    # --- the PileLink ---------------------------------------------------------------------------

    def supports(self, command: type[Command]) -> bool:
        return outbound.supports(command)

    async def command(self, command: Command, timeout_s: float) -> Reply | None:
        """Send one of the core's commands and await the pile's answer; None when none came
        in time or the connection closed. The answer must name the command's gun (0 for the
        whole-pile ones, docs §3.3)."""
        message = outbound.message_of(command)
        if message is None:
            return NOT_SUPPORTED
        ack = await self.send_command(message, timeout_s)
        if ack is None:
            return None
        gun = getattr(message, "gun", 0)
        if ack.gun != gun:
            self.log.warning(
                "command_ack_wrong_gun", command=message.TYPE.name, gun=ack.gun, expected=gun
            )
            return Reply(False, f"command_ack_gun_{ack.gun}_not_{gun}", ack.gun)
        return outbound.reply_of(ack)

    async def send_command(self, message: Message, timeout: float) -> CommandAck | None:
        """Send a v1 command and wait for its COMMAND_ACK (a NACK of it: result OTHER); None
        when none came in time or the connection is closed."""
        try:
            pending = self.proto.send_command(message, self.loop.time(), timeout)
        except ConnectionClosed:
            return None
        future: asyncio.Future[CommandAck | None] = self.loop.create_future()
        self._waiting[pending.seq] = future
        self._sent(pending.sent)
        self._pump()
        try:
            return await future
        finally:
            self._waiting.pop(pending.seq, None)

    def _replied(self, event: ReplyReceived) -> None:
        self._journal_in(event.frame)
        if event.nack is not None:
            self.log.warning(
                "command_nacked",
                seq=event.frame.seq,
                command=event.nack.nacked_type,
                reason=event.nack.reason,
            )
        self._answer(event.command.seq, event.ack)

    def _answer(self, seq: int, ack: CommandAck | None) -> None:
        future = self._waiting.get(seq)
        if future is not None and not future.done():
            future.set_result(ack)

    # --- lifecycle --------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.proto.close(reason)
        self._pump()

    def connection_lost(self, exc: BaseException | None) -> None:
        closed_here = not self.closed
        buffered = self.proto.buffered
        reason = "closed by the pile" if exc is None else f"lost: {exc}"
        abandoned = self.proto.connection_lost(reason)
        if closed_here:
            self.log.info("connection_lost", reason=self.close_reason)
        self._arm(None)
        for command in abandoned:
            self._answer(command.seq, None)
        for future in self._waiting.values():  # answered, but queued behind database work
            if not future.done():
                future.set_result(None)
        if buffered:
            self.log.warning("connection_lost_midframe", buffered=buffered)
        self.metrics.connections -= 1
        self.core.connection_lost(self)
        if self.pile is not None:
            self.pile.disconnected(self, self.close_reason)

    # --- the gateway's Connection (housekeeping) -------------------------------------------------

    def silent_since(self) -> float | None:
        return self.proto.last_received if self.pile is not None else None

    def silence_limit_s(self) -> None:
        return None  # the gateway's heartbeat rule

    def in_flight(self) -> asyncio.Task[None] | None:
        return self._worker

    def hold_reading(self, held: bool) -> None:
        self.link.hold_reading(held)

    def _journal_in(self, frame: Frame) -> None:
        if self.pile_id is not None:
            self._journal(self.pile_id, "in", frame.seq, frame.message, frame.raw)

    def _journal(
        self, pile_id: str, direction: str, seq: int, message: Message, raw: bytes
    ) -> None:
        if self.journaling:  # a line is not even built otherwise
            self.core.journal(pile_id, message_line(direction, seq, message, raw))

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "pile": self.pile_id, "closed": self.closed}


if TYPE_CHECKING:

    def _is_a_pile_link(connection: PileConnection) -> PileLink:
        return (
            connection  # mypy checks that the connection keeps the contract of gateway/dialect.py
        )

    def _is_a_connection(connection: PileConnection) -> Connection:
        return connection

    _ = PendingCommand
