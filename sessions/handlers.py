"""Handlers of the session-event cells of machine.TRANSITIONS (the cell names where each may
move the session).

Each takes (ctx, session, event): the session is the one the event is about (None when the
gun has none), already chosen by step(). Handlers raise SessionError before changing ctx.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import gun
from ._context import Ctx
from .actions import (
    AccountClaimed,
    SendStartCharge,
    SendStopCharge,
    SessionTransition,
    UnmatchedBill,
)
from .errors import AuthorisationRejected, TransactionMismatch
from .events import (
    Authorised,
    BillReceived,
    ServiceEnded,
    StartConfirmed,
    StartFailed,
    StopConfirmed,
    StopRequested,
)
from .refusal import refusal
from .states import Session
from .vocab import CommandState, Flag, Phase, Reason


def _check_tx(s: Session, transaction_id: str | None, event: Any) -> None:
    if transaction_id is not None and transaction_id != s.transaction_id:
        raise TransactionMismatch(s.transaction_id, transaction_id, event)


def _archive(past: tuple[Session, ...], s: Session, limit: int) -> tuple[Session, ...]:
    """Keep the ended session for late bills; drop the oldest terminal ones beyond the limit."""
    items = [*past, s] if s.phase is not Phase.SETTLED else list(past)
    while len(items) > limit:
        oldest_terminal = next((i for i, p in enumerate(items) if p.terminal), None)
        if oldest_terminal is None:
            break  # only CLOSED ones: their own bill-lost timeout bounds them
        del items[oldest_terminal]
    return tuple(items)


# -- a new service ---------------------------------------------------------------------------


def authorise(ctx: Ctx, s: Session | None, ev: Authorised) -> None:
    g = ctx.gun
    refused = refusal(g)
    if refused is not None:
        raise AuthorisationRejected(refused, ev)
    past = g.past if s is None else _archive(g.past, s, ctx.cfg.history_limit)
    new = Session(
        session_id=ev.session_id,
        transaction_id=ev.transaction_id,
        account=ev.account,
        channel=ev.channel,
        phase=Phase.AUTHORISED,
        authorised_ms=ctx.now,
        phase_since_ms=ctx.now,
        reason=Reason.AUTHORISED,
    )
    ctx.update_gun(session=new, past=past)
    ctx.emit(
        AccountClaimed(ev.account, ev.session_id),
        SessionTransition(ev.session_id, None, Phase.AUTHORISED, Reason.AUTHORISED, ctx.now, new),
    )


# -- starting --------------------------------------------------------------------------------


def request_start(ctx: Ctx, s: Session, ev: Any) -> None:
    ctx.move(s, Phase.STARTING, Reason.START_REQUESTED, start_command=CommandState.SENT)
    ctx.emit(SendStartCharge(s.session_id, s.transaction_id, s.account, s.channel))


def start_accepted(ctx: Ctx, s: Session, ev: Any) -> None:
    if s.start_command in (CommandState.NONE, CommandState.SENT):
        ctx.put(replace(s, start_command=CommandState.ACCEPTED))


def start_rejected(ctx: Ctx, s: Session, ev: Any) -> None:
    ctx.move(s, Phase.CANCELLED, Reason.START_REJECTED, start_command=CommandState.REJECTED)


def start_command_timed_out(ctx: Ctx, s: Session, ev: Any) -> None:
    # No stop yet: if the pile starts late, the late start is stopped and alarmed (case 6).
    ctx.move(s, Phase.CANCELLED, Reason.START_COMMAND_TIMEOUT, start_command=CommandState.TIMED_OUT)


def start_confirmed(ctx: Ctx, s: Session, ev: StartConfirmed) -> None:
    _check_tx(s, ev.transaction_id, ev)
    meter = ev.meter_start
    ctx.move(s, Phase.CHARGING, Reason.START_CONFIRMED, charge_start_ms=ctx.now, meter_start=meter)


def start_after_end(ctx: Ctx, s: Session | None, ev: StartConfirmed) -> None:
    """Energy flows although the gateway ended (or never had) the session: cases 2, 4, 6."""
    gun.charging_seen(ctx, s, ev.transaction_id)


def start_failed(ctx: Ctx, s: Session, ev: StartFailed) -> None:
    # Ends the service now, at the gateway's time, even if no logout ever comes (case 1).
    _check_tx(s, ev.transaction_id, ev)
    ctx.move(s, Phase.FAILED, ev.reason)


# -- stopping --------------------------------------------------------------------------------


def cancel_before_charge(ctx: Ctx, s: Session, ev: StopRequested) -> None:
    if s.start_command in (CommandState.SENT, CommandState.ACCEPTED):
        ctx.emit(SendStopCharge(s.transaction_id, ev.reason))
    ctx.move(s, Phase.CANCELLED, ev.reason, stop_reason=ev.reason)


def request_stop(ctx: Ctx, s: Session, ev: StopRequested) -> None:
    ctx.emit(SendStopCharge(s.transaction_id, ev.reason))
    ctx.move(s, Phase.STOPPING, ev.reason, stop_reason=ev.reason, stop_sent_ms=ctx.now)


def stop_acknowledged(ctx: Ctx, s: Session, ev: Any) -> None:
    ctx.put(replace(s, stop_acked=True))


def stop_confirmed(ctx: Ctx, s: Session, ev: StopConfirmed) -> None:
    _check_tx(s, ev.transaction_id, ev)
    reason = s.stop_reason or Reason.PILE_STOPPED
    ctx.move(s, Phase.FINISHED, reason, meter_stop=ev.meter_stop)


def stop_confirmed_no_session(ctx: Ctx, s: Session | None, ev: StopConfirmed) -> None:
    gun.end_rogue(ctx)


# -- end of service --------------------------------------------------------------------------


def service_ended(ctx: Ctx, s: Session, ev: ServiceEnded) -> None:
    ctx.close(s, Reason.SERVICE_ENDED, pile_service_end_ms=ev.pile_time_ms)


def service_ended_before_start(ctx: Ctx, s: Session, ev: ServiceEnded) -> None:
    reason = Reason.UNPLUGGED_BEFORE_START
    ctx.move(s, Phase.CANCELLED, reason, pile_service_end_ms=ev.pile_time_ms)


def service_ended_late(ctx: Ctx, s: Session, ev: ServiceEnded) -> None:
    # Recorded as data only: gateway_service_end_ms stays the gateway's own end (case 1).
    s = ctx.put(replace(s, pile_service_end_ms=ev.pile_time_ms))
    ctx.flag(s, Flag.LATE_LOGOUT)
    gun.end_rogue(ctx)


def service_ended_idle(ctx: Ctx, s: Session | None, ev: ServiceEnded) -> None:
    gun.end_rogue(ctx)  # unplugged: whatever was charging has stopped


# -- bills (the session is the one the bill names, current or past) ---------------------------


def bill_in_charge(ctx: Ctx, s: Session, ev: BillReceived) -> None:
    ctx.move(s, Phase.FINISHED, Reason.BILL_RECEIVED, bill_received_ms=ctx.now)


def bill_before_start(ctx: Ctx, s: Session, ev: BillReceived) -> None:
    ctx.move(s, Phase.SETTLED, Reason.BILL_BEFORE_START, bill_received_ms=ctx.now)


def bill_while_plugged(ctx: Ctx, s: Session, ev: BillReceived) -> None:
    ctx.put(replace(s, bill_received_ms=ctx.now))  # settles once the service closes


def bill_closed(ctx: Ctx, s: Session, ev: BillReceived) -> None:
    ctx.move(s, Phase.SETTLED, Reason.BILL_RECEIVED, bill_received_ms=ctx.now)


def bill_late(ctx: Ctx, s: Session, ev: BillReceived) -> None:
    # Accepted, never dropped; the flag tells billing to cap idle time at the gateway's end
    # (gateway_service_end_ms).
    s = ctx.flag(s, Flag.LATE_BILL)
    ctx.move(s, Phase.SETTLED, Reason.LATE_BILL, bill_received_ms=ctx.now)


def bill_unmatched(ctx: Ctx, s: Session | None, ev: BillReceived) -> None:
    ctx.emit(UnmatchedBill(ev.transaction_id, ctx.now))


def ignore(ctx: Ctx, s: Session | None, ev: Any) -> None:
    """Accepted and harmless: duplicates and replies racing a decision already taken."""
