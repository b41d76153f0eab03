"""What a charge point's calls mean to the gateway: the handler of each OCPP action.

Rules for transactions, as the field needs them (docs/ocpp.md, "Transactions"):

* A transactionId comes from the database (``ocpp_transactions.id``), so it is unique across
  gateway instances and never <= 0. A retried StartTransaction (same connector, idTag,
  timestamp and meterStart) gets the id it got the first time, and opens no second session.
* Every StartTransaction gets an id, also for a tag the gateway refuses (the charger may have
  started offline): the answer then says Invalid/Blocked/ConcurrentTx and no session opens.
* StopTransaction is always answered. A stop recorded before (a retry) is answered again and
  counted once; a stop whose id matches nothing is kept as an orphan stop for the operator.
* The charger's timestamps are kept (offline transactions), and its meter readings
  (MeterValues, transactionData) feed the session's samples for the time-of-use split.
* A connector that goes Available while its transaction has no StopTransaction: the session
  machine ends the service at the unplug and waits for the bill (bill-wait alarm, lost-bill
  anomaly); the transaction row is flagged ``ended_by_gateway_ms``. A StopTransaction that
  arrives later still records the stop and bills it, which resolves the lost bill.
* Charging may be reported before the transaction is settled: after an accepted Authorize
  and before StartTransaction.req, or before the charger heard that its StartTransaction is
  refused as ConcurrentTx (it then stops it, StopTransactionOnInvalidId, reason DeAuthorized);
  an Invalid or Blocked tag that charges is alarmed at once (field cases 4 and 6). Such a status
  is not yet "charging without a session": the next heartbeat reports the connector if it
  still charges, and the session machine then alarms and stops it.
* The bill (``billing.bill_of``) goes in once the connector is free again after the stop
  (Available, or anything but Finishing/Charging/Suspended), so the idle time from the end
  of charging to the unplug is the charger's; a stopped transaction not billed yet (a
  restart in between) is billed when the charger connects again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.adapters.ocpp16.billing import bill_of
from gateway.adapters.ocpp16.mapping import GUN_STATUS, ID_TAG_STATUS, WH_TO_DWH
from gateway.config import OcppConfig
from gateway.dialect import PilePort
from gateway.storage import Storage
from gateway.storage.areas.ocpp import OcppTransaction
from protocol.ocpp16 import messages as m
from protocol.ocpp16.convert import to_payload
from protocol.ocpp16.meter import MeterValue
from sessions import StartConfirmed, StopConfirmed

CHARGING = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
BUSY = CHARGING | {"Finishing"}
#: How long an accepted Authorize explains a Charging status without a transaction yet.
AUTHORIZED_FOR_MS = 5 * 60_000


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """A StartService the charger accepted: its StartTransaction joins this session."""

    session_tx: str
    id_tag: str
    account: str
    channel: str


@dataclass(slots=True)
class ChargerState:
    statuses: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # status, error, ms
    meters: dict[int, int] = field(default_factory=dict)  # latest Wh per connector
    open_tx: dict[int, OcppTransaction] = field(default_factory=dict)
    remote_starts: dict[int, RemoteStart] = field(default_factory=dict)
    awaiting_bill: dict[int, OcppTransaction] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # session_tx -> channel
    # idTags an Authorize accepted and no StartTransaction named yet -> when (gateway ms)
    authorized: dict[str, int] = field(default_factory=dict)


class Charger(Protocol):
    """What the handlers use of a charger's connection (`charger.OcppCharger`)."""

    charger_id: str
    log: Any  # a structlog logger bound to the charger
    port: PilePort | None  # the core's, once logged in
    state: ChargerState

    @property
    def storage(self) -> Storage: ...
    @property
    def config(self) -> OcppConfig: ...
    def now_ms(self) -> int: ...
    def touch(self) -> None: ...
    def report(self, connector: int) -> None: ...
    def spawn(self, what: str, coro: Awaitable[Any]) -> None: ...
    async def booted(self, boot: m.BootNotification) -> None: ...
    async def find_account(self, id_tag: str) -> Any: ...
    def firmware_report(self, kind: str, status: str) -> None: ...


