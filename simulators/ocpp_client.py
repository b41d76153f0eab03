"""A simulated pile speaking OCPP 1.6J as a charge point, over WebSocket (``ocpp1.6``).

The behaviour is the pile model's (``simulators.pile``); this speaker translates (see
``simulators.speaker``):

=============================  ==================================================================
pile model says                 charge point sends
=============================  ==================================================================
login                          BootNotification (again after ``interval`` while Pending)
heartbeat                      Heartbeat; a transient fault sample: StatusNotification Faulted,
                               then the gun's status again
StatusChange                   StatusNotification (connector = gun)
AuthRequest (card, password)   Authorize; Accepted gives the pile its (local) transaction
StartResult OK                 StartTransaction; the answer's transactionId is the charger's
                               from then on. A failed start sends no transaction (the
                               StatusNotification Faulted says it).
MeterValues                    MeterValues (register, power, voltage, current, SoC)
StopResult                     StopTransaction with transactionData (begin, samples, end)
Bill, Logout, Vin              nothing: the central system makes its own bill; the pile's bill
                               leaves its store when its StopTransaction is answered
=============================  ==================================================================

and answers the central system: RemoteStartTransaction / RemoteStopTransaction (the pile's
START_CHARGE / STOP_CHARGE), ChangeAvailability (ENABLE / DISABLE; ``Scheduled`` when a gun is
busy), Reset (stops the charges, reboots: the link drops and BootNotification follows),
GetConfiguration / ChangeConfiguration (a small key table, read-only flags kept),
TriggerMessage, UnlockConnector, ClearCache, DataTransfer; anything else is a CALLERROR
``NotImplemented``.

OCPP-J rules kept: one CALL of ours outstanding at a time; transaction messages
(StartTransaction, MeterValues, StopTransaction) queued through disconnects and sent in order
after the next accepted boot, with their original timestamps; other messages are dropped while
offline. Every CALL we send and every answer we give is checked against the official schemas
first (an invalid one is a bug here and raises).

The bill faults in OCPP's terms (the pile's bill is its StopTransaction): ``offline_with_bills``
loses the link the moment the StopTransaction goes out, so its answer never comes; the charger
stays away ``offline_s``, boots again and sends the same StopTransaction (its own times) until
answered. ``duplicate_bill`` sends an answered StopTransaction once more, and that answer too is
reported (as a second BILL_ACK). ``never_sends_bill`` / ``old_firmware`` send none at all.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed

from protocol.ocpp16 import schemas
from protocol.ocpp16.convert import from_payload, to_payload
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
from protocol.ocpp16.messages import (
    RESPONSES,
    Authorize,
    AuthorizeResponse,
    BootNotification,
    BootNotificationResponse,
    Heartbeat,
    HeartbeatResponse,
    MeterValues,
    Request,
    Response,
    StartTransaction,
    StartTransactionResponse,
    StatusNotification,
    StopTransaction,
    StopTransactionResponse,
)
from protocol.ocpp16.meter import MeterValue
from protocol.pilegate import messages as v1
from protocol.pilegate.codes import BillAckStatus, Channel, GunStatus, Result, StopReason
from simulators import ocpp_words as words
from simulators.credentials import client_tls
from simulators.faults import garbage
from simulators.ocpp_words import make
from simulators.pile import Pile
from simulators.speaker import Speaker

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)
#: How often a transaction message goes unanswered (no answer at all) before the charger gives
#: it up; the Core profile's TransactionMessageAttempts.
TRANSACTION_MESSAGE_ATTEMPTS = 3


class _NoAnswer:
    """No CALLRESULT nor CALLERROR came (timeout or lost link)."""


NO_ANSWER = _NoAnswer()
SUBPROTOCOL = "ocpp1.6"
MAX_TRANSACTION_SAMPLES = 50  # periodic samples kept for StopTransaction.transactionData
_ACCEPTED = "Accepted"


def charge_point_url(gateway: str, charge_point_id: str) -> str:
    """``ws://HOST:PORT/PATH`` + ``/{chargePointId}``, or the gateway URL with
    ``{charge_point_id}`` (or ``{pile_id}``) replaced."""
    for hole in ("{charge_point_id}", "{pile_id}"):
        if hole in gateway:
            return gateway.replace(hole, charge_point_id)
    return f"{gateway.rstrip('/')}/{charge_point_id}"


def basic_auth(charge_point_id: str, password: str) -> str:
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    return f"Basic {token}"


@dataclass(slots=True)
class _Outgoing:
    """A CALL waiting its turn: built when it goes out (a transaction id may be learnt by
    then), answered into ``done``. ``keep``: a transaction message, kept through disconnects."""

    build: Callable[[], Request | None]
    done: Callable[[Response | None], None]
    keep: bool = False
    attempts: int = 0  # sent without any answer
    #: offline_with_bills: the link dies as this CALL goes out, and stays down this long.
    offline_after_s: float | None = None


@dataclass(slots=True)
class _Transaction:
    local: str  # the pile model's transaction id
    gun: int
    id_tag: str
    meter_start_dwh: int = 0
    start_ms: int = 0
    ocpp_id: int | None = None  # from StartTransaction.conf
    samples: list[MeterValue] | None = None
    stop_reason: str | None = None  # overrides the pile's (DeAuthorized, Hard/SoftReset)
    stopped: bool = False  # StopTransaction answered

    @property
    def gateway_id(self) -> str:
        """The transaction as the central system knows it (its id), else the pile's own."""
        return self.local if self.ocpp_id is None else str(self.ocpp_id)


