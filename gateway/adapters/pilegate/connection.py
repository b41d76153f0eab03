"""One v1 pile connection, whatever its transport: decoding, login, replies, commands, bad
input. It is also the pile's `PileLink`: the core's commands go out through `command`.

Frames are handled in arrival order. Most are handled synchronously inside the transport's
callback (the heartbeat path never awaits); LOGIN, AUTH_REQUEST and BILL need the database, so
when one arrives the connection queues it and everything after it, and a worker task drains
the queue in order. A bad frame is logged, journaled, answered with a NACK where it was
readable, and counted: a burst of them closes the connection. No request is left unanswered:
if handling a valid one fails, it is logged and answered NACK INTERNAL_ERROR (§4.8).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from gateway.adapters.pilegate import inbound, outbound
from gateway.adapters.pilegate.codes import LOGIN_RESULT_CODE, channel_name
from gateway.adapters.pilegate.journal import error_line, message_line
from gateway.dialect import (
    NOT_SUPPORTED,
    Command,
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
    DecodeError,
    Frame,
    FrameDecoder,
    Heartbeat,
    HeartbeatAck,
    Login,
    LoginAck,
    Logout,
    Message,
    MsgType,
    Nack,
    NackReason,
    Result,
    StatusChange,
    decode_frame,
    encode,
)
from protocol.pilegate.codes import ACKED_EVENTS, FROM_PILE, REPLIES

if TYPE_CHECKING:
    from gateway.app import Gateway

NEEDS_DATABASE = (Login, AuthRequest, Bill)

#: Metric names of the message types, computed once (the heartbeat path counts every frame).
_NAMES = {t: t.name.lower() for t in MsgType}


class Link(Protocol):
    """What a connection needs from its transport."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def write_buffer_size(self) -> int: ...


