"""A pile's bill, from frame to acknowledgement: settle it against the tariff and the gateway's
own observation, commit it (durable before acknowledged), then answer BILL_ACK; a late bill
resolves its lost-bill anomaly, keeping the history."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from billing.anomalies import AnomalyCode
from billing.reconcile import settle
from billing.records import GatewayObservation, PileBill
from billing.store import anomaly_mask
from gateway.mapping import channel_name
from protocol import Bill, BillAck, BillAckStatus
from sessions import Phase, Session

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
    end = session.service_end_ms
    idle = None
    if session.charge_end_ms is not None and end is not None:
        idle = max(0, end - session.charge_end_ms)
    return GatewayObservation(
        charge_start_ms=session.charge_start_ms,
        charge_end_ms=session.charge_end_ms,
        energy_dwh=energy,
        idle_ms=idle,
        service_end_ms=end,
        cancelled=session.phase is Phase.CANCELLED
        or (session.end_reason or "").startswith("start_"),
        start_failed=session.phase is Phase.FAILED or session.end_reason == "device_fault",
        meter_samples=tuple(samples),
    )


def pile_bill(m: Bill) -> PileBill:
    return PileBill(
        m.transaction_id, m.gun, channel_name(m.channel), m.account, m.authorised_ms,
        m.charge_start_ms, m.charge_end_ms, m.service_end_ms, m.meter_start_dwh,
        m.meter_stop_dwh, m.energy_dwh, m.sharp_dwh, m.peak_dwh, m.flat_dwh, m.valley_dwh,
        m.energy_amount_fen, m.service_amount_fen, m.idle_fee_fen, m.total_amount_fen,
        m.stop_reason, m.vin or None,
    )  # fmt: skip


async def store_bill(gateway: Gateway, pile: PileRuntime, m: Bill) -> BillAck | None:
    now = gateway.now_ms()
    session = pile.session_for(m.gun, m.transaction_id)
    observation = observation_of(session, pile.samples.get(m.transaction_id, []))
    if session is not None:
        observation = _with_overlaps(gateway, session, observation)
    bill = pile_bill(m)
    try:
        tariff = await gateway.storage.tariff_for(pile.pile_id, m.charge_start_ms)
        idle_rule = await gateway.storage.idle_rule_for(pile.pile_id)
    except Exception as exc:  # database unreachable: nothing stored, so no BILL_ACK
        return _not_stored(gateway, pile, m, exc)
    settlement = settle(bill, observation, tariff, idle_rule, received_ms=now)
    flags = []
    if session is None:
        flags.append("unknown_session")
    elif session.phase is Phase.CANCELLED:
        flags.append("session_cancelled")
    elif session.phase is Phase.FAILED:
        flags.append("session_failed")
    if session is not None:
        flags.extend(sorted(f.value for f in session.flags))
    codes = sorted(int(c) for c in settlement.codes)
    # The status of a copy that is stored (a duplicate is answered DUPLICATE, no event).
    if codes or flags or settlement.findings:
        status = BillAckStatus.FLAGGED
    else:
        status = BillAckStatus.ACCEPTED
    # The `bill` event commits in the bill's own transaction (docs/mqtt.md), never after.
    event = gateway.event(
        "bill",
        pile.pile_id,
        {
            "gun": m.gun,
            "bill_id": None,  # set by storage to the stored row's id
            "transaction_id": m.transaction_id,
            "account": m.account,
            "channel": channel_name(m.channel),
            "energy_dwh": m.energy_dwh,
            "pile_total_fen": m.total_amount_fen,
            "our_total_fen": settlement.our_total_fen,
            "idle_fee_fen": settlement.idle_fee.fee_fen,
            "anomalies": codes,
            "flags": flags,
            "status": status.name.lower(),
        },
        now,
    )
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
        return _not_stored(gateway, pile, m, exc)
    if stored.duplicate:
        status = BillAckStatus.DUPLICATE
    gateway.metrics.bills[status.name.lower()] += 1
    gateway.log.info(
        "bill_stored",
        pile=pile.pile_id,
        gun=m.gun,
        transaction=m.transaction_id,
        bill=stored.bill_id,
        status=status.name.lower(),
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
    return BillAck(m.transaction_id, status, anomaly_mask(settlement.codes))


def _not_stored(gateway: Gateway, pile: PileRuntime, m: Bill, exc: Exception) -> None:
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


def _with_overlaps(
    gateway: Gateway, session: Session, obs: GatewayObservation
) -> GatewayObservation:
    """Other services of the same account that overlapped this one in time (case 2)."""
    start = session.authorised_ms
    end = session.service_end_ms or gateway.now_ms()
    others = []
    for pile in gateway.piles.values():
        for state in pile.guns.values():
            for other in state.sessions():
                if other.account != session.account or other is session:
                    continue
                o_end = other.service_end_ms or gateway.now_ms()
                started = other.charge_start_ms is not None
                if started and other.authorised_ms < end and o_end > start:
                    others.append(other.transaction_id)
    if not others:
        return obs
    return replace(obs, overlapping_transaction_ids=tuple(others))
