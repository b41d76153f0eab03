"""A pile's bill, from its adapter to its verdict: settle it against the tariff and the gateway's
own observation, commit it (durable before acknowledged), then give the verdict the adapter
answers with; a late bill resolves its lost-bill anomaly, keeping the history."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from billing.ack import BillFlag, reason_mask
from billing.anomalies import AnomalyCode
from billing.reconcile import settle
from billing.records import GatewayObservation, PileBill
from gateway.dialect import BillStatus, BillVerdict
from sessions import Flag, Phase, Session

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.runtime import PileRuntime


def observation_of(session: Session | None, samples: list[tuple[int, int]]) -> GatewayObservation:
    if session is None:
        return GatewayObservation()
    energy = None
    # The meter at the stop when the pile reported it; the last sample is minutes older.
    last = session.meter_stop if session.meter_stop is not None else session.last_meter
    if session.meter_start is not None and last is not None:
        energy = max(0, last - session.meter_start)
    end = session.gateway_service_end_ms
    idle = None
    if session.charge_end_ms is not None and end is not None:
        idle = max(0, end - session.charge_end_ms)
    return GatewayObservation(
        charge_start_ms=session.charge_start_ms,
        charge_end_ms=session.charge_end_ms,
        energy_dwh=energy,
        idle_ms=idle,
        gateway_service_end_ms=end,
        cancelled=session.phase is Phase.CANCELLED
        or (session.end_reason or "").startswith("start_"),
        start_failed=session.phase is Phase.FAILED or session.end_reason == "device_fault",
        meter_samples=tuple(samples),
    )


def verdict_status(duplicate: bool, mask: int) -> BillStatus:
    """DUPLICATE for a bill stored before; else FLAGGED exactly when a reason bit is set, so a
    pile never reads FLAGGED with mask 0 (the rule of billing.ack.bill_ack, by name)."""
    if duplicate:
        return BillStatus.DUPLICATE
    return BillStatus.FLAGGED if mask else BillStatus.ACCEPTED


async def store_bill(gateway: Gateway, pile: PileRuntime, m: PileBill) -> BillVerdict | None:
    now = gateway.now_ms()
    session = pile.session_for(m.gun, m.transaction_id)
    observation = observation_of(session, pile.samples.get(m.transaction_id, []))
    bill = m
    try:
        if session is not None:
            observation = await _with_overlaps(gateway, session, observation)
        tariff = await gateway.storage.tariff_for(pile.pile_id, m.charge_start_ms)
        idle_rule = await gateway.storage.idle_rule_for(pile.pile_id)
    except Exception as exc:  # database unreachable: nothing stored, so no BILL_ACK
        _not_stored(gateway, pile, m, exc)
        return None
    max_kw = gateway.config.limits.max_power_kw_for(pile.info.model)  # per model (§4.11)
    settlement = settle(bill, observation, tariff, idle_rule, received_ms=now, max_power_kw=max_kw)
    flags: list[str] = []
    if session is None:
        flags.append(BillFlag.UNKNOWN_SESSION.value)
    elif session.phase is Phase.CANCELLED:
        flags.append(BillFlag.SESSION_CANCELLED.value)
    elif session.phase is Phase.FAILED:
        flags.append(BillFlag.SESSION_FAILED.value)
    if session is not None:
        marks = {f.value for f in session.flags}
        if session.phase in (Phase.CANCELLED, Phase.FAILED):
            # The session gets this flag once the bill is committed; the ack says it now.
            marks.add(Flag.LATE_BILL.value)
        flags.extend(sorted(marks))
    codes = sorted(int(c) for c in settlement.codes)
    # Every reason for FLAGGED has a bit the pile can read (§4.10): never FLAGGED with mask 0.
    mask = reason_mask(settlement.findings, flags)
    status = verdict_status(False, mask)
    payload = {
        "gun": m.gun,
        "bill_id": None,  # set by storage to the stored row's id
        "transaction_id": m.transaction_id,
        "account": m.account,
        "channel": m.channel,
        "energy_dwh": m.energy_dwh,
        "pile_total_fen": m.total_amount_fen,
        "our_total_fen": settlement.our_total_fen,
        "idle_fee_fen": settlement.idle_fee.fee_fen,
        "anomalies": codes,
        "flags": flags,
        "status": status.value,  # of a copy that is stored
    }
    # The `bill` event commits in the bill's own transaction (docs/mqtt.md), never after.
    event = gateway.event("bill", pile.pile_id, payload, now)
    try:
        stored = await gateway.storage.store_bill(
            pile.pile_id,
            bill,
            settlement,
            received_ms=now,
            session_id=session.session_id if session is not None else None,
            flags=tuple(flags),
            event=event,
        )
    except Exception as exc:
        _not_stored(gateway, pile, m, exc)
        return None
    if stored.duplicate:  # answered DUPLICATE; no second event
        status = verdict_status(True, mask)
    gateway.metrics.bills[status.value] += 1
    gateway.log.info(
        "bill_stored",
        pile=pile.pile_id,
        gun=m.gun,
        transaction=m.transaction_id,
        bill=stored.bill_id,
        status=status.value,
        energy_dwh=m.energy_dwh,
        pile_total_fen=m.total_amount_fen,
        our_total_fen=settlement.our_total_fen,
        idle_fee_fen=settlement.idle_fee.fee_fen,
        anomalies=codes,
        flags=flags,
    )
    if not stored.duplicate:
        if session is not None and session.bill_wait_alarmed:
            await _resolve_lost_bill(gateway, session.session_id, stored.bill_id, now)
        pile.bill_committed(m)
        # Committed: the console sees it now (MQTT gets it from the outbox row stored with it).
        gateway.notify_live("bill", pile.pile_id, {**payload, "bill_id": stored.bill_id}, now)
    return BillVerdict(status, mask, stored.bill_id)


def _not_stored(gateway: Gateway, pile: PileRuntime, m: PileBill, exc: Exception) -> None:
    """The pile keeps the bill and sends it again (protocol §9.1)."""
    gateway.metrics.bills["failed"] += 1
    gateway.log.error(
        "bill_not_stored", pile=pile.pile_id, transaction=m.transaction_id, error=repr(exc)[:300]
    )


async def _resolve_lost_bill(gateway: Gateway, session_id: str, bill_id: str, now_ms: int) -> None:
    await gateway.storage.flush()  # the anomaly may still be queued in the writer
    for anomaly in await gateway.storage.anomalies(session_id=session_id, status="open"):
        if anomaly.code in (AnomalyCode.BILL_LOST, AnomalyCode.BILL_LOST_OFFLINE):
            await gateway.storage.resolve_anomaly(
                anomaly.anomaly_id, at_ms=now_ms, who="gateway", note=f"late bill {bill_id}"
            )


async def _with_overlaps(
    gateway: Gateway, session: Session, obs: GatewayObservation
) -> GatewayObservation:
    """Other services of the same account that drew energy while this one ran (case 2), from
    the database: services on other gateway instances count, and no pile is scanned."""
    now = gateway.now_ms()
    start = session.authorised_ms
    late_open = session.late_charge_start_ms is not None and session.late_charge_end_ms is None
    if session.live or late_open or session.gateway_service_end_ms is None:
        end = now
    else:  # the service, and any charge the pile drew for it after the gateway ended it
        end = max(session.gateway_service_end_ms, session.late_charge_end_ms or 0)
    await gateway.storage.flush()  # this process's latest session rows are still queued
    others = await gateway.storage.overlapping_sessions(
        session.account, session.session_id, start, max(end, start + 1)
    )
    if not others:
        return obs
    return replace(obs, overlapping_transaction_ids=tuple(o.transaction_id for o in others))
