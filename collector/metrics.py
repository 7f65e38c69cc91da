"""Prometheus text exposition for the few figures the collector keeps; no client library needed.

Counters and histograms live in this process (each collector process of a shared subscription
reports its own share); gauges about the record (devices online, missing records) are read from
the store at scrape time so every process reports the same truth.
"""

from __future__ import annotations

import bisect
from collections import defaultdict, deque
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(slots=True)
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def render(self, name: str) -> list[str]:
        out, acc = [], 0
        for bound, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            out.append(f'{name}_bucket{{le="{bound}"}} {acc}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


@dataclass(slots=True)
class Metrics:
    frames_in: int = 0
    records_in: int = 0
    records_stored: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    acks_sent: int = 0
    batches: int = 0
    presence_in: int = 0
    alarms_raised: int = 0
    alarms_cleared: int = 0
    orphan_clears: int = 0
    mqtt_connects: int = 0
    backpressure_pauses: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ingest_lag_s: Histogram = field(default_factory=Histogram)
    store_latency_s: Histogram = field(default_factory=Histogram)
    last_lag_s: float = 0.0
    lag_samples_s: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # for quantiles

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def render(self, gauges: dict[str, int]) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[str]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(samples)

        def counter(name: str, help_: str, value: int) -> None:
            metric(name, "counter", help_, [f"{name} {value}"])

        counter("collector_frames_in_total", "uplink frames received (before checks)", self.frames_in)
        counter("collector_records_in_total", "records in accepted frames", self.records_in)
        counter("collector_records_stored_total", "records newly stored", self.records_stored)
        counter("collector_duplicates_total", "records already stored (re-sent), acknowledged again", self.duplicates)
        counter(
            "collector_records_out_of_order_total", "records stored below their stream's max seq", self.out_of_order
        )
        counter("collector_acks_sent_total", "acknowledgement frames published", self.acks_sent)
        counter("collector_batches_total", "store transactions committed", self.batches)
        counter("collector_presence_in_total", "presence frames applied", self.presence_in)
        counter("collector_alarms_raised_total", "alarm records opened", self.alarms_raised)
        counter("collector_alarms_cleared_total", "alarm records closed", self.alarms_cleared)
        counter("collector_orphan_clears_total", "clears stored before their raise", self.orphan_clears)
        counter("collector_mqtt_connects_total", "MQTT (re)connections", self.mqtt_connects)
        metric(
            "collector_frames_rejected_total",
            "counter",
            "frames refused, by reason",
            [f'collector_frames_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(self.rejected.items())]
            or ['collector_frames_rejected_total{reason="none"} 0'],
        )
        metric(
            "collector_ingest_lag_seconds",
            "histogram",
            "record time (clock-synced) to durable commit",
            self.ingest_lag_s.render("collector_ingest_lag_seconds"),
        )
        metric(
            "collector_store_commit_seconds",
            "histogram",
            "duration of one store transaction",
            self.store_latency_s.render("collector_store_commit_seconds"),
        )
        gauge_help = {
            "devices": "registered devices",
            "devices_online": "devices online",
            "records_missing": "records missing below their streams' highest seq (gaps)",
            "streams_with_gaps": "streams with at least one missing record",
            "alarms_active": "alarms not cleared",
        }
        for key, value in gauges.items():
            metric(f"collector_{key}", "gauge", gauge_help.get(key, key), [f"collector_{key} {value}"])
        return "\n".join(lines) + "\n"
