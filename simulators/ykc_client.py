"""A simulated pile speaking YKC (V1.5/V1.6, V1.7 bill) over TCP, for ``--protocol ykc``.

The behaviour is the pile model's (``simulators.pile``); this speaker translates (see
``simulators.speaker`` and ``simulators.ykc_words``):

=============================  ==================================================================
pile model says                 pile sends
=============================  ==================================================================
login                          0x01 login; then 0x05 billing-model verify (0x09 request when the
                               platform says the model differs; 0x0A sets the pile's tariff)
heartbeat                      0x03 per gun every ``heartbeat_interval_s`` (10 s, YKC's rule);
                               three unanswered rounds: the link is dead, log in again
StatusChange, MeterValues      0x13 real-time data (status, plugged, meter, SOC, amount so far);
                               also every ``realtime_idle_s`` per gun and after every login
AuthRequest                    0x31 start request (card, or account + password MD5); 0x32 gives
                               the trade number that is the pile's transaction from then on
StartResult of a remote start  0x33 remote start result (echoing the 0x34's sequence number)
Bill                           0x3B transaction record (0x3D for a V1.7 pile), sent again after
                               every login and every ``bill_retry_s`` until 0x40 confirms it
=============================  ==================================================================

and obeys the platform: 0x34 remote start, 0x36 remote stop (0x35 result), 0x58 set billing
model (0x57), 0x56 time sync (0x55), 0x92 reboot (0x91, then the link drops and the pile logs
in again), 0x12 read real-time data. A transient fault sample (case 3) is one 0x13 with status
fault mid-charge. Replies to the platform's commands echo its sequence bytes; the pile's own
frames are numbered from 0 after every connect.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any

from protocol.pilegate import messages as v1
from protocol.pilegate.codes import BillAckStatus, Channel, GunStatus, Result, StopReason
from protocol.ykc import messages as ykc
from protocol.ykc.codec import CrcOrder, YkcFrame, encode
from protocol.ykc.decoder import YkcFrameDecoder
from protocol.ykc.errors import YkcDecodeError
from simulators import ykc_words as words
from simulators.client import parse_gateway
from simulators.credentials import client_tls
from simulators.faults import garbage, truncated
from simulators.pile import Gun, Pile
from simulators.speaker import Speaker

HEARTBEAT_INTERVAL_S = 10.0  # YKC: a heartbeat every 10 s, 3 missed = link broken
REALTIME_IDLE_S = 300.0  # YKC: real-time data every 5 min while idle


class YkcPileClient(Speaker):
    """One simulated pile as a YKC pile (see the module docstring)."""

    def __init__(
        self,
        pile: Pile,
        gateway: str,
        *,
        version: int = ykc.Version.V1_6,
        crc_order: CrcOrder | None = None,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        realtime_idle_s: float = REALTIME_IDLE_S,
        **kw: Any,
    ) -> None:
        super().__init__(pile, gateway, **kw)
        self.scheme, self.host, self.port = parse_gateway(gateway)
        self.version = int(version)
        self.crc_order = crc_order  # None: low byte first, as SPEC says
        self.heartbeat_interval_s = heartbeat_interval_s
        self.realtime_idle_s = realtime_idle_s
        self.pile_no = self.wire_id = words.pile_number(pile.spec.pile_id)
        self.model = words.model_of(pile.tariff)  # the installed tariff, model "0000"
        #: Called with ("in" | "out", seq, YKC message) for every frame (tests record them).
        self.on_wire: Callable[[str, int, ykc.Message], None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._decoder = YkcFrameDecoder(version=self.version)
        self._seq = 0
        self._login_reply: asyncio.Future[ykc.LoginReply] | None = None
        self._hb_sent: float | None = None
        self._hb_misses = 0
        self._bills_in_flight: dict[str, float] = {}
        self._confirmed_once: set[str] = set()
        self._remote_starts: dict[int, tuple[int, str]] = {}  # gun -> (0x34's seq, trade no)
        self._reboot = False
        self._drip_queue: deque[bytes] = deque()  # slow_drip: frames waiting to be dripped
        self._dripper: asyncio.Task[None] | None = None

    # --- the link -----------------------------------------------------------------------

    async def _open(self) -> None:
        tls = (self.credentials.tls or client_tls(None)) if self.scheme == "tls" else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=tls), self.connect_timeout_s
        )
        self._writer = writer
        self._seq = 0  # YKC numbers afresh on every connect
        self._decoder = YkcFrameDecoder(version=self.version)
        self._reader = asyncio.get_running_loop().create_task(self._read(reader, writer))

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        self._reader = None
        self._bills_in_flight.clear()
        self._remote_starts.clear()
        if writer is not None:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(4096):
                for item in self._decoder.feed(data):
                    self._on_item(item)
        except (ConnectionError, OSError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
                self.stats.disconnects += 1
                if self._login_reply is not None and not self._login_reply.done():
                    self._login_reply.cancel()
                self._wake.set()

    def _send(self, message: ykc.Message, echo: int | None = None) -> None:
        """Send a frame: our next sequence number, or ``echo`` (a reply to the platform)."""
        writer = self._writer
        if writer is None:
            return
        if echo is None:
            seq, self._seq = self._seq, (self._seq + 1) & 0xFFFF
        else:
            seq = echo
        frame = encode(message, seq, self.crc_order)
        if self.on_wire is not None:
            self.on_wire("out", seq, message)
        self.stats.frames_sent += 1
        faults = self.pile.faults
        if faults.garbage_bytes and self.rng.random() < faults.garbage_rate:
            self.wire_faults += 1
            writer.write(garbage(self.rng))
            writer.write(truncated(encode(message, seq ^ 0x5A5A, self.crc_order)))
        if faults.slow_drip:
            self._drip_queue.append(frame)
            if self._dripper is None or self._dripper.done():
                self._dripper = asyncio.get_running_loop().create_task(self._drip(writer))
        else:
            writer.write(frame)

    async def _drip(self, writer: asyncio.StreamWriter) -> None:
        """One byte at a time, one frame after another: a frame never interleaves another."""
        while self._drip_queue:
            frame = self._drip_queue.popleft()
            for i in range(len(frame)):
                if writer.is_closing():
                    self._drip_queue.clear()
                    return
                writer.write(frame[i : i + 1])
                await asyncio.sleep(self.pile.faults.drip_interval_s)

    # --- logging in and serving -----------------------------------------------------------

    async def _login(self) -> bool:
        s = self.pile.spec
        self._login_reply = asyncio.get_running_loop().create_future()
        self._send(
            ykc.Login(
                self.pile_no, 0 if s.dc else 1, len(self.pile.guns), self.version,
                s.firmware[:8], 3, "0" * 20, 4,
            )
        )  # fmt: skip
        try:
            reply = await asyncio.wait_for(self._login_reply, self.ack_timeout_s)
        except TimeoutError:
            self.stats.missed_acks += 1
            return False
        except asyncio.CancelledError:
            if self._writer is None:
                return False
            raise
        if reply.result != 0:
            self._rejected("login refused")
            return False
        self._hb_misses, self._hb_sent = 0, None
        self._send(ykc.ModelVerify(self.pile_no, self.model.model_id))
        for g in self.pile.guns:
            self._realtime(g)
        self.resend_bills()
        return True

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        next_hb = loop.time()
        next_realtime = loop.time() + self.realtime_idle_s
        next_retry = loop.time() + self.bill_retry_s
        while not self._stopping and self._writer is not None:
            now_ms = self.now_ms()
            self.pile.tick(now_ms)
            if self.pile.offline_request_s is not None or self._reboot:
                self._reboot = False
                self.pile.drain()  # what it would have said is lost; its bills stay stored
                return
            self._flush()
            t = loop.time()
            if t >= next_hb:
                if not self._heartbeat(now_ms):
                    return
                next_hb = t + self.heartbeat_interval_s
            if t >= next_realtime:
                for g in self.pile.guns:
                    if g.charge is None:
                        self._realtime(g)
                next_realtime = t + self.realtime_idle_s
            if t >= next_retry:
                self._retry_bills(t)
                next_retry = t + self.bill_retry_s
            await self._wait_until(self._wake_at(min(next_hb, next_realtime, next_retry)))

    def _heartbeat(self, now_ms: int) -> bool:
        """One heartbeat per gun; False when three rounds went unanswered."""
        if self._hb_sent is not None:
            self._hb_misses += 1
            self.stats.missed_acks += 1
            if self._hb_misses >= 3:
                return False
        report = self.pile.heartbeat(now_ms)  # ticks the model; a fault sample shows here
        for r in report.guns:
            faulted = r.status == GunStatus.FAULTED
            if faulted and self.pile.gun(r.gun).status != GunStatus.FAULTED:
                self._realtime(self.pile.gun(r.gun), status=r.status)  # case 3: one sample
            self._send(ykc.Heartbeat(self.pile_no, words.gun_number(r.gun), int(faulted)))
        self._hb_sent = asyncio.get_running_loop().time()
        return True

    def resend_bills(self) -> int:
        bills = self.pile.pending_bills()
        for bill in bills:
            self._send_bill(bill)
        return len(bills)

    def _retry_bills(self, t: float) -> None:
        for bill in self.pile.pending_bills():  # unconfirmed for bill_retry_s: again
            sent = self._bills_in_flight.get(bill.transaction_id)
            if sent is None or t - sent >= self.bill_retry_s * 0.9:
                self._send_bill(bill)
                self.stats.bills_resent += 1

    def _send_bill(self, bill: v1.Bill) -> None:
        if self._writer is None:
            return
        self._bills_in_flight[bill.transaction_id] = asyncio.get_running_loop().time()
        self.stats.bills_sent += 1
        card = words.card_number(bill.account) if bill.channel == Channel.CARD else "0" * 16
        self._send(
            words.ykc_bill(bill, self.pile_no, self.model, version=self.version, physical_card=card)
        )

    # --- the pile model's words -----------------------------------------------------------

    def _flush(self) -> None:
        for msg in self.pile.drain():
            self._translate(msg)

    def _translate(self, msg: v1.Message) -> None:
        self._record("out", msg)
        if isinstance(msg, v1.StatusChange):
            self._realtime(self.pile.gun(msg.gun), status=msg.status)
        elif isinstance(msg, v1.MeterValues):
            self._realtime(self.pile.gun(msg.gun))
        elif isinstance(msg, v1.AuthRequest):
            self._start_request(msg)
        elif isinstance(msg, v1.StartResult):
            pending = self._remote_starts.pop(msg.gun, None)
            if pending is not None and pending[1] == msg.transaction_id:
                ok = msg.result == Result.OK
                self._send(
                    ykc.RemoteStartResult(
                        msg.transaction_id, self.pile_no, words.gun_number(msg.gun),
                        int(ok), 0 if ok else 3,
                    ),
                    echo=pending[0],
                )  # fmt: skip
        elif isinstance(msg, v1.Bill):
            self._send_bill(msg)
        # StopResult, Logout, Vin: the real-time data and the bill carry them.

    def _start_request(self, msg: v1.AuthRequest) -> None:
        gun = words.gun_number(msg.gun)
        if msg.channel == Channel.PASSWORD:
            md5 = hashlib.md5(msg.password.encode()).hexdigest().upper()  # YKC sends the MD5
            card = words.card_number(msg.id_token)
            self._send(ykc.StartRequest(self.pile_no, gun, 2, 1, card, md5, ""))
        else:
            card = words.card_number(msg.id_token)
            self._send(ykc.StartRequest(self.pile_no, gun, 1, 0, card, "0" * 32, ""))

    def _realtime(self, g: Gun, status: int | None = None) -> None:
        ykc_status, plugged = words.realtime_status(g.status if status is None else status)
        s, ch = g.session, g.charge
        trade = s.transaction_id if s is not None and s.transaction_id else words.NO_TRADE
        volts = amps = soc = minutes = energy = amount = 0
        if ch is not None and ch.done_ms is None and ykc_status in (1, 3):
            volts, amps = ch.voltage_current()
            soc = int(ch.soc) if 0 <= ch.soc <= 100 else 0
            minutes = max(0, (self.now_ms() - ch.start_ms) // 60_000)
            energy = ch.energy_dwh
            for name, kind in zip(words.PERIODS, (1, 2, 3, 4), strict=True):
                price = getattr(self.model, f"{name}_price_e5") + getattr(
                    self.model, f"{name}_service_e5"
                )
                amount += words.period_amount_e4(ch.per_kind.get(kind, 0), price)
        faults = 1 if ykc_status == 1 else 0
        self._send(
            ykc.Realtime(
                trade, self.pile_no, words.gun_number(g.no), ykc_status, 0, plugged,
                min(volts, 0xFFFF), min(amps, 0xFFFF), 25, "00" * 8, soc, 30 if soc else 0,
                min(minutes, 0xFFFF), 0, energy, energy, amount, faults,
            )
        )  # fmt: skip

    # --- the platform's frames ------------------------------------------------------------

    def _on_item(self, item: YkcFrame | YkcDecodeError) -> None:
        if isinstance(item, YkcDecodeError):
            self.stats.decode_errors += 1
            return
        self.stats.frames_received += 1
        msg = item.message
        if self.on_wire is not None:
            self.on_wire("in", item.seq, msg)
        handler = _HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, item)
            self._flush()
            self._wake.set()

    def _on_login_reply(self, frame: YkcFrame) -> None:
        assert isinstance(frame.message, ykc.LoginReply)
        if self._login_reply is not None and not self._login_reply.done():
            self._login_reply.set_result(frame.message)

    def _on_heartbeat_reply(self, frame: YkcFrame) -> None:
        if self._hb_sent is not None:
            self.stats.latency.add((asyncio.get_running_loop().time() - self._hb_sent) * 1000)
        self._hb_sent, self._hb_misses = None, 0

    def _on_model_verify_reply(self, frame: YkcFrame) -> None:
        assert isinstance(frame.message, ykc.ModelVerifyReply)
        if frame.message.result != 0:  # not the platform's model: ask for it
            self._send(ykc.ModelRequest(self.pile_no))

    def _apply_model(self, model: ykc.BillingModel) -> bool:
        try:
            tariff = words.tariff_of(model, self.now_ms())
        except ValueError:
            return False
        self.model = model
        self.pile.tariff = tariff
        return True

    def _on_model(self, frame: YkcFrame) -> None:
        assert isinstance(frame.message, ykc.ModelReply)
        self._apply_model(frame.message)

    def _on_set_model(self, frame: YkcFrame) -> None:
        assert isinstance(frame.message, ykc.SetModel)
        self.stats.commands += 1
        ok = self._apply_model(frame.message)
        self._send(ykc.SetModelReply(self.pile_no, int(ok)), echo=frame.seq)

    def _on_start_authorisation(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.StartAuthorisation)
        gun = int(msg.gun)
        if msg.authorised == 1:
            result = v1.AuthResult(gun, Result.OK, msg.trade_no, msg.logical_card, msg.balance_fen)
        else:
            result = v1.AuthResult(gun, Result.AUTH_FAILED, "", "", 0)
        self._record("in", result)
        self.pile.on_message(result, self.now_ms())

    def _on_remote_start(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.RemoteStart)
        self.stats.commands += 1
        self.stats.remote_starts += 1
        gun = int(msg.gun)
        command = v1.StartCharge(
            gun, msg.trade_no, msg.logical_card, Channel.OWN_APP, msg.balance_fen
        )
        ack = self.pile.on_message(command, self.now_ms())
        if ack is not None and ack.result == Result.OK:
            self._remote_starts[gun] = (frame.seq, msg.trade_no)  # answered when energy flows
            return
        reason = {Result.GUN_BUSY: 2, Result.GUN_FAULTED: 3, Result.PILE_DISABLED: 3}.get(
            Result(ack.result) if ack is not None else Result.OTHER, 3
        )
        self._send(
            ykc.RemoteStartResult(msg.trade_no, self.pile_no, msg.gun, 0, reason), echo=frame.seq
        )

    def _on_remote_stop(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.RemoteStop)
        self.stats.commands += 1
        self.stats.remote_stops += 1
        gun = int(msg.gun)
        g = self.pile.guns[gun - 1] if 1 <= gun <= len(self.pile.guns) else None
        ack = None
        trade = g.session.transaction_id if g is not None and g.session is not None else ""
        stop = v1.StopCharge(gun, trade, StopReason.REMOTE)
        self._record("in", stop)
        if g is not None and g.session is not None:
            ack = self.pile.on_message(stop, self.now_ms())
        ok = ack is not None and ack.result == Result.OK
        self._send(
            ykc.RemoteStopResult(self.pile_no, msg.gun, int(ok), 0 if ok else 2), echo=frame.seq
        )

    def _on_bill_confirm(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.BillConfirm)
        sent = self._bills_in_flight.pop(msg.trade_no, None)
        if sent is not None:
            self.stats.latency.add((asyncio.get_running_loop().time() - sent) * 1000)
        bill = self.pile.store.get(msg.trade_no)
        # 0x40 has no "flagged": 0 is success, anything else the platform's "illegal bill".
        status = BillAckStatus.ACCEPTED if msg.result == 0 else BillAckStatus.REJECTED
        self._record("in", v1.BillAck(msg.trade_no, status))
        if not self.pile.store.on_ack(msg.trade_no, BillAckStatus.ACCEPTED):
            self.stats.bills_duplicate += 1
            return
        self.stats.bills_acked += 1
        if msg.result != 0:
            self.stats.bills_rejected += 1  # "illegal bill": confirmed, and not to be re-sent
        if (
            bill is not None
            and self.pile.faults_for(bill.gun).duplicate_bill
            and msg.trade_no not in self._confirmed_once
        ):
            self._confirmed_once.add(msg.trade_no)
            self.wire_faults += 1
            self._send_bill(bill)  # the faulty pile sends the confirmed bill once more

    def _on_time_sync(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.TimeSync)
        self.stats.commands += 1
        if msg.time is not None and self.clock.scale == 1:
            server_ms = msg.time.epoch_ms()
            if server_ms is not None:
                self.offset_ms += server_ms - self.now_ms()
        self._send(ykc.TimeSyncReply(self.pile_no, words.cp56(self.now_ms())), echo=frame.seq)

    def _on_reboot(self, frame: YkcFrame) -> None:
        self.stats.commands += 1
        self._send(ykc.RebootReply(self.pile_no, 1), echo=frame.seq)
        self._reboot = True
        self.pile.offline_request_s = 1.0  # back after a second, logging in again

    def _on_read_realtime(self, frame: YkcFrame) -> None:
        msg = frame.message
        assert isinstance(msg, ykc.ReadRealtime)
        gun = int(msg.gun)
        if 1 <= gun <= len(self.pile.guns):
            self._realtime(self.pile.gun(gun))


_HANDLERS = {
    ykc.LoginReply: YkcPileClient._on_login_reply,
    ykc.HeartbeatReply: YkcPileClient._on_heartbeat_reply,
    ykc.ModelVerifyReply: YkcPileClient._on_model_verify_reply,
    ykc.ModelReply: YkcPileClient._on_model,
    ykc.SetModel: YkcPileClient._on_set_model,
    ykc.StartAuthorisation: YkcPileClient._on_start_authorisation,
    ykc.RemoteStart: YkcPileClient._on_remote_start,
    ykc.RemoteStop: YkcPileClient._on_remote_stop,
    ykc.BillConfirm: YkcPileClient._on_bill_confirm,
    ykc.TimeSync: YkcPileClient._on_time_sync,
    ykc.Reboot: YkcPileClient._on_reboot,
    ykc.ReadRealtime: YkcPileClient._on_read_realtime,
}
