"""Gun-level events, accepted in every phase: status reports, meter, offline/online, enable;
and the handlers of the table's reported-status and reconnect cells (machine.TRANSITIONS).

Also the "charging without a session" watch (cases 2, 4, 6): what the pile reports wins over
what the gateway believes, so energy on a gun with no live session is stopped at once and
the gun's last account is held again while it flows.
"""

from __future__ import annotations

from dataclasses import replace

from ._context import Ctx
from .actions import (
    AccountClaimed,
    AccountReleased,
    RaiseAlarm,
    SendQueryBills,
    SendStopCharge,
    StatusConfirmed,
)
from .events import (
    Disabled,
    Enabled,
    MeterSample,
    PileLoggedIn,
    PileOffline,
    PileOnline,
    StatusReported,
)
from .states import IN_CHARGE, LIVE, RogueCharge, Session
from .vocab import AlarmKind, Flag, GunStatus, Phase, Reason

# A report as the table's status cells read it: status, fault_code, meter.
Report = StatusReported | PileOnline

# A cancelled start the pile may still honour later (case 6).
_LATE_START_REASONS = frozenset({Reason.START_TIMEOUT, Reason.START_COMMAND_TIMEOUT})


def _reclaimable(s: Session | None) -> bool:
    """Whose account is charging if this gun reports energy now: the last session's."""
    if s is None:
        return False
    if s.phase in (Phase.CANCELLED, Phase.FAILED):
        return True
    return s.phase is Phase.CLOSED and s.end_reason == Reason.OFFLINE_TIMEOUT


# -- status reports --------------------------------------------------------------------------


def observe(ctx: Ctx, status: GunStatus, fault_code: int | None, meter: int | None) -> None:
    """The gun's part of a report: statuses, fault confirmation, meter, the end of a charge
    without a session. What it does to the session is the table's (machine.TRANSITIONS)."""
    cfg = ctx.cfg
    before = ctx.gun
    streak = before.fault_streak + 1 if status is GunStatus.FAULTED else 0
    fault_believed = status is GunStatus.FAULTED and streak >= cfg.fault_confirm_samples
    fault_confirmed_now = status is GunStatus.FAULTED and streak == cfg.fault_confirm_samples
    ctx.update_gun(reported=status, fault_streak=streak, fault_code=fault_code)

    s = ctx.gun.session
    sid = s.session_id if s is not None else None
    # Users are told confirmed changes only; a lone fault sample is not one (case 3).
    if (status is not GunStatus.FAULTED or fault_believed) and status is not before.confirmed:
        ctx.update_gun(confirmed=status)
        ctx.emit(StatusConfirmed(status, before.confirmed, ctx.now, sid))
    if fault_confirmed_now:
        ctx.emit(RaiseAlarm(AlarmKind.FAULT, f"fault code {fault_code}", sid))

    if s is not None and s.phase in LIVE and meter is not None:
        ctx.put(replace(s, last_meter=meter))
    if status is GunStatus.CHARGING:
        return
    unconfirmed_fault = status is GunStatus.FAULTED and not fault_believed
    if status is not GunStatus.SUSPENDED and not unconfirmed_fault:
        end_rogue(ctx)


# Cells of reported statuses. r is the report: a StatusReported, or the PileOnline that
# reconciles after a reconnect; ctx.gun already reflects it (observe ran first).


def start_by_status(ctx: Ctx, s: Session, r: Report) -> None:
    # The pile may never send its start message (case 2): the report is the confirmation.
    reason = Reason.START_CONFIRMED_BY_STATUS
    ctx.move(s, Phase.CHARGING, reason, charge_start_ms=ctx.now, meter_start=r.meter)


def charging_unattributed(ctx: Ctx, s: Session | None, r: Report) -> None:
    charging_seen(ctx, s, None)