def id_tag_for(account: str) -> str:
    """The idTag a remote start names the account by (IdToken is at most 20 characters)."""
    return account[:20]


def payload_of(message: m.Request | m.Response) -> dict[str, Any]:
    return to_payload(message)


# --- core profile -------------------------------------------------------------------------------


def heartbeat(ch: Charger, msg: m.Heartbeat) -> m.Response:
    # OCPP's heartbeat carries no gun reports. The session machine counts charging reports
    # (a stop not honoured, charging without a session), so a connector still charging is
    # reported again with each heartbeat, as a v1 heartbeat reports its guns; an idle one
    # costs nothing more than the answer.
    for connector, (status, _, _) in ch.state.statuses.items():
        if status in CHARGING:
            ch.report(connector)
    ch.touch()
    return m.HeartbeatResponse(current_time=ch.now_ms())


def status_notification(ch: Charger, msg: m.StatusNotification) -> m.Response:
    now = ch.now_ms()
    at = msg.timestamp if msg.timestamp is not None else now
    if msg.connector_id == 0:
        ch.log.info("charger_status", status=msg.status, error_code=msg.error_code)
        return m.StatusNotificationResponse()
    connector = msg.connector_id
    ch.state.statuses[connector] = (msg.status, msg.error_code, at)
    if msg.status not in GUN_STATUS:
        return m.StatusNotificationResponse()
    if msg.status in CHARGING and _start_under_way(ch, connector, now):
        return m.StatusNotificationResponse()  # the next heartbeat reports it if it lasts
    ch.report(connector)
    if msg.status == "Available":
        tx = ch.state.open_tx.pop(connector, None)
        if tx is not None and tx.session_tx is not None:  # no StopTransaction: a lost bill
            ch.log.warning("ocpp_stop_missing", gun=connector, transaction=tx.id,
                           session=tx.session_tx)  # fmt: skip
            ch.spawn(
                "flag_lost_stop",
                ch.storage.mark_ended_by_gateway(ch.charger_id, tx.id, now),
            )
    if msg.status not in BUSY:
        stopped = ch.state.awaiting_bill.pop(connector, None)
        if stopped is not None:
            ch.spawn("bill", submit_bill(ch, stopped, service_end_ms=at))
    return m.StatusNotificationResponse()


def _start_under_way(ch: Charger, connector: int, now: int) -> bool:
    """A Charging status OCPP allows before the transaction is settled: after an accepted
    Authorize and before its StartTransaction.req, or before the charger heard that its
    StartTransaction was refused as ConcurrentTx (a valid tag whose account charges elsewhere;
    the charger then stops it itself, StopTransactionOnInvalidId).
    Not reported at once; a connector still charging at the next heartbeat is reported by
    it, and with no session then the session machine alarms and stops it (field case 4)."""
    tx = ch.state.open_tx.get(connector)
    if tx is not None:
        if tx.session_tx is not None or tx.id_tag_status != "ConcurrentTx":
            return False  # a live session, or a tag we refuse outright: no grace (case 4, 6)
        ch.log.info("ocpp_charging_on_refused_transaction", gun=connector,
                    transaction=tx.id, id_tag_status=tx.id_tag_status)  # fmt: skip
        return True
    if any(now - at <= AUTHORIZED_FOR_MS for at in ch.state.authorized.values()):
        ch.log.info("ocpp_charging_before_start_transaction", gun=connector)
        return True
    return False


def meter_values(ch: Charger, msg: m.MeterValues) -> m.Response:
    tx = ch.state.open_tx.get(msg.connector_id)
    session_tx = tx.session_tx if tx is not None else None
    feed_samples(ch, msg.connector_id, session_tx, msg.meter_value)
    return m.MeterValuesResponse()


