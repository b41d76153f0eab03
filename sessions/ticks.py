"""Named timeouts: which one is due, its gun-level part, and the table cells it triggers."""

from __future__ import annotations

from dataclasses import replace

from . import gun
from ._context import Ctx
from .actions import RaiseAlarm, SendQueryBills, SendStopCharge
from .states import IN_CHARGE, Session
from .timers import Deadline, Timeout, pending
from .vocab import AlarmKind, Flag, Phase, Reason


def first_due(ctx: Ctx) -> Deadline | None:
    """The earliest deadline at or before now, or None."""
    due = [d for d in pending(ctx.gun) if d.at_ms <= ctx.now]
    return min(due, key=lambda d: d.at_ms) if due else None


def concerned(ctx: Ctx, d: Deadline) -> Session | None:
    """Do the gun's part of a due timeout; return the session whose cell it triggers, if any."""
    if d.timeout is Timeout.OFFLINE:
        ctx.update_gun(offline_expired=True)  # paused timers run again
        return ctx.gun.live_session
    if d.timeout is Timeout.ROGUE_RELEASE:
        gun.end_rogue(ctx)
        return None
    return next(s for s in ctx.gun.sessions() if s.session_id == d.session_id)


# -- cells (ctx, the session, the deadline) ----------------------------------------------------


def start_timed_out(ctx: Ctx, s: Session, d: Deadline) -> None:
    ctx.emit(SendStopCharge(s.transaction_id, Reason.START_TIMEOUT))
    ctx.move(s, Phase.CANCELLED, Reason.START_TIMEOUT)


def charged_too_long(ctx: Ctx, s: Session, d: Deadline) -> None:
    ctx.emit(SendStopCharge(s.transaction_id, Reason.MAX_DURATION))
    reason = Reason.MAX_DURATION
    ctx.move(s, Phase.STOPPING, reason, stop_reason=reason, stop_sent_ms=ctx.now)


def stop_unconfirmed(ctx: Ctx, s: Session, d: Deadline) -> None:
    s = ctx.flag(s, Flag.STOP_NOT_HONOURED)
    cfg = ctx.cfg
    detail = f"no stop confirmation, retry {s.stop_retries} of {cfg.max_stop_retries}"
    ctx.emit(RaiseAlarm(AlarmKind.STOP_NOT_HONOURED, detail, s.session_id))
    if s.stop_retries < cfg.max_stop_retries:
        ctx.emit(SendStopCharge(s.transaction_id, s.stop_reason or Reason.STOP_TIMEOUT))
        ctx.put(replace(s, stop_retries=s.stop_retries + 1, stop_sent_ms=ctx.now))
    else:
        # Give up waiting; if energy still flows once the session is closed, the
        # charging-without-session watch takes over.
        ctx.move(s, Phase.FINISHED, Reason.STOP_TIMEOUT)


def never_unplugged(ctx: Ctx, s: Session, d: Deadline) -> None:
    ctx.close(s, Reason.UNPLUG_TIMEOUT)


def bill_overdue(ctx: Ctx, s: Session, d: Deadline) -> None:
    detail = f"no bill for {s.transaction_id} {ctx.cfg.bill_wait_ms} ms after close"
    ctx.emit(
        RaiseAlarm(AlarmKind.BILL_WAIT_TIMEOUT, detail, s.session_id),
        SendQueryBills((s.transaction_id,)),
    )
    ctx.put(replace(s, bill_wait_alarmed=True))


def bill_lost(ctx: Ctx, s: Session, d: Deadline) -> None:
    flags = [Flag.BILL_LOST, *([Flag.LOST_WHILE_OFFLINE] if ctx.gun.offline else [])]
    s = ctx.flag(s, *flags)
    detail = f"bill for {s.transaction_id} settled as lost"
    ctx.emit(RaiseAlarm(AlarmKind.BILL_LOST, detail, s.session_id))
    ctx.move(s, Phase.SETTLED, Reason.BILL_LOST)


def _offline_alarm(ctx: Ctx, s: Session) -> None:
    detail = f"pile offline, session ended in {s.phase.value}"
    ctx.emit(RaiseAlarm(AlarmKind.OFFLINE_TIMEOUT, detail, s.session_id))


def offline_before_charge(ctx: Ctx, s: Session, d: Deadline) -> None:
    _offline_alarm(ctx, s)
    ctx.move(s, Phase.CANCELLED, Reason.OFFLINE_TIMEOUT)


def offline_after_start(ctx: Ctx, s: Session, d: Deadline) -> None:
    _offline_alarm(ctx, s)
    if s.phase in IN_CHARGE:
        s = ctx.flag(s, Flag.ENDED_OFFLINE)
    ctx.close(s, Reason.OFFLINE_TIMEOUT)