def _config_table(pile: Pile, heartbeat_s: int) -> dict[str, tuple[str, bool]]:
    """Configuration key -> (value, read-only): the Core profile keys a central system reads."""
    return {
        "HeartbeatInterval": (str(heartbeat_s), False),
        "MeterValueSampleInterval": (str(pile.meter_interval_ms // 1000), False),
        "MeterValuesSampledData": (
            "Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import,SoC",
            False,
        ),
        "StopTxnSampledData": ("Energy.Active.Import.Register", False),
        "NumberOfConnectors": (str(len(pile.guns)), True),
        "AuthorizeRemoteTxRequests": ("false", False),
        "ConnectionTimeOut": ("60", False),
        "LocalPreAuthorize": ("false", False),
        "SupportedFeatureProfiles": ("Core,RemoteTrigger", True),
        "ChargePointVendor": (pile.spec.vendor, True),
        "ChargePointModel": (pile.spec.model, True),
        "FirmwareVersion": (pile.spec.firmware, True),
    }


class OcppPileClient(Speaker):
    """One simulated pile as an OCPP 1.6J charge point (see the module docstring)."""

    knows_gateway_ids = False  # its transactions go by the OCPP transaction id

    def __init__(self, pile: Pile, gateway: str, *, password: str | None = None, **kw: Any):
        super().__init__(pile, gateway, **kw)
        self.charge_point_id = self.wire_id = pile.spec.pile_id
        self.password = password
        self.url = charge_point_url(gateway, self.charge_point_id)
        self.secure = urlsplit(self.url).scheme == "wss"
        self.config = _config_table(pile, int(self.heartbeat_interval_s))
        self.boot_status: str | None = None
        #: Called with ("in" | "out", the OCPP-J text) for every message (tests record them).
        self.on_text: Callable[[str, str], None] | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._queue: deque[_Outgoing] = deque()
        self._queued = asyncio.Event()
        self._answer: asyncio.Future[CallFrame | Any] | None = None
        self._answer_id = ""
        self._ids = itertools.count(1)
        self._local_ids = itertools.count(1)
        self._tx: dict[str, _Transaction] = {}  # local id -> transaction
        self._hb_misses = 0
        self._reboot = False
        self._offline_after_bill: set[str] = set()  # went offline at the stop, not at unplug
        self._duplicated: set[str] = set()
        self._stops_unanswered: set[str] = set()  # local ids whose StopTransaction is queued

    # --- the link -----------------------------------------------------------------------

    async def _open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        headers = {}
        if self.password is not None:
            headers["Authorization"] = basic_auth(self.charge_point_id, self.password)
        ws = await connect(
            self.url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            additional_headers=headers,
            open_timeout=self.connect_timeout_s,
            ping_interval=None,  # the central system pings; websockets answers by itself
            compression=None,
            ssl=(self.credentials.tls or client_tls(None)) if self.secure else None,
        )
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close()
            raise ConnectionError(f"the gateway chose subprotocol {ws.subprotocol!r}")
        self._ws = ws
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    def _close(self) -> None:
        ws, self._ws = self._ws, None
        for task in (self._sender, self._reader):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._sender = self._reader = None
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        # What a charger forgets when its link drops; transaction messages stay queued.
        self._queue = deque(o for o in self._queue if o.keep)
        if ws is not None:
            task = asyncio.get_running_loop().create_task(ws.close())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def bills_held(self) -> int:
        """Bills still waiting for the central system: StopTransactions queued unanswered, and
        the pile model's bills (made at unplug) whose StopTransaction is not answered yet."""
        return len(self._stops_unanswered | {b.transaction_id for b in self.pile.pending_bills()})

    def _write(self, text: str) -> None:
        ws = self._ws
        if ws is None:
            return
        if self.on_text is not None:
            self.on_text("out", text)
        self.stats.frames_sent += 1
        faults = self.pile.faults
        if faults.garbage_bytes and self.rng.random() < faults.garbage_rate:
            self.wire_faults += 1
            self._send_now(ws, garbage(self.rng).hex())  # not JSON: FormationViolation
        delay = faults.drip_interval_s * len(text) if faults.slow_drip else 0.0
        if delay:
            asyncio.get_running_loop().call_later(delay, self._send_now, ws, text)
        else:
            self._send_now(ws, text)

    def _send_now(self, ws: ClientConnection, text: str) -> None:
        task = asyncio.get_running_loop().create_task(ws.send(text))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for text in ws:
                self.stats.frames_received += 1
                if self.on_text is not None:
                    self.on_text("in", text if isinstance(text, str) else text.decode())
                self._on_text(text)
        except ConnectionClosed:  # the pile reconnects
            pass
        except Exception:  # a bug here: say so, then reconnect like a charger's watchdog
            log.exception("simulated charger %s failed on a message", self.charge_point_id)
        finally:
            if self._ws is ws:
                self._ws = None
                self.stats.disconnects += 1
                if self._answer is not None and not self._answer.done():
                    self._answer.cancel()
                self._wake.set()

    # --- calls of ours ------------------------------------------------------------------

    async def _call(self, request: Request) -> Response | None:
        """Send one CALL and wait for its answer: the typed response, or None for a CALLERROR,
        an invalid answer, a timeout or a lost link."""
        answer = await self._exchange(request)
        return None if isinstance(answer, _NoAnswer) else answer

    async def _exchange(
        self, request: Request, *, offline_after_s: float | None = None
    ) -> Response | _NoAnswer | None:
        """As ``_call``, but says when no answer came at all (timeout, lost link).
        ``offline_after_s``: drop the link as soon as the CALL is written (no answer can
        come) and stay offline that long."""
        payload = to_payload(request)
        problem = schemas.validate(request.action, payload)
        if problem is not None:  # our own bug: say so loudly
            raise ValueError(f"simulated charger built an invalid {request.action}: {problem}")
        loop = asyncio.get_running_loop()
        uid = str(next(self._ids))
        if offline_after_s is not None:
            self._write(encode_call(uid, request.action, payload))
            self.pile.offline_request_s = offline_after_s  # before the serve loop sees the drop
            self.disconnect()  # the CALL is on the wire, its answer will find no one
            return NO_ANSWER
        self._answer, self._answer_id = loop.create_future(), uid
        sent = loop.time()
        self._write(encode_call(uid, request.action, payload))
        try:
            frame = await asyncio.wait_for(self._answer, self.ack_timeout_s)
        except TimeoutError:
            self.stats.missed_acks += 1
            return NO_ANSWER
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task is being cancelled, not just the answer
            return NO_ANSWER  # the link went and the answer with it
        finally:
            self._answer = None
        self.stats.latency.add((loop.time() - sent) * 1000)
        if isinstance(frame, CallErrorFrame):
            self.stats.nacks += 1
            return None
        if schemas.validate(request.action, frame.payload, response=True) is not None:
            self.stats.nacks += 1
            return None
        return from_payload(RESPONSES[request.action], frame.payload)

    def _enqueue(
        self,
        build: Callable[[], Request | None],
        done: Callable[[Response | None], None] = lambda r: None,
        *,
        keep: bool = False,
        offline_after_s: float | None = None,
    ) -> None:
        if not keep and not self.logged_in:
            return  # offline: only transaction messages wait
        self._queue.append(_Outgoing(build, done, keep, offline_after_s=offline_after_s))
        self._queued.set()

    async def _send_queued(self) -> None:
        """The one sender: CALLs leave one at a time, in order."""
        while self._ws is not None:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            item = self._queue[0]
            request = item.build()
            if request is None:
                self._queue.popleft()
                continue
            offline_after_s, item.offline_after_s = item.offline_after_s, None  # only once
            response = await self._exchange(request, offline_after_s=offline_after_s)
            if self._ws is None:
                return  # the link went mid-call: a transaction message stays first in line
            if isinstance(response, _NoAnswer):
                item.attempts += 1
                if item.keep and item.attempts < TRANSACTION_MESSAGE_ATTEMPTS:
                    await asyncio.sleep(min(self.ack_timeout_s, 5.0))  # then the same again
                    continue
                response = None
            if self._queue and self._queue[0] is item:
                self._queue.popleft()
            item.done(response)

    async def _drain(self, timeout_s: float) -> None:
        """Until every queued CALL is answered (a reboot waits for its stops), bounded."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while (self._queue or self._answer is not None) and self._ws is not None:
            if loop.time() >= end:
                return
            await asyncio.sleep(0.02)

    # --- logging in ---------------------------------------------------------------------

    async def _login(self) -> bool:
        s = self.pile.spec
        while self._ws is not None and not self._stopping:
            boot = make(
                BootNotification,
                charge_point_vendor=s.vendor[:20],
                charge_point_model=s.model[:20],
                charge_point_serial_number=self.charge_point_id[:25],
                firmware_version=s.firmware[:50],
            )
            answer = await self._call(boot)
            if not isinstance(answer, BootNotificationResponse):
                return False
            self.boot_status = answer.status
            interval = answer.interval if answer.interval > 0 else 30
            if answer.status == _ACCEPTED:
                self.heartbeat_interval_s = float(interval)
                self.config["HeartbeatInterval"] = (str(interval), False)
                if self.clock.scale == 1:
                    self.offset_ms += answer.current_time - self.now_ms()
                self._hb_misses = 0
                return True
            self._rejected(answer.status)
            if answer.status == "Rejected":
                return False
            await self._sleep(min(float(interval), 60.0))  # Pending: boot again later
        return False

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.pile.tick(self.now_ms())
        self._enqueue(lambda: self._status_request(0, GunStatus.AVAILABLE, 0, None))
        for g in self.pile.guns:
            self._enqueue(partial(self._status_request, g.no, g.status, g.fault_code, None))
        self._sender = loop.create_task(self._send_queued())
        self._queued.set()
        next_hb = loop.time() + self.heartbeat_interval_s
        while not self._stopping and self._ws is not None:
            now_ms = self.now_ms()
            self.pile.tick(now_ms)
            self._flush()
            if self.pile.offline_request_s is not None or self._reboot:
                if self._reboot:  # a reset: its StopTransactions go before the link does
                    await self._drain(self.ack_timeout_s)
                self._reboot = False
                return
            t = loop.time()
            if t >= next_hb:
                self._heartbeat(now_ms)
                next_hb = t + self.heartbeat_interval_s
            if self._hb_misses >= 3:
                return
            await self._wait_until(self._wake_at(min(next_hb, t + 1.0)))

    def _heartbeat(self, now_ms: int) -> bool:
        report = self.pile.heartbeat(now_ms)  # ticks the model; a fault sample shows here
        for r in report.guns:
            g = self.pile.gun(r.gun)
            if r.status != g.status:  # case 3: one faulted sample, then the gun's own status
                self._enqueue(partial(self._status_request, r.gun, r.status, r.fault_code, None))
                self._enqueue(partial(self._status_request, g.no, g.status, g.fault_code, None))
        self._enqueue(Heartbeat, self._on_heartbeat)
        self._hb_misses += 1
        return True

    def _on_heartbeat(self, answer: Response | None) -> None:
        if isinstance(answer, HeartbeatResponse):
            self._hb_misses = 0

    # --- the pile model's words -----------------------------------------------------------

    def _flush(self) -> None:
        for msg in self.pile.drain():
            self._translate(msg)

    def _translate(self, msg: v1.Message) -> None:
        self._record("out", msg)
        if isinstance(msg, v1.StatusChange):
            self._enqueue(
                lambda: self._status_request(msg.gun, msg.status, msg.fault_code, msg.time_ms)
            )
        elif isinstance(msg, v1.AuthRequest):
            tag = msg.id_token[:20]
            self._enqueue(
                lambda: make(Authorize, id_tag=tag), lambda r: self._on_authorize(msg.gun, tag, r)
            )
        elif isinstance(msg, v1.StartResult):
            self._on_start_result(msg)
        elif isinstance(msg, v1.MeterValues):
            self._on_meter_values(msg)
        elif isinstance(msg, v1.StopResult):
            self._on_stop_result(msg)
        elif isinstance(msg, v1.Bill):
            tx = self._tx.get(msg.transaction_id)
            if tx is None or tx.samples is None or tx.stopped:
                # No StartTransaction was ever sent (a failed start), or its stop is answered.
                self._forget(msg.transaction_id)
            if tx is not None and tx.local in self._offline_after_bill:
                self._offline_after_bill.discard(tx.local)
                if self._ws is not None:  # the model's request at unplug, not the stop's outage
                    self.pile.offline_request_s = None  # it went offline at the stop already
        # Logout, Vin: nothing in OCPP 1.6.

    def _status_request(
        self, gun: int, gun_status: int, fault: int, time_ms: int | None
    ) -> StatusNotification:
        code, vendor_code = words.error_code(fault)
        return make(
            StatusNotification,
            connector_id=gun,
            error_code=code,
            status=words.status(gun_status),
            timestamp=time_ms,
            vendor_error_code=vendor_code,
        )

    def _on_authorize(self, gun: int, tag: str, answer: Response | None) -> None:
        if answer is None:
            return  # no answer: the driver gives up (the pile model times out)
        assert isinstance(answer, AuthorizeResponse)
        now = self.now_ms()
        if answer.id_tag_info.status == _ACCEPTED:
            local = self._new_local()
            self._tx[local] = _Transaction(local, gun, tag)
            result = v1.AuthResult(gun, Result.OK, local, tag, 0)
        else:
            result = v1.AuthResult(gun, Result.AUTH_FAILED, "", "", 0)
        self._record("in", result)
        self.pile.on_message(result, now)
        self._flush()
        self._wake.set()

    def _new_local(self) -> str:
        return f"{self.charge_point_id[-8:]}-{next(self._local_ids)}"

    def _on_start_result(self, msg: v1.StartResult) -> None:
        tx = self._tx.get(msg.transaction_id)
        if tx is None or msg.result != Result.OK:
            return  # a failed start opens no transaction; the Faulted status tells
        tx.meter_start_dwh, tx.start_ms = msg.meter_dwh, msg.time_ms
        tx.samples = [words.register_sample(msg.time_ms, msg.meter_dwh, "Transaction.Begin")]
        request = make(
            StartTransaction,
            connector_id=tx.gun,
            id_tag=tx.id_tag,
            meter_start=words.wh(msg.meter_dwh),
            timestamp=msg.time_ms,
        )
        self._enqueue(lambda: request, lambda r: self._on_started(tx, r), keep=True)

    def _on_started(self, tx: _Transaction, answer: Response | None) -> None:
        if not isinstance(answer, StartTransactionResponse):
            return
        tx.ocpp_id = answer.transaction_id
        if answer.id_tag_info.status != _ACCEPTED:  # the central system refuses the tag: stop
            tx.stop_reason = "DeAuthorized"
            stop = v1.StopCharge(tx.gun, tx.local, StopReason.OTHER)
            self._record("in", stop)
            self.pile.on_message(stop, self.now_ms())
            self._flush()

    def _on_meter_values(self, msg: v1.MeterValues) -> None:
        tx = self._tx.get(msg.transaction_id)
        if tx is None:
            return
        sample = words.periodic_sample(
            msg.time_ms, msg.meter_dwh, msg.power_w, msg.voltage_dv, msg.current_da, msg.soc
        )
        if tx.samples is not None and len(tx.samples) < MAX_TRANSACTION_SAMPLES:
            tx.samples.append(words.register_sample(msg.time_ms, msg.meter_dwh, "Sample.Periodic"))

        def build() -> Request | None:
            if tx.ocpp_id is None:
                return None  # the start was never confirmed: nothing to attach it to
            return make(
                MeterValues, connector_id=tx.gun, transaction_id=tx.ocpp_id, meter_value=[sample]
            )

        self._enqueue(build, keep=True)

    def _on_stop_result(self, msg: v1.StopResult) -> None:
        tx = self._tx.get(msg.transaction_id)
        if tx is None:
            return
        faults = self.pile.faults_for(tx.gun)
        lost = faults.never_sends_bill or (
            faults.old_firmware and self.rng.random() < faults.bill_loss_rate
        )
        if lost:  # the OCPP lost bill: the connector goes Available with no StopTransaction
            tx.stopped = True
            return
        samples = list(tx.samples or [])
        samples.append(words.register_sample(msg.time_ms, msg.meter_dwh, "Transaction.End"))
        reason = tx.stop_reason or words.stop_reason(msg.stop_reason)
        sends = 0

        def build() -> Request | None:
            nonlocal sends
            if tx.ocpp_id is None:  # the start was never confirmed: no transaction to stop
                tx.stopped = True
                self._stops_unanswered.discard(tx.local)
                self._forget(tx.local)
                return None
            sends += 1
            if sends == 1:
                self.stats.bills_sent += 1
            else:  # after a lost link or a missing answer, or a faulty charger's copy
                self.stats.bills_resent += 1
            return make(
                StopTransaction,
                meter_stop=words.wh(msg.meter_dwh),
                timestamp=msg.time_ms,
                transaction_id=tx.ocpp_id,
                id_tag=tx.id_tag,
                reason=reason,
                transaction_data=samples,
            )

        def answered(answer: Response | None) -> bool:
            """An answer to (a copy of) the StopTransaction, told as the pile's BILL_ACK."""
            if not isinstance(answer, StopTransactionResponse):
                return False
            self._record("in", v1.BillAck(tx.gateway_id, BillAckStatus.ACCEPTED))
            return True

        def done(answer: Response | None) -> None:
            tx.stopped = True  # answered, or given up (CALLERROR, no answer after the attempts)
            self._stops_unanswered.discard(tx.local)
            self._forget(tx.local)
            if not answered(answer):
                self.stats.bills_rejected += 1
                return
            self.stats.bills_acked += 1
            if faults.duplicate_bill and tx.local not in self._duplicated:
                self._duplicated.add(tx.local)
                self.wire_faults += 1
                self._enqueue(build, again, keep=True)  # the faulty charger sends its stop again

        def again(answer: Response | None) -> None:
            if answered(answer):
                self.stats.bills_duplicate += 1

        self._stops_unanswered.add(tx.local)
        if faults.offline_with_bills:  # the link goes as the StopTransaction does
            self._offline_after_bill.add(tx.local)  # the pile model would go at unplug
            self._enqueue(build, done, keep=True, offline_after_s=faults.offline_s)
        else:
            self._enqueue(build, done, keep=True)

    def _forget(self, local: str) -> None:
        self.pile.store.on_ack(local, BillAckStatus.ACCEPTED)

    # --- the central system's calls and answers ---------------------------------------------

    def _on_text(self, text: str | bytes) -> None:
        frame = parse_frame(text)
        if isinstance(frame, OcppError):
            self.stats.decode_errors += 1
            answer = error_text(frame)
            if answer is not None:
                self._write(answer)
        elif isinstance(frame, CallFrame):
            self._on_call(frame)
        elif (
            self._answer is not None
            and frame.unique_id == self._answer_id
            and not self._answer.done()
        ):
            self._answer.set_result(frame)
        # else: a late or unknown answer, ignored as OCPP-J says

    def _on_call(self, frame: CallFrame) -> None:
        self.stats.commands += 1
        handler = _HANDLERS.get(frame.action)
        if handler is None:
            self._write(encode_error(frame.unique_id, ErrorCode.NOT_IMPLEMENTED, frame.action))
            return
        problem = schemas.validate(frame.action, frame.payload)
        if problem is not None:
            answer = error_text(problem.for_call(frame.unique_id, frame.action))
            if answer is not None:
                self._write(answer)
            return
        payload = handler(self, frame.payload)
        problem = schemas.validate(frame.action, payload, response=True)
        if problem is not None:  # our own bug
            raise ValueError(f"simulated charger built an invalid {frame.action} answer: {problem}")
        self._write(encode_result(frame.unique_id, payload))
        self._flush()
        self._wake.set()

    def _gun_of(self, ocpp_id: int) -> _Transaction | None:
        return next((t for t in self._tx.values() if t.ocpp_id == ocpp_id and not t.stopped), None)

    def _remote_start(self, p: dict[str, Any]) -> dict[str, Any]:
        self.stats.remote_starts += 1
        tag, gun = p["idTag"], p.get("connectorId")
        if gun is None:  # the first free gun
            gun = next((g.no for g in self.pile.guns if g.session is None), 1)
        if not 1 <= gun <= len(self.pile.guns):
            return {"status": "Rejected"}
        local = self._new_local()
        start = v1.StartCharge(gun, local, tag, Channel.OWN_APP, 0)
        self._record("in", start)
        ack = self.pile.on_message(start, self.now_ms())
        if ack is None or ack.result != Result.OK:
            return {"status": "Rejected"}
        self._tx[local] = _Transaction(local, gun, tag)
        return {"status": _ACCEPTED}

    def _remote_stop(self, p: dict[str, Any]) -> dict[str, Any]:
        self.stats.remote_stops += 1
        tx = self._gun_of(p["transactionId"])
        self._record("in", v1.StopCharge(0, str(p["transactionId"]), StopReason.REMOTE))
        if tx is None:
            return {"status": "Rejected"}
        ack = self.pile.on_message(
            v1.StopCharge(tx.gun, tx.local, StopReason.REMOTE), self.now_ms()
        )
        ok = ack is not None and ack.result == Result.OK
        return {"status": _ACCEPTED if ok else "Rejected"}

    def _change_availability(self, p: dict[str, Any]) -> dict[str, Any]:
        gun = p["connectorId"]
        if not 0 <= gun <= len(self.pile.guns):
            return {"status": "Rejected"}
        command = v1.Enable(gun) if p["type"] == "Operative" else v1.Disable(gun)
        self._record("in", command)
        ack = self.pile.on_message(command, self.now_ms())
        if ack is None or ack.result != Result.OK:
            return {"status": "Rejected"}
        guns = self.pile.guns if gun == 0 else [self.pile.gun(gun)]
        scheduled = any(g.disable_pending for g in guns)
        return {"status": "Scheduled" if scheduled else _ACCEPTED}

    def _reset(self, p: dict[str, Any]) -> dict[str, Any]:
        reason = "HardReset" if p["type"] == "Hard" else "SoftReset"
        now = self.now_ms()
        for tx in list(self._tx.values()):
            if tx.ocpp_id is not None and not tx.stopped:
                tx.stop_reason = reason
                self.pile.on_message(v1.StopCharge(tx.gun, tx.local, StopReason.REMOTE), now)
        self._reboot = True  # after the answer and the stops: drop the link, boot again
        self.pile.offline_request_s = 1.0
        return {"status": _ACCEPTED}

    def _get_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = p.get("key") or list(self.config)
        known = [
            {"key": k, "readonly": self.config[k][1], "value": self.config[k][0]}
            for k in keys
            if k in self.config
        ]
        unknown = [k for k in keys if k not in self.config]
        out: dict[str, Any] = {"configurationKey": known}
        if unknown:
            out["unknownKey"] = unknown
        return out

    def _change_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        key, value = p["key"], p["value"]
        if key not in self.config:
            return {"status": "NotSupported"}
        if self.config[key][1]:
            return {"status": "Rejected"}
        if key in ("HeartbeatInterval", "MeterValueSampleInterval"):
            if not value.isdigit() or int(value) <= 0:
                return {"status": "Rejected"}
            if key == "HeartbeatInterval":
                self.heartbeat_interval_s = float(value)
            else:
                self.pile.meter_interval_ms = int(value) * 1000
        self.config[key] = (value, False)
        return {"status": _ACCEPTED}

    def _trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        what, gun = p["requestedMessage"], p.get("connectorId")
        guns = [g for g in self.pile.guns if gun in (None, g.no)]
        if what == "Heartbeat":
            self._enqueue(Heartbeat, self._on_heartbeat)
        elif what == "StatusNotification":
            for g in guns:
                self._enqueue(partial(self._status_request, g.no, g.status, g.fault_code, None))
        elif what == "MeterValues":
            for g in guns:
                self._enqueue(partial(self._meter_now, g.no))
        elif what == "BootNotification":
            s = self.pile.spec
            self._enqueue(
                lambda: make(
                    BootNotification,
                    charge_point_vendor=s.vendor[:20],
                    charge_point_model=s.model[:20],
                )
            )
        else:
            return {"status": "NotImplemented"}
        return {"status": _ACCEPTED}

    def _meter_now(self, gun: int) -> MeterValues:
        g = self.pile.gun(gun)
        meter = g.charge.meter_dwh if g.charge is not None else g.meter_dwh
        sample = words.register_sample(self.now_ms(), meter, "Trigger")
        tx = self._tx.get(g.session.transaction_id) if g.session is not None else None
        ocpp_id = tx.ocpp_id if tx is not None and not tx.stopped else None
        return make(MeterValues, connector_id=gun, meter_value=[sample], transaction_id=ocpp_id)


_HANDLERS: dict[str, Callable[[OcppPileClient, dict[str, Any]], dict[str, Any]]] = {
    "RemoteStartTransaction": OcppPileClient._remote_start,
    "RemoteStopTransaction": OcppPileClient._remote_stop,
    "ChangeAvailability": OcppPileClient._change_availability,
    "Reset": OcppPileClient._reset,
    "GetConfiguration": OcppPileClient._get_configuration,
    "ChangeConfiguration": OcppPileClient._change_configuration,
    "TriggerMessage": OcppPileClient._trigger,
    "UnlockConnector": lambda self, p: {"status": "Unlocked"},
    "ClearCache": lambda self, p: {"status": _ACCEPTED},
    "DataTransfer": lambda self, p: {"status": "UnknownVendorId"},
}