class PileConnection:
    dialect = "pilegate"

    def __init__(self, gateway: Gateway, link: Link, peer: str, url_pile_id: str | None = None):
        self.gateway = gateway
        self.link = link
        self.peer = peer
        self.url_pile_id = url_pile_id  # WebSocket: the id in the URL must match the LOGIN
        self.decoder = FrameDecoder(gateway.config.server.max_frame_size)
        self.pile: PilePort | None = None
        self.pile_id: str | None = None
        self.closed = False
        self.close_reason = ""
        self.authenticated = False  # logged in with a good LOGIN MAC (gateway/pile_auth.py)
        self.last_rx = gateway.loop.time()
        self._seq = 0
        self._pending: dict[int, tuple[int, asyncio.Future[CommandAck]]] = {}
        self._inbox: deque[Frame] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._bad_times: deque[float] = deque()
        self._replied_seq: int | None = None  # seq of the last reply sent (see _failed)
        # Heartbeats are journaled per config database.journal_heartbeats: "changes" keeps
        # the first one after login and those whose gun statuses or faults changed.
        self._first_report = False
        self._last_report: dict[int, tuple[int, int]] = {}
        self.log = gateway.log.bind(peer=peer)
        self._login_timer: asyncio.TimerHandle | None = gateway.loop.call_later(
            gateway.config.piles.login_timeout_s, self._login_timed_out
        )
        gateway.metrics.connections += 1

    # --- input ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """A chunk of a TCP byte stream."""
        for item in self.decoder.feed(data):
            self._accept(item)

    def frame_received(self, data: bytes) -> None:
        """One WebSocket binary message: exactly one frame, or rejected as a whole (§1)."""
        self._accept(decode_frame(data, self.gateway.config.server.max_frame_size))

    def _accept(self, item: Frame | DecodeError) -> None:
        if self.closed:
            return
        self.last_rx = self.gateway.loop.time()
        if isinstance(item, DecodeError):
            self._bad_frame(item)
            return
        self.gateway.metrics.frame_in(_NAMES.get(item.message.TYPE, "unknown"))
        if self._inbox is not None:
            self._inbox.append(item)
        elif isinstance(item.message, NEEDS_DATABASE):
            self._inbox = deque((item,))
            self._worker = asyncio.create_task(self._drain())
        else:
            self._handle(item)

    async def _drain(self) -> None:
        inbox = self._inbox
        try:
            # Even once the connection is closed: what was received is still processed
            # (a LOGOUT behind a bill must end its service); replies are then not sent.
            while inbox:
                item = inbox.popleft()
                if isinstance(item.message, NEEDS_DATABASE):
                    await self._handle_async(item)
                else:
                    self._handle(item)
        finally:
            self._inbox = None
            self._worker = None

    def _handle(self, frame: Frame) -> None:
        message = frame.message
        self._replied_seq = None
        try:
            if isinstance(message, Nack):
                self._nacked(frame, message)  # a reply: never answered, not even before login
            elif self.pile is None:
                self._unexpected(frame, "not logged in")
            elif message.TYPE not in FROM_PILE:
                self._journal_in(frame)
                self._unexpected(frame, "a gateway message, not a pile's")
            elif isinstance(message, Heartbeat):
                self.send(HeartbeatAck(), frame.seq, journal=self._heartbeat(frame, message))
            elif isinstance(message, CommandAck):
                self._journal_in(frame)
                self._command_acked(frame.seq, message)
            elif not self._gun_known(message):
                self._journal_in(frame)
                self._refuse(frame, NackReason.BAD_FIELD, "no such gun on this pile")
            else:
                self._journal_in(frame)
                if isinstance(message, StatusChange):
                    self._last_report[message.gun] = (message.status, message.fault_code)
                inbound.report_event(self.pile, message, self.log)
                self.send(Ack(message.TYPE, Result.OK), frame.seq)
        except Exception:
            self._failed(frame)

    def _heartbeat(self, frame: Frame, heartbeat: Heartbeat) -> bool:
        """Report the guns; True when the heartbeat is journaled (its answer too)."""
        assert self.pile is not None
        first, self._first_report = self._first_report, False
        reports, changed = inbound.gun_reports(heartbeat, self._last_report, self.log)
        self.pile.reports(reports)
        policy = self.gateway.config.database.journal_heartbeats
        journal = policy == "all" or (policy == "changes" and (changed or first))
        if journal:
            self._journal_in(frame)
        return journal

    async def _handle_async(self, frame: Frame) -> None:
        message = frame.message
        started = self.gateway.loop.time()
        self._replied_seq = None
        try:
            if isinstance(message, Login):
                await self._login(frame, message)
            elif self.pile is None:
                self._unexpected(frame, "not logged in")
            elif isinstance(message, AuthRequest):
                self._journal_in(frame)
                channel = channel_name(message.channel)
                authorisation = await self.pile.authorise(
                    message.gun, channel, message.id_token, message.password
                )
                self.send(inbound.auth_result(message.gun, authorisation), frame.seq)
                self._observe_ack(message, started)
            else:
                assert isinstance(message, Bill)
                self._journal_in(frame)
                verdict = await self.pile.bill(inbound.pile_bill(message))
                # None: not committed, answered REJECTED: the pile keeps the bill and re-sends
                self.send(inbound.bill_ack(message.transaction_id, verdict), frame.seq)
                self._observe_ack(message, started)
        except Exception:
            self._failed(frame)

    def _failed(self, frame: Frame) -> None:
        """Handling a valid frame raised: log it and, unless it was answered, say so (§4.8)."""
        message = frame.message
        self.log.exception("frame_handling_failed", seq=frame.seq, type=message.TYPE.name)
        if message.TYPE in (MsgType.COMMAND_ACK, MsgType.NACK) or self._replied_seq == frame.seq:
            return  # a reply is never answered; a request only once
        try:
            self.send(Nack(message.TYPE, NackReason.INTERNAL_ERROR), frame.seq)
        except Exception:
            self.log.exception("nack_failed", seq=frame.seq, type=message.TYPE.name)

    def _gun_known(self, message: Message) -> bool:
        """False for an event naming a gun the pile does not have (LOGOUT gun 0: the pile)."""
        gun = getattr(message, "gun", None)
        if gun is None or message.TYPE not in ACKED_EVENTS:
            return True
        if gun == 0 and isinstance(message, Logout):
            return True
        return self.pile is not None and self.pile.has_gun(gun)

    def _observe_ack(self, message: Message, started: float) -> None:
        """Time from reading a request to sending its reply (a bill's includes its commit)."""
        self.gateway.metrics.observe_ack(_NAMES[message.TYPE], self.gateway.loop.time() - started)

    # --- login ------------------------------------------------------------------------------

    async def _login(self, frame: Frame, login: Login) -> None:
        if self.pile is not None:
            self._unexpected(frame, "already logged in")
            return
        # The LOGIN is in: the timeout is for connections that send none, not for the
        # gateway's own work on it (a login storm's database waits). Closing those made
        # every pile log in again, which fed the storm.
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        self._journal(login.pile_id, "in", frame.seq, login, frame.raw)
        if self.url_pile_id is not None and self.url_pile_id != login.pile_id:
            self.log.warning(
                "login_rejected", pile=login.pile_id, reason="pile id is not the URL's"
            )
            self._refuse_login(frame.seq, Result.AUTH_FAILED, login.pile_id)
            return
        if login.protocol_version != 1:
            self.log.warning("login_rejected", pile=login.pile_id, reason="protocol version")
            self._refuse_login(frame.seq, Result.UNSUPPORTED_VERSION, login.pile_id)
            return
        async with self.gateway.login_slots:
            if self.closed:  # the pile gave up waiting (it logs in again): no work for it
                return
            admitted = await self._admit(login)
        if self.closed:
            return
        if isinstance(admitted, LoginRefused):
            self.log.warning("login_rejected", pile=login.pile_id, reason=admitted.reason)
            self._refuse_login(frame.seq, LOGIN_RESULT_CODE[admitted.refusal], login.pile_id)
            return
        pile, facts = admitted
        self.authenticated = facts.authenticated
        self.pile, self.pile_id = pile, login.pile_id
        self.log = self.log.bind(pile=login.pile_id)
        self._first_report = True  # it reconciles the sessions held: always journaled
        interval = self.gateway.config.piles.heartbeat_interval_s
        self.send(LoginAck(Result.OK, self.gateway.now_ms(), interval), frame.seq)
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
        allowed = await self.gateway.pile_auth.check(login)
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
        pile = await self.gateway.login(self, facts)
        return pile if isinstance(pile, LoginRefused) else (pile, facts)

    def _refuse_login(self, seq: int, result: Result, pile_id: str) -> None:
        # The gateway's clock goes out with a refusal too: after CLOCK_SKEW the pile sets its
        # clock from it and signs a new LOGIN (docs/protocol.md §6.1.1).
        ack = LoginAck(result, self.gateway.now_ms(), 0)
        data = encode(ack, seq)
        self._journal(pile_id, "out", seq, ack, data)
        self.link.write(data)
        self.close(f"login refused: {Result(result).name.lower()}")

    def _login_timed_out(self) -> None:
        self._login_timer = None
        if self.pile is None and not self.closed:
            self.close("no login in time")

    # --- bad input --------------------------------------------------------------------------

    def _bad_frame(self, error: DecodeError) -> None:
        metrics = self.gateway.metrics
        metrics.decode_errors[error.kind] = metrics.decode_errors.get(error.kind, 0) + 1
        self.log.warning(
            "bad_frame",
            kind=error.kind,
            detail=error.detail,
            seq=error.seq,
            raw=error.raw[:64].hex(),
        )
        if self.pile_id is not None and self.gateway.config.database.journal:
            self.gateway.journal(self.pile_id, error_line(error))
        if error.nack_reason is not None and error.seq is not None:
            self.send(Nack(error.msg_type or 0, error.nack_reason), error.seq)
        self._count_bad()

    def _unexpected(self, frame: Frame, why: str) -> None:
        self._refuse(frame, NackReason.UNEXPECTED, why)

    def _refuse(self, frame: Frame, reason: NackReason, why: str) -> None:
        """A valid frame the gateway will not process: NACK it, and count it as a bad one."""
        self.log.warning(
            "frame_refused",
            type=frame.message.TYPE.name,
            seq=frame.seq,
            reason=reason.name,
            why=why,
        )
        self.send(Nack(frame.message.TYPE, reason), frame.seq)
        self._count_bad()

    def _nacked(self, frame: Frame, nack: Nack) -> None:
        """The pile could not read a command of ours: the command is refused (§7.13)."""
        self._journal_in(frame)
        waiting = self._pending.get(frame.seq)
        self.log.warning(
            "command_nacked", seq=frame.seq, command=nack.nacked_type, reason=nack.reason
        )
        if waiting is not None and waiting[0] == nack.nacked_type and not waiting[1].done():
            waiting[1].set_result(CommandAck(nack.nacked_type, 0, Result.OTHER))

    def _count_bad(self) -> None:
        now = self.gateway.loop.time()
        window = self.gateway.config.server.bad_frame_window_s
        times = self._bad_times
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        if len(times) >= self.gateway.config.server.bad_frame_burst:
            self.close(f"{len(times)} bad frames within {window:g} s")

    # --- output -----------------------------------------------------------------------------

    def send(self, message: Message, seq: int, *, journal: bool = True) -> None:
        if self.closed:
            return
        data = encode(message, seq)
        if message.TYPE in REPLIES:
            self._replied_seq = seq  # the frame being handled is answered
        self.gateway.metrics.frame_out(_NAMES[message.TYPE])
        if journal and self.pile_id is not None:
            self._journal(self.pile_id, "out", seq, message, data)
        self.link.write(data)
        limit = self.gateway.config.server.write_buffer_limit
        if self.link.write_buffer_size() > limit:
            self.close(f"write buffer over {limit} bytes: the pile does not read")

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

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
        """Send a v1 command and wait for its COMMAND_ACK; None when none came in time."""
        seq = self.next_seq()
        future: asyncio.Future[CommandAck] = self.gateway.loop.create_future()
        self._pending[seq] = (message.TYPE, future)
        try:
            self.send(message, seq)
            return await asyncio.wait_for(future, timeout)
        except (TimeoutError, ConnectionError):
            return None
        finally:
            self._pending.pop(seq, None)

    def _command_acked(self, seq: int, ack: CommandAck) -> None:
        waiting = self._pending.get(seq)
        if waiting is None or waiting[0] != ack.command:
            self.log.warning(
                "command_ack_unmatched", seq=seq, command=ack.command, result=ack.result
            )
            return
        if not waiting[1].done():
            waiting[1].set_result(ack)

    # --- lifecycle --------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.log.info("connection_closing", reason=reason)
        self.link.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = "closed by the pile" if exc is None else f"lost: {exc}"
            self.log.info("connection_lost", reason=self.close_reason)
        if self._login_timer is not None:
            self._login_timer.cancel()
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("pile connection lost"))
        if self.decoder.buffered:
            self.log.warning("connection_lost_midframe", buffered=self.decoder.buffered)
        self.gateway.metrics.connections -= 1
        self.gateway.connection_lost(self)
        if self.pile is not None:
            self.pile.disconnected(self, self.close_reason)

    def _journal_in(self, frame: Frame) -> None:
        if self.pile_id is not None:
            self._journal(self.pile_id, "in", frame.seq, frame.message, frame.raw)

    def _journal(
        self, pile_id: str, direction: str, seq: int, message: Message, raw: bytes
    ) -> None:
        if self.gateway.config.database.journal:  # a line is not even built otherwise
            self.gateway.journal(pile_id, message_line(direction, seq, message, raw))

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "pile": self.pile_id, "closed": self.closed}


if TYPE_CHECKING:

    def _is_a_pile_link(connection: PileConnection) -> PileLink:
        return (
            connection  # mypy checks that the connection keeps the contract of gateway/dialect.py
        )
