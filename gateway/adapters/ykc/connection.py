"""One YKC pile's TCP connection: the sans-I/O `YkcConnection`, the pile's `PilePort` calls,
and the `PileLink` the core commands it through.

Frames are handled in arrival order. Heartbeats and real-time data are handled inside the
transport's callback; login, billing-model verify/request, start requests and bills need the
database, so when one arrives it and everything after it is queued behind a worker task. YKC
has no negative answer: a frame pilegate cannot read is logged, journaled and counted (a
burst closes the connection), and a bill it cannot read is answered "illegal bill" with the
trade number from its raw bytes, so the pile stops re-sending something no one can store.
A bill that could not be committed is not answered at all: the pile sends it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from typing import Any, Protocol

from gateway.adapters.ykc import codes
from gateway.adapters.ykc.bills import gun_code, gun_number, pile_bill
from gateway.adapters.ykc.host import LoginDenied, YkcHost, YkcLogin
from gateway.adapters.ykc.outbound import NO_CARD, card_token, logical_card, message_for, reply_of
from gateway.adapters.ykc.realtime import RealtimeTracker
from gateway.adapters.ykc.rules import DEFAULT_RULES, YkcRules
from gateway.adapters.ykc.tariff import ModelNotExpressible, billing_model
from gateway.adapters.ykc.trade import is_idle_trade
from gateway.dialect import (
    NOT_SUPPORTED,
    BillStatus,
    Command,
    PilePort,
    Reply,
    SetAvailability,
    SetTariff,
    StartService,
    StopService,
    SyncTime,
)
from gateway.dialect import Reboot as RebootCommand
from protocol.ykc import (
    Bill,
    BillConfirm,
    BillV17,
    CommandTimedOut,
    DecodeFailed,
    FrameBeforeLogin,
    FrameReceived,
    FrameType,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    Message,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    PendingCommand,
    ReadRealtime,
    Realtime,
    RemoteStart,
    RemoteStartResult,
    ReplyReceived,
    StartAuthorisation,
    StartRequest,
    UnexpectedFrame,
    Version,
    YkcConnection,
    YkcDecodeError,
    YkcFrame,
    crc16_modbus,
    encode,
)
from sessions import StartConfirmed, StartFailed

T = FrameType
NEEDS_DATABASE = (Login, ModelVerify, ModelRequest, StartRequest, Bill, BillV17)
SUPPORTED_VERSIONS = frozenset(int(v) for v in Version)
SUPPORTED_COMMANDS: frozenset[type] = frozenset(
    {StartService, StopService, SetAvailability, SetTariff, SyncTime, RebootCommand}
)
NO_TRADE = "0" * 32
#: Shortest raw bill from which a trade number can still be read (header + 16 bytes).
_TRADE_END = 6 + 16


class Link(Protocol):
    """What the connection needs from its transport."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def write_buffer_size(self) -> int: ...
    def hold_reading(self, held: bool) -> None: ...


def journal_fields(message: Message) -> dict[str, Any]:
    return dataclasses.asdict(message)


