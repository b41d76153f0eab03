"""Counters the gateway keeps in memory, and their Prometheus text exposition (the admin
API's /metrics, format 0.0.4)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    """A Prometheus histogram: cumulative buckets (upper bounds in seconds), sum and count."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        out, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


@dataclass(slots=True)
class Metrics:
    connections: int = 0
    logins: int = 0
    # by message name, as the dialect's adapter names them ("heartbeat", "bill", ...)
    frames_in: Counter[str] = field(default_factory=Counter)
    frames_out: Counter[str] = field(default_factory=Counter)
    decode_errors: dict[str, int] = field(default_factory=dict)
    commands: Counter[str] = field(default_factory=Counter)
    bills: Counter[str] = field(default_factory=Counter)  # stored, duplicate, flagged, failed
    alarms: Counter[str] = field(default_factory=Counter)
    journal_dropped: int = 0
    # seconds from a pile frame's arrival to the gateway's answer, by message type name
    # (BILL: durable commit before BILL_ACK); see observe_ack
    ack_latency: dict[str, Histogram] = field(default_factory=dict)

    def observe_ack(self, name: str, seconds: float) -> None:
        h = self.ack_latency.get(name)
        if h is None:
            h = self.ack_latency[name] = Histogram()
        h.observe(seconds)

    def frame_in(self, name: str) -> None:
        self.frames_in[name] += 1

    def frame_out(self, name: str) -> None:
        self.frames_out[name] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "logins": self.logins,
            "frames_in": dict(self.frames_in),
            "frames_out": dict(self.frames_out),
            "decode_errors": dict(self.decode_errors),
            "commands": dict(self.commands),
            "bills": dict(self.bills),
            "alarms": dict(self.alarms),
            "journal_dropped": self.journal_dropped,
        }


# --- Prometheus text exposition -------------------------------------------------------------