def fault_before_start(ctx: Ctx, s: Session, r: Report) -> None:
    cfg = ctx.cfg
    believed = ctx.gun.fault_streak >= cfg.fault_confirm_samples
    if r.fault_code in cfg.start_fault_codes or believed:
        ctx.move(s, Phase.FAILED, Reason.DEVICE_FAULT)  # case 1: no logout needed


def fault_in_charge(ctx: Ctx, s: Session, r: Report) -> None:
    if ctx.gun.fault_streak == ctx.cfg.fault_confirm_samples:  # confirmed by this report
        ctx.move(s, Phase.FINISHED, Reason.DEVICE_FAULT)


def unplugged(ctx: Ctx, s: Session, r: Report) -> None:
    ctx.close(s, Reason.UNPLUGGED)


def pile_finished(ctx: Ctx, s: Session, r: Report) -> None:
    ctx.move(s, Phase.FINISHED, s.stop_reason or Reason.PILE_FINISHED)


def pile_stopped(ctx: Ctx, s: Session, r: Report) -> None:
    ctx.move(s, Phase.FINISHED, s.stop_reason or Reason.PILE_STOPPED)


def still_charging(ctx: Ctx, s: Session, r: Report) -> None:
    stop_not_honoured(ctx, s)


def stop_not_honoured(ctx: Ctx, s: Session) -> None:
    """Count CHARGING reports after a stop; every N of them alarm, re-send while retries last."""
    cfg = ctx.cfg
    count = s.charging_reports_since_stop + 1
    if count < cfg.stop_not_honoured_reports:
        ctx.put(replace(s, charging_reports_since_stop=count))
        return
    s = ctx.flag(s, Flag.STOP_NOT_HONOURED)
    detail = f"still charging after stop, retry {s.stop_retries} of {cfg.max_stop_retries}"
    ctx.emit(RaiseAlarm(AlarmKind.STOP_NOT_HONOURED, detail, s.session_id))
    if s.stop_retries < cfg.max_stop_retries:
        ctx.emit(SendStopCharge(s.transaction_id, s.stop_reason or Reason.STOP_NOT_HONOURED))
        s = replace(s, stop_retries=s.stop_retries + 1, stop_sent_ms=ctx.now)
    ctx.put(replace(s, charging_reports_since_stop=0))


# -- charging without a live session ---------------------------------------------------------


def charging_seen(ctx: Ctx, s: Session | None, transaction_id: str | None) -> None:
    """The gun charges but no live session exists: stop at the first sample, alarm, re-claim."""
    rogue = ctx.gun.rogue
    if rogue is not None:
        _rogue_again(ctx, rogue)
        return
    reclaim = _reclaimable(s)
    sid = s.session_id if s is not None else None
    tx = transaction_id or (s.transaction_id if s is not None and reclaim else None)
    where = f"last session {sid} is {s.phase.value}" if s is not None else "no session"
    ctx.emit(RaiseAlarm(AlarmKind.CHARGING_WITHOUT_SESSION, f"gun charging; {where}", sid))
    late = False
    if s is not None and s.phase is Phase.CANCELLED and s.end_reason in _LATE_START_REASONS:
        late = True
        detail = f"pile started after {s.end_reason}"
        ctx.emit(RaiseAlarm(AlarmKind.START_LATE_AFTER_TIMEOUT, detail, sid))
    ctx.emit(SendStopCharge(tx, Reason.CHARGING_WITHOUT_SESSION))
    account = None
    if s is not None and reclaim:
        # One account, one active service — against what the pile does (case 2).
        account = s.account
        ctx.emit(AccountClaimed(s.account, s.session_id))
        s = ctx.flag(s, Flag.OVERLAP, *([Flag.LATE_START] if late else []))
        # The account's charge period runs on: billing finds overlaps with it (code 7).
        ctx.put(
            replace(
                s,
                late_charge_start_ms=ctx.now,
                late_charge_end_ms=None,
                late_charge_seen_ms=ctx.now,
                late_charge_reports=0,
                late_charge_stop_retries=0,
            )
        )
    ctx.update_gun(rogue=RogueCharge(ctx.now, ctx.now, tx, sid, account))