def feed_samples(
    ch: Charger, connector: int, session_tx: str | None, values: list[MeterValue]
) -> None:
    for value in values:
        wh = value.import_register_wh()
        if wh is None:
            continue
        ch.state.meters[connector] = wh
        if session_tx is not None and ch.port is not None:
            power, soc = _power_and_soc(value)
            ch.port.meter(connector, session_tx, value.timestamp, wh * WH_TO_DWH, power, soc)


def _power_and_soc(value: MeterValue) -> tuple[int | None, int | None]:
    power = soc = None
    for s in value.sampled_value:
        try:
            number = float(s.value)
        except ValueError:
            continue
        if s.measurand == "Power.Active.Import" and s.phase is None:
            power = int(number * 1000) if s.unit == "kW" else int(number)
        elif s.measurand == "SoC":
            soc = int(number)
    return power, soc


async def boot_notification(ch: Charger, msg: m.BootNotification) -> m.Response:
    now = ch.now_ms()
    await ch.booted(msg)
    ch.log.info(
        "ocpp_boot",
        vendor=msg.charge_point_vendor,
        model=msg.charge_point_model,
        firmware=msg.firmware_version,
        serial=msg.charge_point_serial_number,
    )
    return m.BootNotificationResponse(
        status="Accepted", current_time=now, interval=ch.config.heartbeat_interval_s
    )


async def authorize(ch: Charger, msg: m.Authorize) -> m.Response:
    if any(r.id_tag == msg.id_tag for r in ch.state.remote_starts.values()):
        return m.AuthorizeResponse(id_tag_info=m.IdTagInfo(status="Accepted"))
    status = await id_tag_status(ch, msg.id_tag)
    if status == "Accepted":
        now = ch.now_ms()
        pending = ch.state.authorized
        for tag in [t for t, at in pending.items() if now - at > AUTHORIZED_FOR_MS]:
            del pending[tag]
        pending[msg.id_tag] = now
    return m.AuthorizeResponse(id_tag_info=m.IdTagInfo(status=status))


async def id_tag_status(ch: Charger, id_tag: str) -> str:
    account = await ch.find_account(id_tag)
    if account is None:
        return "Invalid"
    return "Accepted" if account.enabled else "Blocked"


async def start_transaction(ch: Charger, msg: m.StartTransaction) -> m.Response:
    storage, connector = ch.storage, msg.connector_id
    ch.state.authorized.pop(msg.id_tag, None)
    found = await storage.find_start(
        ch.charger_id, connector, msg.id_tag, msg.timestamp, msg.meter_start
    )
    if found is not None:  # a retry: the same id, no second session
        ch.log.info("ocpp_start_retried", gun=connector, transaction=found.id)
        return _started(found)
    remote = ch.state.remote_starts.get(connector)
    channel = "card"
    session_tx: str | None = None
    account: str | None = None
    if remote is not None and remote.id_tag == msg.id_tag:
        del ch.state.remote_starts[connector]
        session_tx, account, channel, status = (
            remote.session_tx,
            remote.account,
            remote.channel,
            "Accepted",
        )
    else:
        assert ch.port is not None
        auth = await ch.port.authorise(connector, "card", msg.id_tag, "")
        if auth.transaction_id is not None:
            session_tx, account, status = auth.transaction_id, auth.account, "Accepted"
        else:
            assert auth.refusal is not None
            status = ID_TAG_STATUS.get(auth.refusal, "Invalid")
            ch.log.info("ocpp_start_refused", gun=connector, id_tag=msg.id_tag,
                        reason=auth.refusal.value)  # fmt: skip
    tx = await storage.start_transaction(
        OcppTransaction(
            id=0,
            pile_id=ch.charger_id,
            connector_id=connector,
            id_tag=msg.id_tag,
            start_ms=msg.timestamp,
            meter_start_wh=msg.meter_start,
            id_tag_status=status,
            session_tx=session_tx,
            account=account,
            reservation_id=msg.reservation_id,
        ),
        at_ms=ch.now_ms(),
    )
    if tx.stop_ms is None:
        ch.state.open_tx[connector] = tx  # refused ones too: the operator may stop them
    if session_tx is not None and tx.session_tx == session_tx:
        ch.state.channels[session_tx] = channel
        ch.state.meters[connector] = msg.meter_start
        assert ch.port is not None
        ch.port.meter(connector, session_tx, msg.timestamp, msg.meter_start * WH_TO_DWH, None, None)
        ch.port.feed(connector, StartConfirmed(session_tx, msg.meter_start * WH_TO_DWH))
    if msg.reservation_id is not None:
        await storage.set_reservation(ch.charger_id, msg.reservation_id, "used", tx.id)
    ch.log.info("ocpp_transaction_started", gun=connector, transaction=tx.id,
                session=tx.session_tx, status=tx.id_tag_status)  # fmt: skip
    return _started(tx)