def _esc(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


def _num(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


class Exposition:
    """Builds the text format: one HELP/TYPE header per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, Any], float]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_num(value)}")

    def histogram(
        self, name: str, help_text: str, series: Iterable[tuple[Mapping[str, Any], Histogram]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} histogram")
        for labels, h in series:
            for bound, n in h.cumulative():
                le = "+Inf" if math.isinf(bound) else repr(bound)
                self.lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {n}")
            self.lines.append(f"{name}_sum{_labels(labels)} {_num(float(h.sum))}")
            self.lines.append(f"{name}_count{_labels(labels)} {h.count}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


BILL_STATUSES = ("stored", "flagged", "duplicate", "failed")


def render_prometheus(
    metrics: Metrics,
    *,
    piles: Mapping[str, Any] | None = None,
    phases: Iterable[str] = (),
    writer: Any = None,
    outbox_depth: int | None = None,
    anomalies_open: Iterable[tuple[str, int | None, int]] = (),
    mqtt_connected: bool | None = None,
) -> str:
    """The exposition of the gateway's counters plus live state: `piles` (pile id ->
    PileRuntime, for sessions by phase and piles online), `writer` (the storage writer's
    WriterStats), the outbox depth, open anomalies (kind, code, count) and the MQTT link."""
    e = Exposition()
    e.family("pilegate_up", "gauge", "The gateway is running.", [({}, 1)])
    e.family("pilegate_connections", "gauge", "Open pile connections.", [({}, metrics.connections)])
    e.family("pilegate_logins_total", "counter", "Pile logins accepted.", [({}, metrics.logins)])
    frames = [({"direction": "in", "type": t}, n) for t, n in sorted(metrics.frames_in.items())] + [
        ({"direction": "out", "type": t}, n) for t, n in sorted(metrics.frames_out.items())
    ]
    e.family("pilegate_frames_total", "counter", "Frames by direction and type.", frames)
    e.family(
        "pilegate_decode_errors_total",
        "counter",
        "Undecodable frames by kind.",
        [({"kind": k}, n) for k, n in sorted(metrics.decode_errors.items())],
    )
    commands = []
    for key, n in sorted(metrics.commands.items()):
        name, _, result = key.partition(":")
        commands.append(({"command": name, "result": result or "unknown"}, n))
    e.family("pilegate_commands_total", "counter", "Operator commands by result.", commands)
    bills = {s: 0 for s in BILL_STATUSES}
    for status, n in metrics.bills.items():
        key = "stored" if status == "accepted" else status
        bills[key] = bills.get(key, 0) + n
    e.family(
        "pilegate_bills_total",
        "counter",
        "Bills received by outcome (stored, flagged, duplicate, failed).",
        [({"status": s}, n) for s, n in bills.items()],
    )
    e.family(
        "pilegate_alarms_total",
        "counter",
        "Alarms raised by kind.",
        [({"kind": k}, n) for k, n in sorted(metrics.alarms.items())],
    )
    e.family(
        "pilegate_anomalies_open",
        "gauge",
        "Open anomalies in the database by kind and code.",
        [({"kind": k, "code": "" if c is None else c}, n) for k, c, n in anomalies_open],
    )
    e.family(
        "pilegate_journal_dropped_total",
        "counter",
        "Journal frames dropped by the gateway.",
        [({}, metrics.journal_dropped)],
    )
    if piles is not None:
        by_phase = dict.fromkeys(phases, 0)
        online = 0
        guns = 0
        for pile in piles.values():
            online += bool(getattr(pile, "online", False))
            for state in pile.guns.values():
                guns += 1
                s = state.session
                if s is not None:
                    phase = getattr(s.phase, "value", str(s.phase))
                    by_phase[phase] = by_phase.get(phase, 0) + 1
        e.family(
            "pilegate_piles",
            "gauge",
            "Piles known to this gateway process, and online.",
            [({"state": "known"}, len(piles)), ({"state": "online"}, online)],
        )
        e.family("pilegate_guns", "gauge", "Guns of the known piles.", [({}, guns)])
        e.family(
            "pilegate_sessions",
            "gauge",
            "Live gun sessions by phase.",
            [({"phase": p}, n) for p, n in sorted(by_phase.items())],
        )
    e.histogram(
        "pilegate_ack_latency_seconds",
        "Seconds from a pile frame's arrival to the gateway's answer, by message type.",
        [({"type": t}, h) for t, h in sorted(metrics.ack_latency.items())],
    )
    if writer is not None:
        batches = int(getattr(writer, "batches", 0))
        items = int(getattr(writer, "items", 0))
        e.family("pilegate_db_batches_total", "counter", "Committed batches.", [({}, batches)])
        e.family("pilegate_db_items_total", "counter", "Committed submissions.", [({}, items)])
        e.family(
            "pilegate_db_batch_size_mean",
            "gauge",
            "Mean submissions per committed batch.",
            [({}, round(items / batches, 3) if batches else 0.0)],
        )
        e.family(
            "pilegate_db_batch_size_max",
            "gauge",
            "Largest committed batch.",
            [({}, int(getattr(writer, "largest_batch", 0)))],
        )
        for attr, help_text in (
            ("bills", "Bill submissions committed (new and duplicates)."),
            ("duplicates", "Duplicate bills."),
            ("journal", "Journal frames written."),
            ("failed_batches", "Batches whose commit failed."),
            ("retried", "Items put back after a failed batch."),
            ("outages", "Database outages begun (the writer could not reach the database)."),
            ("backlogs", "Times the held rows reached their bound and piles were paused."),
        ):
            e.family(
                f"pilegate_db_{attr}_total",
                "counter",
                help_text,
                [({}, int(getattr(writer, attr, 0)))],
            )
        lost = getattr(writer, "lost", {}) or {}
        e.family(
            "pilegate_db_lost_total",
            "counter",
            "Rows not kept, by kind: refused by the database on every retry, or still held "
            "when the gateway stopped during an outage.",
            [({"kind": k}, n) for k, n in sorted(lost.items())],
        )
        for name, help_text, value in (
            (
                "pilegate_db_pending_rows",
                "Rows accepted and not yet committed (held through a database outage).",
                int(getattr(writer, "pending", 0)),
            ),
            (
                "pilegate_db_pending_rows_limit",
                "Held rows at which piles stop being read (back-pressure).",
                int(getattr(writer, "max_pending", 0)),
            ),
            (
                "pilegate_db_outage",
                "1 while the database is unreachable.",
                int(bool(getattr(writer, "outage", False))),
            ),
            (
                "pilegate_db_backpressure",
                "1 while pile connections are not read because of the held rows.",
                int(bool(getattr(writer, "backlog", False))),
            ),
        ):
            e.family(name, "gauge", help_text, [({}, value)])
        e.family(
            "pilegate_db_outage_seconds_total",
            "counter",
            "Total length of the database outages that ended.",
            [({}, round(float(getattr(writer, "outage_seconds", 0.0)), 3))],
        )
        for attr in ("commit_latency", "batch_latency", "commit_seconds"):
            h = getattr(writer, attr, None)
            if isinstance(h, Histogram):
                e.histogram("pilegate_db_commit_seconds", "Seconds per batch commit.", [({}, h)])
                break
        sizes = getattr(writer, "batch_sizes", None)
        if isinstance(sizes, Histogram):
            e.histogram("pilegate_db_batch_rows", "Submissions per committed batch.", [({}, sizes)])
    if outbox_depth is not None:
        e.family(
            "pilegate_outbox_depth",
            "gauge",
            "Outbox messages not yet published.",
            [({}, outbox_depth)],
        )
    if mqtt_connected is not None:
        e.family(
            "pilegate_mqtt_connected",
            "gauge",
            "1 when the MQTT bridge is connected.",
            [({}, 1 if mqtt_connected else 0)],
        )
    return e.text()
