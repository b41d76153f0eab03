"""Idle (bay occupation) fee: time from charge end to service end, past a grace period.

The pile's end of service (`pile_service_end_ms`, from its bill) is capped at the gateway's
own (`gateway_service_end_ms`) when the gateway knows one (field case 1).

Billing unit: whole completed minutes (floor) after the grace period, so clock jitter and
acknowledgement latency never cost the driver a minute. Capped per service, never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.tariff import MS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class IdleFeeRule:
    """Per-station rule."""

    grace_minutes: int
    rate_fen_per_minute: int
    cap_fen: int | None = None  # None: uncapped

    def __post_init__(self) -> None:
        if self.grace_minutes < 0 or self.rate_fen_per_minute < 0:
            raise ValueError("grace and rate must be >= 0")
        if self.cap_fen is not None and self.cap_fen < 0:
            raise ValueError("cap must be >= 0")


@dataclass(frozen=True, slots=True)
class IdleFee:
    fee_fen: int
    idle_ms: int  # idle time considered, after clamping to the gateway's known end
    billable_minutes: int
    capped: bool = False
    clamped: bool = False  # pile's service end was later than the gateway's known end
    waived: str | None = None  # why no fee applies at all


def compute_idle_fee(
    rule: IdleFeeRule,
    *,
    charge_end_ms: int,
    pile_service_end_ms: int,
    gateway_service_end_ms: int | None = None,
    start_failed: bool = False,
    cancelled: bool = False,
) -> IdleFee:
    """Idle fee for one service. Failed or gateway-cancelled starts are never charged, and
    idle time never runs past the gateway's own known end (field case 1)."""
    if start_failed:
        return IdleFee(0, 0, 0, waived="start failed")
    if cancelled:
        return IdleFee(0, 0, 0, waived="cancelled by gateway")
    end = pile_service_end_ms
    clamped = gateway_service_end_ms is not None and gateway_service_end_ms < pile_service_end_ms
    if gateway_service_end_ms is not None:
        end = min(end, gateway_service_end_ms)
    idle_ms = max(0, end - charge_end_ms)
    minutes = max(0, idle_ms - rule.grace_minutes * MS_PER_MINUTE) // MS_PER_MINUTE
    fee = minutes * rule.rate_fen_per_minute
    capped = rule.cap_fen is not None and fee > rule.cap_fen
    if rule.cap_fen is not None:
        fee = min(fee, rule.cap_fen)
    return IdleFee(fee, idle_ms, minutes, capped=capped, clamped=clamped)
