"""What each named timeout does when a Tick finds it due."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from . import gun
from ._context import Ctx
from .actions import RaiseAlarm, SendQueryBills, SendStopCharge
from .events import Tick
from .states import IN_CHARGE, PRE_START, Session
from .timers import Deadline, Timeout, pending
from .vocab import AlarmKind, Flag, Phase, Reason

# Every firing disarms its timeout or re-arms it strictly later, so this bound is never
# reached in practice; it only guarantees step() returns.
_MAX_FIRINGS = 256


def tick(ctx: Ctx, ev: Tick) -> None:
    for _ in range(_MAX_FIRINGS):
        due = [d for d in pending(ctx.gun) if d.at_ms <= ctx.now]
        if not due:
            return
        first = min(due, key=lambda d: d.at_ms)
        _FIRE[first.timeout](ctx, first)


def _session(ctx: Ctx, d: Deadline) -> Session:
    return next(s for s in ctx.gun.sessions() if s.session_id == d.session_id)


def _start(ctx: Ctx, d: Deadline) -> None:
    s = _session(ctx, d)
    ctx.emit(SendStopCharge(s.transaction_id, Reason.START_TIMEOUT))
    ctx.move(s, Phase.CANCELLED, Reason.START_TIMEOUT)


def _max_charge(ctx: Ctx, d: Deadline) -> None:
    s = _session(ctx, d)
    ctx.emit(SendStopCharge(s.transaction_id, Reason.MAX_DURATION))
    reason = Reason.MAX_DURATION
    ctx.move(s, Phase.STOPPING, reason, stop_reason=reason, stop_sent_ms=ctx.now)


def _stop(ctx: Ctx, d: Deadline) -> None:
    s = ctx.flag(_session(ctx, d), Flag.STOP_NOT_HONOURED)
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


def _unplug(ctx: Ctx, d: Deadline) -> None:
    ctx.close(_session(ctx, d), Reason.UNPLUG_TIMEOUT)


def _bill_wait(ctx: Ctx, d: Deadline) -> None:
    s = _session(ctx, d)
    detail = f"no bill for {s.transaction_id} {ctx.cfg.bill_wait_ms} ms after close"
    ctx.emit(
        RaiseAlarm(AlarmKind.BILL_WAIT_TIMEOUT, detail, s.session_id),
        SendQueryBills((s.transaction_id,)),
    )
    ctx.put(replace(s, bill_wait_alarmed=True))


def _bill_lost(ctx: Ctx, d: Deadline) -> None:
    s = _session(ctx, d)
    flags = [Flag.BILL_LOST, *([Flag.LOST_WHILE_OFFLINE] if ctx.gun.offline else [])]
    s = ctx.flag(s, *flags)
    detail = f"bill for {s.transaction_id} settled as lost"
    ctx.emit(RaiseAlarm(AlarmKind.BILL_LOST, detail, s.session_id))
    ctx.move(s, Phase.SETTLED, Reason.BILL_LOST)


def _offline(ctx: Ctx, d: Deadline) -> None:
    ctx.update_gun(offline_expired=True)
    s = ctx.gun.live_session
    if s is None:
        return
    detail = f"pile offline, session ended in {s.phase.value}"
    ctx.emit(RaiseAlarm(AlarmKind.OFFLINE_TIMEOUT, detail, s.session_id))
    if s.phase in PRE_START:
        ctx.move(s, Phase.CANCELLED, Reason.OFFLINE_TIMEOUT)
    else:
        if s.phase in IN_CHARGE:
            s = ctx.flag(s, Flag.ENDED_OFFLINE)
        ctx.close(s, Reason.OFFLINE_TIMEOUT)


def _rogue_release(ctx: Ctx, d: Deadline) -> None:
    gun.end_rogue(ctx)


_FIRE: dict[Timeout, Callable[[Ctx, Deadline], None]] = {
    Timeout.START: _start,
    Timeout.MAX_CHARGE: _max_charge,
    Timeout.STOP: _stop,
    Timeout.UNPLUG: _unplug,
    Timeout.BILL_WAIT: _bill_wait,
    Timeout.BILL_LOST: _bill_lost,
    Timeout.OFFLINE: _offline,
    Timeout.ROGUE_RELEASE: _rogue_release,
}
