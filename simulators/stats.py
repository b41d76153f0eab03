"""Counters and an ack-latency histogram shared by all piles of a run (cheap per sample)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

_GROWTH = 1.02  # bucket width: 2 % relative error on percentiles
_LOG = math.log(_GROWTH)


class LatencyHistogram:
    """Log-bucketed latencies in ms (2 % resolution) with exact count, max and mean."""

    __slots__ = ("buckets", "count", "max_ms", "total_ms")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.max_ms = 0.0
        self.total_ms = 0.0

    def add(self, ms: float) -> None:
        key = -1 if ms <= 0.001 else int(math.log(ms * 1000) / _LOG)  # bucket of microseconds
        self.buckets[key] = self.buckets.get(key, 0) + 1
        self.count += 1
        self.total_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms

    def percentile(self, p: float) -> float:
        """Upper edge of the bucket holding the p-th percentile (0 when empty)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(self.count * p / 100))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                edge = 0.001 if key < 0 else _GROWTH ** (key + 1) / 1000
                return min(edge, self.max_ms)
        return self.max_ms

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0


@dataclass(slots=True)
class FleetStats:
    piles: int = 0
    piles_online: int = 0
    logins: int = 0
    login_rejected: int = 0
    #: The gateway's reasons (Result names, e.g. UNKNOWN_PILE) with their counts.
    login_rejected_why: dict[str, int] = field(default_factory=dict)
    connect_errors: int = 0
    disconnects: int = 0
    reconnects: int = 0
    sessions_started: int = 0
    sessions_completed: int = 0
    start_failures: int = 0
    bills_sent: int = 0
    bills_acked: int = 0  # ACCEPTED, DUPLICATE or FLAGGED
    bills_flagged: int = 0
    bills_duplicate: int = 0
    bills_rejected: int = 0
    bills_resent: int = 0
    bills_lost: int = 0  # dropped by a faulty pile on purpose
    bills_pending: int = 0
    commands: int = 0
    remote_starts: int = 0
    remote_stops: int = 0
    faults_injected: int = 0
    nacks: int = 0
    decode_errors: int = 0
    missed_acks: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("latency")
        d["acks"] = self.latency.count
        d["ack_p50_ms"] = round(self.latency.percentile(50), 3)
        d["ack_p99_ms"] = round(self.latency.percentile(99), 3)
        d["ack_max_ms"] = round(self.latency.max_ms, 3)
        return d
