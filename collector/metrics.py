"""The collector's figures, exposed through prometheus_client from a registry the service owns.

Why plain counters underneath: the ingest counts on the event loop for every frame, and an int
increment costs a fraction of a `Counter.inc()` (which takes a lock). The registry reads them at
scrape time through one custom collector, so the names and kinds are Prometheus' own while the hot
path stays cheap.

Why a registry per service, not prometheus_client's global one: tests and benches run several
collectors in one process, and the global registry refuses a second metric of the same name.

Nothing here does IO at scrape time. Figures about the record (devices online, gaps, active
alarms) and the platform's (open cases, feed backlog) are read from the store by the service's
gauge task every second or so and kept in `store_gauges` / `platform_gauges`; a scrape renders
what was read last, so it never waits behind the store's executor.
"""

from __future__ import annotations

import bisect
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Info, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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

    def family(self, name: str, help_: str) -> HistogramMetricFamily:
        acc, cumulative = 0, []
        for bound, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            cumulative.append((_float_label(bound), acc))
        cumulative.append(("+Inf", self.n))
        return HistogramMetricFamily(name, help_, buckets=cumulative, sum_value=self.total)


def _float_label(v: float) -> str:
    return repr(float(v))


FIXED_REJECT_REASONS = ("unregistered", "topic", "decoder_error", "device_mismatch", "presence_unregistered")
STORE_GAUGE_HELP = {
    "devices": "registered devices",
    "devices_online": "devices online",
    "records_missing": "records missing below their streams' highest seq (gaps)",
    "streams_with_gaps": "streams with at least one missing record",
    "alarms_active": "alarms not cleared",
}

PLATFORM_GAUGE_HELP = {
    "rescue_cases_open": "rescue cases not closed (dispatched, on site or reported)",
    "city_feed_backlog": "items queued for the city feed, not yet accepted by the city",
    "webhook_backlog": "webhook deliveries queued, not yet accepted",
}


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
    # read from the store by the gauge task (never at scrape time); empty until the first read
    store_gauges: dict[str, int] = field(default_factory=dict)
    platform_gauges: dict[str, int] = field(default_factory=dict)
    # values their owners know without IO (queue depth, broker link, the platform's escalations):
    # full name -> ("gauge" or "counter", help, reader)
    live: dict[str, tuple[str, str, Callable[[], float]]] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def families(self) -> Iterator[Metric]:
        def counter(name: str, help_: str, value: int) -> CounterMetricFamily:
            return CounterMetricFamily(name, help_, value=value)

        yield counter("collector_frames_in", "uplink frames received (before checks)", self.frames_in)
        yield counter("collector_records_in", "records in accepted frames", self.records_in)
        yield counter("collector_records_stored", "records newly stored", self.records_stored)
        yield counter("collector_duplicates", "records already stored (re-sent), acknowledged again", self.duplicates)
        yield counter(
            "collector_records_out_of_order", "records stored below their stream's max seq", self.out_of_order
        )
        yield counter("collector_acks_sent", "acknowledgement frames published", self.acks_sent)
        yield counter("collector_batches", "store transactions committed", self.batches)
        yield counter("collector_presence_in", "presence frames applied", self.presence_in)
        yield counter("collector_alarms_raised", "alarm records opened", self.alarms_raised)
        yield counter("collector_alarms_cleared", "alarm records closed", self.alarms_cleared)
        yield counter("collector_orphan_clears", "clears stored before their raise", self.orphan_clears)
        yield counter("collector_mqtt_connects", "MQTT (re)connections", self.mqtt_connects)
        yield counter(
            "collector_backpressure_pauses",
            "times MQTT reading paused because the queue to the store was full",
            self.backpressure_pauses,
        )
        rejected = CounterMetricFamily("collector_frames_rejected", "frames refused, by reason", labels=["reason"])
        # The reasons a frame is refused for that are not a decoding detail start at 0, so a rate is
        # defined from the first scrape; the frame_… and presence_… details appear when first seen.
        for reason, n in sorted({**dict.fromkeys(FIXED_REJECT_REASONS, 0), **self.rejected}.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield self.ingest_lag_s.family("collector_ingest_lag_seconds", "record time (clock-synced) to durable commit")
        yield self.store_latency_s.family("collector_store_commit_seconds", "duration of one store transaction")
        for key, value in list(self.store_gauges.items()):
            yield GaugeMetricFamily(f"collector_{key}", STORE_GAUGE_HELP.get(key, key), value=value)
        for key, value in list(self.platform_gauges.items()):
            yield GaugeMetricFamily(f"platform_{key}", PLATFORM_GAUGE_HELP.get(key, key), value=value)
        for name, (kind, help_, read) in list(self.live.items()):
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            yield family(name, help_, value=read())


class _FromMetrics(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self.metrics.families()


class Exposition:
    """The service's own CollectorRegistry: build info, process figures, the ingest's and platform's."""

    def __init__(self, metrics: Metrics, *, version: str, store_engine: str, namespace: str = "elev_collector") -> None:
        self.metrics = metrics
        self.registry = CollectorRegistry(auto_describe=False)
        build = Info(namespace.removesuffix("_") + "_build", "the collector's release and store engine", registry=None)
        build.info({"version": version, "store_engine": store_engine})
        self.registry.register(build)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu, fds, start time
        self.registry.register(_FromMetrics(metrics))

    def render(self) -> bytes:
        return generate_latest(self.registry)