def _rogue_again(ctx: Ctx, r: RogueCharge) -> None:
    cfg = ctx.cfg
    count = r.reports_since_stop + 1
    retries = r.stop_retries
    if count >= cfg.stop_not_honoured_reports:
        detail = f"still charging without a session, retry {retries} of {cfg.max_stop_retries}"
        ctx.emit(RaiseAlarm(AlarmKind.STOP_NOT_HONOURED, detail, r.session_id))
        if retries < cfg.max_stop_retries:
            ctx.emit(SendStopCharge(r.transaction_id, Reason.CHARGING_WITHOUT_SESSION))
            retries += 1
        count = 0
    rogue = replace(r, last_seen_ms=ctx.now, reports_since_stop=count, stop_retries=retries)
    ctx.update_gun(rogue=rogue)
    held = _held_for(ctx, r)
    if held is not None:
        ctx.put(
            replace(
                held,
                late_charge_seen_ms=ctx.now,
                late_charge_reports=count,
                late_charge_stop_retries=retries,
            )
        )


def _held_for(ctx: Ctx, r: RogueCharge) -> Session | None:
    """The ended session whose account a charge without a session holds, if any."""
    if r.account is None or r.session_id is None:
        return None
    return next((x for x in ctx.gun.sessions() if x.session_id == r.session_id), None)


def end_rogue(ctx: Ctx) -> None:
    r = ctx.gun.rogue
    if r is None:
        return
    if r.account is not None and r.session_id is not None:
        ctx.emit(AccountReleased(r.account, r.session_id))
    held = _held_for(ctx, r)
    if held is not None and held.late_charge_end_ms is None:
        ctx.put(replace(held, late_charge_end_ms=ctx.now))
    ctx.update_gun(rogue=None)


# -- other gun events ------------------------------------------------------------------------


def meter_sample(ctx: Ctx, ev: MeterSample) -> None:
    s = ctx.gun.live_session
    if s is not None:
        ctx.put(replace(s, last_meter=ev.meter))


def pile_offline(ctx: Ctx, ev: PileOffline) -> None:
    if not ctx.gun.offline:
        ctx.update_gun(offline_since_ms=ctx.now, offline_expired=False)


def pile_logged_in(ctx: Ctx, ev: PileLoggedIn) -> None:
    """Reachable again: new services may start before the pile's first report arrives."""
    ctx.update_gun(offline_since_ms=None, offline_expired=False)


def pile_online(ctx: Ctx, ev: PileOnline) -> None:
    """Its first report after a login: reachable again (the table reconciles the session)."""
    ctx.update_gun(offline_since_ms=None, offline_expired=False)


def ended_while_offline(ctx: Ctx, s: Session, ev: PileOnline) -> None:
    """The pile's first report after a reconnect says the charge (or service) ended meanwhile."""
    if ev.status is GunStatus.AVAILABLE:
        ctx.close(s, Reason.ENDED_WHILE_OFFLINE)
    elif s.phase in IN_CHARGE and ev.status in (GunStatus.FINISHING, GunStatus.PREPARING):
        ctx.move(s, Phase.FINISHED, Reason.ENDED_WHILE_OFFLINE)


def query_owed_bills(ctx: Ctx) -> None:
    owed = tuple(
        x.transaction_id
        for x in ctx.gun.sessions()
        if x.phase in (Phase.FINISHED, Phase.CLOSED) and x.bill_received_ms is None
    )
    if owed:
        ctx.emit(SendQueryBills(owed))


def disable(ctx: Ctx, ev: Disabled) -> None:
    ctx.update_gun(disabled=True)  # a live session runs on; new ones are refused (case 8)


def enable(ctx: Ctx, ev: Enabled) -> None:
    ctx.update_gun(disabled=False)