def _started(tx: OcppTransaction) -> m.Response:
    return m.StartTransactionResponse(
        id_tag_info=m.IdTagInfo(status=tx.id_tag_status), transaction_id=tx.id
    )


async def stop_transaction(ch: Charger, msg: m.StopTransaction) -> m.Response:
    storage, now = ch.storage, ch.now_ms()
    answer = m.StopTransactionResponse(
        id_tag_info=None if msg.id_tag is None else m.IdTagInfo(status="Accepted")
    )
    tx = await storage.ocpp_transaction(ch.charger_id, msg.transaction_id)
    if tx is None:
        tx = _match_open(ch, msg)
    if tx is None:
        kept = await storage.orphan_stop(
            ch.charger_id,
            msg.transaction_id,
            id_tag=msg.id_tag,
            stop_ms=msg.timestamp,
            meter_stop_wh=msg.meter_stop,
            reason=msg.reason,
            payload=payload_of(msg),
            at_ms=now,
        )
        ch.log.warning("ocpp_orphan_stop", transaction=msg.transaction_id, new=kept)
        return answer
    first = await storage.stop_transaction(
        ch.charger_id, tx.id, stop_ms=msg.timestamp, meter_stop_wh=msg.meter_stop,
        reason=msg.reason, at_ms=now,
    )  # fmt: skip
    if not first:
        ch.log.info("ocpp_stop_retried", transaction=tx.id)
        return answer
    connector = tx.connector_id
    stopped = dataclasses.replace(
        tx, stop_ms=msg.timestamp, meter_stop_wh=msg.meter_stop, stop_reason=msg.reason
    )
    ch.log.info("ocpp_transaction_stopped", gun=connector, transaction=tx.id,
                session=tx.session_tx, reason=msg.reason)  # fmt: skip
    if ch.state.open_tx.get(connector) is not None and ch.state.open_tx[connector].id == tx.id:
        del ch.state.open_tx[connector]
    if tx.session_tx is None or ch.port is None:
        return answer  # refused at start: no session, no bill
    if msg.transaction_data:
        feed_samples(ch, connector, tx.session_tx, msg.transaction_data)
    ch.state.meters[connector] = msg.meter_stop
    ch.port.feed(connector, StopConfirmed(msg.meter_stop * WH_TO_DWH, tx.session_tx))
    status = ch.state.statuses.get(connector)
    if tx.ended_by_gateway_ms is not None or status is None or status[0] not in BUSY:
        # Already unplugged (a late stop, or the charger sent Available first): bill now.
        end = status[2] if status is not None and status[2] >= msg.timestamp else msg.timestamp
        ch.spawn("bill", submit_bill(ch, stopped, service_end_ms=end))
    else:
        ch.state.awaiting_bill[connector] = stopped
    return answer