class YkcPileConnection:
    """A YKC pile on one TCP connection (implements `gateway.dialect.PileLink` and
    `gateway.dialect.Connection`)."""

    def __init__(
        self, host: YkcHost, link: Link, peer: str, rules: YkcRules = DEFAULT_RULES
    ) -> None:
        self.host = host
        self.link = link
        self.peer = peer
        self.rules = rules
        self._sent: list[tuple[Message, int, bytes]] = []
        self.proto = YkcConnection(
            reply_timeouts={T.REMOTE_START: rules.start_confirm_s}, encoder=self._encode
        )
        self.pile: PilePort | None = None
        self.pile_id: str | None = None
        self.login: YkcLogin | None = None
        self.closed = False
        self.close_reason = ""
        self.authenticated = False  # YKC has no authentication of its own
        self.last_rx = host.loop.time()
        self.log = host.log.bind(peer=peer, dialect="ykc")
        self.realtime = RealtimeTracker(rules.idle_frames_end_charge)
        self._inbox: deque[YkcFrame] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[Reply | None]] = {}  # id(PendingCommand)
        self._deadline: asyncio.TimerHandle | None = None
        self._bad_times: deque[float] = deque()
        self._heartbeat_states: dict[str, int] = {}
        self._reply_bodies: dict[tuple[str, str, int], bytes] = {}  # 0x04 bodies by gun
        self._trades: dict[str, tuple[str, int]] = {}  # trade -> (account, authorised_ms)
        self._tasks: set[asyncio.Task[None]] = set()
        self._login_timer: asyncio.TimerHandle | None = host.loop.call_later(
            host.limits.login_timeout_s, self._login_timed_out
        )

    # --- PileLink -----------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return "ykc"

    def supports(self, command: type[Command]) -> bool:
        return command in SUPPORTED_COMMANDS

    async def command(self, command: Command, timeout_s: float) -> Reply | None:
        if isinstance(command, SetAvailability):
            # YKC cannot tell a pile to stop serving: the gateway enforces it by refusing
            # every start on the pile (0x32 "pile disabled", remote starts not sent).
            return Reply(True, "enforced_by_gateway")
        try:
            message = message_for(command, self.pile_id or "", self.proto.tz)
        except ModelNotExpressible as exc:
            self.log.warning("ykc_tariff_not_expressible", detail=str(exc))
            return NOT_SUPPORTED
        if message is None:
            return NOT_SUPPORTED
        if self.closed or not self.proto.logged_in:
            return None
        if isinstance(command, StartService):
            self._trades[command.transaction_id] = (command.account, self.host.now_ms())
        pending = self.proto.send_command(message, self.host.loop.time())
        self._flush()
        if pending is None:
            return Reply(True, "sent")
        self._arm_deadline()
        if isinstance(command, StartService):
            # YKC has no acknowledgement of the command itself: its answer, 0x33, is the
            # start's result, given when the charge starts or cannot (up to 90 s, a pile not
            # yet plugged answering again once the car is). So the command counts as accepted
            # once sent, and 0x33 comes to the session as StartConfirmed or StartFailed.
            return Reply(True, "sent")
        future: asyncio.Future[Reply | None] = self.host.loop.create_future()
        self._waiting[id(pending)] = future
        try:
            reply = await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(id(pending), None)
        if isinstance(command, StopService) and reply is not None and reply.accepted:
            self._spawn(self._check_stopped(command.gun))
        return reply

    async def _check_stopped(self, gun: int) -> None:
        """Ask for the gun's real-time data while it still charges after an accepted stop
        (rules.stop_check_s): the session machine sees a stop that is not obeyed at once."""
        for _ in range(self.rules.stop_not_honoured_reports + 1):
            await asyncio.sleep(self.rules.stop_check_s)
            if self.closed or not self.realtime.charging(gun) or self.pile_id is None:
                return
            self.proto.send_command(
                ReadRealtime(self.pile_id, gun_code(gun)), self.host.loop.time()
            )
            self._flush()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- input --------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_rx = self.host.loop.time()
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            try:
                self._event(event)
            except Exception:
                self.log.exception("ykc_event_failed", ykc_event=type(event).__name__)
        self._flush()

    def _event(self, event: Any) -> None:
        if isinstance(event, FrameReceived):
            frame = event.frame
            if self._inbox is not None:
                self._inbox.append(frame)
            elif isinstance(frame.message, NEEDS_DATABASE):
                self._inbox = deque((frame,))
                self._worker = asyncio.create_task(self._drain())
            else:
                self._handle(frame)
        elif isinstance(event, ReplyReceived):
            self._journal_in(event.frame)
            self._replied(event)
        elif isinstance(event, DecodeFailed):
            self._bad_frame(event.error)
        elif isinstance(event, FrameBeforeLogin):
            self.log.warning(
                "ykc_frame_before_login",
                type=f"0x{event.frame.frame_type:02x}",
                seq=event.frame.seq,
            )
            self._count_bad()
        elif isinstance(event, UnexpectedFrame):
            self._journal_in(event.frame)
            if isinstance(event.frame.message, RemoteStartResult):
                self._start_result(event.frame.message, late=True)
                return
            self.log.warning(
                "ykc_unexpected_frame",
                type=f"0x{event.frame.frame_type:02x}",
                seq=event.frame.seq,
                why=event.reason,
            )

    async def _drain(self) -> None:
        inbox = self._inbox
        try:
            while inbox:
                frame = inbox.popleft()
                if isinstance(frame.message, NEEDS_DATABASE):
                    await self._handle_async(frame)
                else:
                    self._handle(frame)
                self._flush()
        finally:
            self._inbox = None
            self._worker = None

    def _handle(self, frame: YkcFrame) -> None:
        m = frame.message
        try:
            if isinstance(m, Heartbeat):
                self._heartbeat(frame, m)
            elif isinstance(m, Realtime):
                self._journal_in(frame)
                self._realtime(m)
            else:
                self._journal_in(frame)
                self.log.info("ykc_frame_ignored", type=f"0x{frame.frame_type:02x}")
        except Exception:
            self.log.exception("ykc_frame_failed", type=f"0x{frame.frame_type:02x}", seq=frame.seq)

    async def _handle_async(self, frame: YkcFrame) -> None:
        m = frame.message
        try:
            if isinstance(m, Login):
                await self._login(frame, m)
                return
            self._journal_in(frame)
            if isinstance(m, ModelVerify):
                await self._model_verify(frame, m)
            elif isinstance(m, ModelRequest):
                await self._model_request(frame, m)
            elif isinstance(m, StartRequest):
                await self._start_request(frame, m)
            elif isinstance(m, Bill | BillV17):
                await self._bill(frame, m)
        except Exception:
            self.log.exception("ykc_frame_failed", type=f"0x{frame.frame_type:02x}", seq=frame.seq)
            self._failed(frame)

    def _failed(self, frame: YkcFrame) -> None:
        """Handling a request raised (the database away, say): the negative answer YKC has
        for it. A login is refused (the pile logs in again), a start refused; a bill is left
        unanswered, so that the pile keeps it and sends it again; a billing-model request too
        (the pile asks again)."""
        m = frame.message
        try:
            if isinstance(m, Login) and self.pile is None:
                self._refuse_login(frame, m.pile, "internal error")
            elif isinstance(m, StartRequest):
                refused = StartAuthorisation(NO_TRADE, m.pile, m.gun, NO_CARD, 0, 0, 0x0A)
                self._reply(frame, refused)
            elif isinstance(m, ModelVerify):
                self._reply(frame, ModelVerifyReply(m.pile, m.model_id, 1))
        except Exception:
            self.log.exception("ykc_negative_answer_failed", type=f"0x{frame.frame_type:02x}")

    # --- login and heartbeat -------------------------------------------------------------------

    async def _login(self, frame: YkcFrame, m: Login) -> None:
        if self.pile is not None:
            self.log.warning("ykc_login_again", pile=m.pile)
            self._reply(frame, LoginReply(m.pile, 0))  # same pile, same link: say yes again
            return
        login = YkcLogin(
            m.pile, m.pile_type, m.gun_count, m.protocol_version, m.program_version,
            frame.crc_order.value, self.peer,
        )  # fmt: skip
        self.host.journal(m.pile, "in", frame.seq, "YKC_LOGIN", frame.frame_type, frame.raw,
                          journal_fields(m))  # fmt: skip
        if m.protocol_version not in SUPPORTED_VERSIONS:
            self._refuse_login(frame, m.pile, f"protocol version {m.protocol_version}")
            return
        result = await self.host.login(self, login)
        if self.closed:
            return
        if isinstance(result, LoginDenied):
            self._refuse_login(frame, m.pile, result.reason)
            return
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        self.pile, self.pile_id, self.login = result, m.pile, login
        self.log = self.log.bind(pile=m.pile)
        self._reply(frame, LoginReply(m.pile, 0))
        self.log.info(
            "pile_login",
            version=m.protocol_version,
            program=m.program_version,
            guns=m.gun_count,
            pile_type=login.model,
            crc_order=login.crc_order,
            seq=frame.seq,
        )
        self.host.logged_in(self, result)
        for gun in range(1, m.gun_count + 1):  # each gun's report now: they reconcile sessions
            self.proto.send_command(ReadRealtime(m.pile, gun_code(gun)), self.host.loop.time())
        # YKC logins carry no clock: set the pile's at once, as the reference platforms do.
        self._spawn(self._sync_clock())

    async def _sync_clock(self) -> None:
        reply = await self.command(SyncTime(self.host.now_ms()), self.host.limits.command_timeout_s)
        self.log.info("time_sync", why="login", answered=reply is not None)

    def _refuse_login(self, frame: YkcFrame, pile: str, reason: str) -> None:
        self.log.warning("login_rejected", pile=pile, reason=reason)
        self._reply(frame, LoginReply(pile, 1), pile_id=pile)
        self._flush()
        self.close(f"login refused: {reason}")

    def _login_timed_out(self) -> None:
        self._login_timer = None
        if self.pile is None and not self.closed:
            self.close("no login in time")

    def _heartbeat(self, frame: YkcFrame, m: Heartbeat) -> None:
        changed = self._heartbeat_states.get(m.gun) != m.gun_state
        self._heartbeat_states[m.gun] = m.gun_state
        policy = self.host.limits.heartbeat_journal
        journal = policy == "all" or (policy == "changes" and changed)
        if journal:
            self._journal_in(frame)
        if changed and m.gun_state:
            self.log.warning("ykc_gun_fault_heartbeat", gun=m.gun)
        if self.pile_id is not None:
            self.host.touch(self.pile_id, self.host.now_ms())
        self._reply(frame, HeartbeatReply(m.pile, m.gun, 0), journal=journal)

    # --- tariff ---------------------------------------------------------------------------------

    async def _model(self) -> Any:
        assert self.pile_id is not None
        tariff = await self.host.tariff_for(self.pile_id, self.host.now_ms())
        if tariff is None:
            self.log.error("ykc_no_tariff")
            return None
        try:
            return billing_model(tariff)
        except ModelNotExpressible as exc:
            self.log.error("ykc_tariff_not_expressible", detail=str(exc))
            return None

    async def _model_verify(self, frame: YkcFrame, m: ModelVerify) -> None:
        model = await self._model()
        current = model is not None and model.model_id == m.model_id
        our_id = model.model_id if model is not None else m.model_id
        self._reply(frame, ModelVerifyReply(m.pile, our_id, 0 if current else 1))

    async def _model_request(self, frame: YkcFrame, m: ModelRequest) -> None:
        model = await self._model()
        if model is None:
            # No model the pile may charge by: unanswered, the pile asks again (SPEC §6.7)
            # and cannot charge meanwhile, which is right for a pile without a tariff.
            self.log.error("ykc_model_request_unanswered", reason="no usable tariff")
            return
        self._reply(frame, ModelReply(pile=m.pile, **model.message_fields()))

    # --- starts at the pile ---------------------------------------------------------------------

    async def _start_request(self, frame: YkcFrame, m: StartRequest) -> None:
        gun = gun_number(m.gun)
        port = self.pile
        assert port is not None
        channel = codes.START_MODE_CHANNEL.get(m.start_mode, "card")
        token = m.vin if m.start_mode == 3 else card_token(m.card)
        if gun is None or m.pile != self.pile_id:
            self.log.warning("ykc_start_request_refused", gun=m.gun, named=m.pile)
            self._reply(frame, StartAuthorisation(NO_TRADE, m.pile, m.gun, NO_CARD, 0, 0, 0x05))
            return
        if m.password_required:
            # pilegate keeps a salted hash of an account's password, which an MD5 from the
            # pile cannot be checked against: such a start is refused as "wrong password".
            self.log.warning("ykc_card_password_unsupported", gun=gun)
            self._reply(frame, StartAuthorisation(NO_TRADE, m.pile, m.gun, NO_CARD, 0, 0, 0x07))
            return
        verdict = await port.authorise(gun, channel, token, "")
        if verdict.transaction_id is not None and verdict.refusal is None:
            account = verdict.account or ""
            self._trades[verdict.transaction_id] = (account, self.host.now_ms())
            self._reply(
                frame,
                StartAuthorisation(
                    verdict.transaction_id, m.pile, m.gun, logical_card(account),
                    max(0, verdict.balance_fen), 1, 0,
                ),
            )  # fmt: skip
            return
        refusal = verdict.refusal
        reason = codes.auth_fail_reason(refusal, m.start_mode) if refusal is not None else 0x01
        self._reply(frame, StartAuthorisation(NO_TRADE, m.pile, m.gun, NO_CARD, 0, 0, reason))

    # --- real-time data ---------------------------------------------------------------------------

    def _realtime(self, m: Realtime) -> None:
        port = self.pile
        gun = gun_number(m.gun)
        login = self.login
        if port is None or login is None or gun is None or not 1 <= gun <= login.gun_count:
            self.log.warning("ykc_bad_gun_report", gun=m.gun, status=m.status)
            return
        if m.pile != login.pile_id:  # another pile's guns are not this pile's sessions
            self.log.warning("ykc_report_of_another_pile", gun=m.gun, named=m.pile)
            return
        now = self.host.now_ms()
        soc = m.soc if login.pile_type == 0 else None
        power_w = m.voltage_dv * m.current_da // 100
        outcome = self.realtime.observe(gun, m)
        if outcome.abnormal_end:
            self.log.warning("ykc_charge_ended_abnormally", gun=gun, trade=m.trade_no,
                             rule="idle_frames_end_charge")  # fmt: skip
        if outcome.start_confirmed is not None:  # (unless 0x33 confirmed it already)
            port.feed(gun, StartConfirmed(outcome.start_confirmed, 0))
        if outcome.report is None:
            return  # held: one idle frame in a charge is not yet its end (§13.3 #4)
        if outcome.charging and not is_idle_trade(m.trade_no):
            port.meter(gun, m.trade_no, now, m.energy_dwh, power_w, soc)
        port.reports([outcome.report_with(power_w=power_w, soc=soc)])

    # --- bills ------------------------------------------------------------------------------------

    async def _bill(self, frame: YkcFrame, m: Bill | BillV17) -> None:
        port = self.pile
        assert port is not None
        account, authorised_ms = self._trades.get(m.trade_no, (None, None))
        model = await self._model()  # the pile prices by it: it splits the amount (bills.py)
        bill = pile_bill(
            m,
            tz=self.proto.tz,
            account=account,
            authorised_ms=authorised_ms,
            model_prices_e5=model.prices_e5 if model is not None else None,
        )
        verdict = await port.bill(bill)
        if verdict is None:
            self.log.warning("ykc_bill_unanswered", trade=m.trade_no, reason="not committed")
            return  # durable before acknowledged: the pile re-sends it
        result = 1 if verdict.status is BillStatus.REJECTED else 0
        gun = gun_number(m.gun)
        if gun is not None:
            self.realtime.bill_received(gun)
        self._trades.pop(m.trade_no, None)
        self._reply(frame, BillConfirm(m.trade_no, result))

    # --- replies and commands -------------------------------------------------------------------

    def _replied(self, event: ReplyReceived) -> None:
        message = event.frame.message
        if isinstance(message, RemoteStartResult):
            if event.final:
                self._start_result(message, late=False)
            else:
                self.log.info("ykc_start_waits_for_plug", gun=message.gun, trade=message.trade_no)
            self._arm_deadline()
            return
        future = self._waiting.get(id(event.command))
        if future is not None and not future.done():
            future.set_result(reply_of(event.frame.message))
        self._arm_deadline()

    def _start_result(self, m: RemoteStartResult, *, late: bool) -> None:
        """0x33: the remote start's outcome, to the session (a late one too: the machine
        knows a start that comes after the gateway gave up, field cases 2 and 6)."""
        gun = gun_number(m.gun)
        port = self.pile
        if port is None or gun is None:
            return
        if m.result == 1:
            self.log.info("ykc_start_confirmed", gun=gun, trade=m.trade_no, late=late)
            if self.realtime.confirm(gun, m.trade_no):
                port.feed(gun, StartConfirmed(m.trade_no, 0))
            return
        reason = codes.fail_name(codes.START_FAIL, m.fail_reason)
        self.log.warning("ykc_start_failed", gun=gun, trade=m.trade_no, reason=reason, late=late)
        port.feed(gun, StartFailed(m.trade_no, reason, m.fail_reason))

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        deadline = self.proto.next_deadline()
        if deadline is not None and not self.closed:
            delay = max(0.0, deadline - self.host.loop.time())
            self._deadline = self.host.loop.call_later(delay, self._deadline_due)

    def _deadline_due(self) -> None:
        self._deadline = None
        for expired in self.proto.timeouts(self.host.loop.time()):
            self._expire(expired)
        self._arm_deadline()

    def _expire(self, expired: CommandTimedOut | PendingCommand) -> None:
        command = expired.command if isinstance(expired, CommandTimedOut) else expired
        if isinstance(command.message, RemoteStart):
            # No 0x33 within YKC's 90 s: the session's own start timeout ends the start.
            self.log.warning("ykc_start_unanswered", trade=command.message.trade_no)
        future = self._waiting.get(id(command))
        if future is not None and not future.done():
            future.set_result(None)

    # --- output ---------------------------------------------------------------------------------

    def _encode(self, message: Message, seq: int) -> bytes:
        if type(message) is HeartbeatReply:
            data = self._heartbeat_reply(message, seq)
        else:
            data = encode(message, seq)
        self._sent.append((message, seq, data))
        return data

    def _heartbeat_reply(self, message: HeartbeatReply, seq: int) -> bytes:
        """0x04 from its cached body (it depends on pile and gun only): the hot path."""
        key = (message.pile, message.gun, message.reply)
        body = self._reply_bodies.get(key)
        if body is None:
            body = self._reply_bodies[key] = encode(message, 0)[6:-2]
        covered = bytes((seq & 0xFF, seq >> 8, 0, T.HEARTBEAT_REPLY)) + body
        crc = crc16_modbus(covered)
        return bytes((0x68, len(covered))) + covered + bytes((crc & 0xFF, crc >> 8))

    def _reply(
        self, request: YkcFrame, message: Message, *, journal: bool = True,
        pile_id: str | None = None,
    ) -> None:  # fmt: skip
        if self.closed:
            return
        self.proto.reply(request, message)
        if not journal:
            self._sent.pop()  # encoded just now; not journaled (a steady heartbeat)
        if pile_id is not None:  # a refused login: the pile is not ours, its frames still kept
            self._journal_sent(pile_id)

    def _flush(self) -> None:
        if self.pile_id is not None:
            self._journal_sent(self.pile_id)
        self._sent.clear()
        data = self.proto.data_to_send()
        if not data or self.closed:
            return
        self.link.write(data)
        limit = self.host.limits.write_buffer_limit
        if self.link.write_buffer_size() > limit:
            self.close(f"write buffer over {limit} bytes: the pile does not read")

    def _journal_sent(self, pile_id: str) -> None:
        for message, seq, data in self._sent:
            self.host.journal(
                pile_id, "out", seq, f"YKC_{message.TYPE.name}", message.TYPE, data,
                journal_fields(message), _gun_of(message), getattr(message, "trade_no", None),
            )  # fmt: skip
        self._sent.clear()

    def _journal_in(self, frame: YkcFrame) -> None:
        if self.pile_id is None:
            return
        m = frame.message
        self.host.journal(
            self.pile_id, "in", frame.seq, f"YKC_{m.TYPE.name}", frame.frame_type, frame.raw,
            journal_fields(m), _gun_of(m), getattr(m, "trade_no", None),
        )  # fmt: skip

    # --- bad input ------------------------------------------------------------------------------

    def _bad_frame(self, error: YkcDecodeError) -> None:
        self.log.warning(
            "bad_frame",
            kind=error.kind,
            detail=error.detail,
            seq=error.seq,
            type=None if error.frame_type is None else f"0x{error.frame_type:02x}",
            raw=error.raw[:64].hex(),
        )
        if self.pile_id is not None:
            self.host.journal(
                self.pile_id, "in", -1 if error.seq is None else error.seq,
                f"YKC_INVALID:{error.kind}", -1 if error.frame_type is None else error.frame_type,
                error.raw, {"error": error.kind, "detail": error.detail},
            )  # fmt: skip
        if (
            error.frame_type in (T.BILL, T.BILL_V17)
            and error.kind in ("wrong_body_size", "bad_field")
            and error.seq is not None
            and len(error.raw) >= _TRADE_END
            and self.proto.logged_in
        ):
            trade = error.raw[6:_TRADE_END].hex().upper()
            self.log.warning("ykc_bill_illegal", trade=trade)
            data = self._encode(BillConfirm(trade, 1), error.seq)
            self.link.write(data)
        self._count_bad()

    def _count_bad(self) -> None:
        now = self.host.loop.time()
        window = self.host.limits.bad_frame_window_s
        times = self._bad_times
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        if len(times) >= self.host.limits.bad_frame_burst:
            self.close(f"{len(times)} bad frames within {window:g} s")

    # --- lifecycle ------------------------------------------------------------------------------

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
        for timer in (self._login_timer, self._deadline):
            if timer is not None:
                timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for command in self.proto.connection_lost():
            self._expire(command)
        self.host.connection_lost(self)

    # --- the gateway's Connection (housekeeping) -------------------------------------------------

    def silent_since(self) -> float | None:
        return self.last_rx if self.pile is not None else None

    def silence_limit_s(self) -> None:
        return None  # YKC piles heartbeat at the gateway's interval

    def in_flight(self) -> asyncio.Task[None] | None:
        return self._worker

    def hold_reading(self, held: bool) -> None:
        self.link.hold_reading(held)

    def describe(self) -> dict[str, Any]:
        login = self.login
        return {
            "peer": self.peer,
            "pile": self.pile_id,
            "closed": self.closed,
            "dialect": "ykc",
            "protocol_version": login.protocol_version if login is not None else None,
            "crc_order": self.proto.crc_order.value if self.proto.crc_order else None,
        }


def _gun_of(message: Message) -> int | None:
    gun = getattr(message, "gun", None)
    return gun_number(gun) if isinstance(gun, str) else None
