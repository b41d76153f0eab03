"""What a v1 pile says, as `PilePort` calls: gun reports, session events, meter samples, the
pile's bill; and the core's answers (authorisation, bill verdict) as v1 replies."""

from __future__ import annotations

from typing import Any

from billing.records import PileBill
from gateway.adapters.pilegate.codes import (
    AUTH_RESULT_CODE,
    BILL_ACK_STATUS,
    GUN_STATUS,
    channel_name,
    result_name,
    stop_reason_name,
)
from gateway.dialect import Authorisation, BillVerdict, GunReport, PilePort
from protocol.pilegate import (
    AuthResult,
    Bill,
    BillAck,
    BillAckStatus,
    Heartbeat,
    Logout,
    Message,
    MeterValues,
    Result,
    StartResult,
    StatusChange,
    StopResult,
    Vin,
)
from sessions import ReportSource, StartConfirmed, StartFailed, StatusReported, StopConfirmed

NO_SOC = 255  # the wire's "state of charge unknown"


def gun_reports(
    heartbeat: Heartbeat, last: dict[int, tuple[int, int]], log: Any
) -> tuple[list[GunReport], bool]:
    """A heartbeat's guns, and whether any gun's status or fault differs from `last` (which
    is brought up to date). A gun with a status v1 does not define is logged and left out."""
    reports = []
    changed = False
    for r in heartbeat.guns:
        key = (r.status, r.fault_code)
        if last.get(r.gun) != key:
            last[r.gun] = key
            changed = True
        status = GUN_STATUS.get(r.status)
        if status is None:
            log.warning("bad_gun_report", gun=r.gun, status=r.status)
            continue
        soc = None if r.soc == NO_SOC else r.soc
        reports.append(GunReport(r.gun, status, r.fault_code or None, r.meter_dwh, r.power_w, soc))
    return reports, changed


def report_event(port: PilePort, m: Message, log: Any) -> None:
    """An event frame (STATUS_CHANGE, START_RESULT, STOP_RESULT, METER_VALUES, VIN, LOGOUT),
    told to the core; the frame is acknowledged whatever the core made of it."""
    if isinstance(m, StatusChange):
        status = GUN_STATUS.get(m.status)
        if status is None:
            log.warning("bad_status", gun=m.gun, status=m.status)
            return
        event = StatusReported(status, m.fault_code or None, source=ReportSource.STATUS_CHANGE)
        port.feed(m.gun, event)
    elif isinstance(m, StartResult):
        if m.result == Result.OK:
            port.feed(m.gun, StartConfirmed(m.transaction_id, m.meter_dwh))
        else:
            reason = "device_fault" if m.fault_code == 98 else result_name(m.result)
            port.feed(m.gun, StartFailed(m.transaction_id, reason, m.fault_code or None))
    elif isinstance(m, StopResult):
        port.feed(m.gun, StopConfirmed(m.meter_dwh, m.transaction_id or None))
    elif isinstance(m, MeterValues):
        soc = None if m.soc == NO_SOC else m.soc
        port.meter(m.gun, m.transaction_id, m.time_ms, m.meter_dwh, m.power_w, soc)
    elif isinstance(m, Vin):
        log.info("vin", gun=m.gun, transaction=m.transaction_id, vin=m.vin)
    elif isinstance(m, Logout):
        log.info(
            "pile_logout",
            gun=m.gun,
            transaction=m.transaction_id,
            reason=stop_reason_name(m.reason),  # by name, as everywhere else
            reason_code=m.reason,
        )
        port.service_ended(m.gun, m.time_ms)


def pile_bill(m: Bill) -> PileBill:
    return PileBill(
        m.transaction_id, m.gun, channel_name(m.channel), m.account, m.authorised_ms,
        m.charge_start_ms, m.charge_end_ms, m.service_end_ms, m.meter_start_dwh,
        m.meter_stop_dwh, m.energy_dwh, m.sharp_dwh, m.peak_dwh, m.flat_dwh, m.valley_dwh,
        m.energy_amount_fen, m.service_amount_fen, m.idle_fee_fen, m.total_amount_fen,
        m.stop_reason, m.vin or None,
    )  # fmt: skip


def bill_ack(transaction_id: str, verdict: BillVerdict | None) -> BillAck:
    """BILL_ACK of a verdict; REJECTED when the bill was not committed (the pile re-sends)."""
    if verdict is None:
        return BillAck(transaction_id, BillAckStatus.REJECTED)
    return BillAck(transaction_id, BILL_ACK_STATUS[verdict.status], verdict.reason_mask)


def auth_result(gun: int, a: Authorisation) -> AuthResult:
    if a.refusal is None and a.transaction_id is not None and a.account is not None:
        return AuthResult(gun, Result.OK, a.transaction_id, a.account, a.balance_fen)
    code = AUTH_RESULT_CODE[a.refusal] if a.refusal is not None else Result.OTHER
    return AuthResult(gun, code, "", "", 0)