def _match_open(ch: Charger, msg: m.StopTransaction) -> OcppTransaction | None:
    """A stop with an id we never issued (-1, 0 after an offline start): the one open
    transaction of this charger, if there is exactly one (and its idTag fits)."""
    candidates = [
        tx for tx in ch.state.open_tx.values() if msg.id_tag is None or tx.id_tag == msg.id_tag
    ]
    return candidates[0] if len(candidates) == 1 else None


async def submit_bill(ch: Charger, tx: OcppTransaction, *, service_end_ms: int) -> None:
    if ch.port is None or tx.session_tx is None:
        return
    channel = ch.state.channels.pop(tx.session_tx, "card")
    verdict = await ch.port.bill(bill_of(tx, channel=channel, service_end_ms=service_end_ms))
    if verdict is None:
        ch.log.warning("ocpp_bill_not_committed", transaction=tx.id)  # retried at reconnect
        return
    await ch.storage.mark_billed(ch.charger_id, tx.id, ch.now_ms())
    ch.log.info("ocpp_bill", transaction=tx.id, session=tx.session_tx, status=verdict.status.value)


async def data_transfer(ch: Charger, msg: m.DataTransfer) -> m.Response:
    ch.log.info("ocpp_data_transfer", vendor=msg.vendor_id, message_id=msg.message_id)
    return m.DataTransferResponse(status="UnknownVendorId")


# --- notifications ------------------------------------------------------------------------------


def firmware_status(ch: Charger, msg: m.FirmwareStatusNotification) -> m.Response:
    ch.firmware_report("firmware", msg.status)
    return m.FirmwareStatusNotificationResponse()


def diagnostics_status(ch: Charger, msg: m.DiagnosticsStatusNotification) -> m.Response:
    ch.firmware_report("diagnostics", msg.status)
    return m.DiagnosticsStatusNotificationResponse()


def signed_firmware_status(ch: Charger, msg: m.SignedFirmwareStatusNotification) -> m.Response:
    ch.firmware_report("signed_firmware", msg.status)
    return m.SignedFirmwareStatusNotificationResponse()


def log_status(ch: Charger, msg: m.LogStatusNotification) -> m.Response:
    ch.firmware_report("log", msg.status)
    return m.LogStatusNotificationResponse()


async def security_event(ch: Charger, msg: m.SecurityEventNotification) -> m.Response:
    # Journaled like every call (the journal is the security log); a warning for the operator.
    ch.log.warning("ocpp_security_event", type=msg.type, tech_info=msg.tech_info)
    return m.SecurityEventNotificationResponse()


async def sign_certificate(ch: Charger, msg: m.SignCertificate) -> m.Response:
    return m.SignCertificateResponse(status="Rejected")  # no CA here: profile 3 is not offered


# --- after a (re)connect --------------------------------------------------------------------------


async def restore(ch: Charger) -> None:
    """The charger's open transactions back in memory, and stopped ones not billed yet billed."""
    for tx in await ch.storage.transactions_to_restore(ch.charger_id):
        if tx.stop_ms is None:
            ch.state.open_tx[tx.connector_id] = tx
        else:
            ch.spawn("bill", submit_bill(ch, tx, service_end_ms=tx.stop_ms))


SyncHandler = Callable[[Charger, Any], m.Response]
AsyncHandler = Callable[[Charger, Any], Awaitable[m.Response]]

SYNC_HANDLERS: dict[str, SyncHandler] = {
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "MeterValues": meter_values,
    "FirmwareStatusNotification": firmware_status,
    "DiagnosticsStatusNotification": diagnostics_status,
    "SignedFirmwareStatusNotification": signed_firmware_status,
    "LogStatusNotification": log_status,
}
ASYNC_HANDLERS: dict[str, AsyncHandler] = {
    "BootNotification": boot_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "DataTransfer": data_transfer,
    "SecurityEventNotification": security_event,
    "SignCertificate": sign_certificate,
}
