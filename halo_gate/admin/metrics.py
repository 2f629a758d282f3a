"""``GET /_halo/metrics``: Prometheus text from prometheus-client.

The gauges and the admission, denial and release counters are read from the store at scrape
time, so every worker answers the same installation-wide figures and the counters survive
worker restarts without a multiprocess directory. The time this process's licence decisions
took, and the counters the gateway registers in ``worker_counters`` (store errors, breaker
trips...), are this process's own and carry a ``worker`` label (host and process id).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.responses import Response

from .. import pages
from ..licensing import LicenceEngine

RELEASE_CAUSES = ("logout", "idle", "max_age", "admin", "unassigned", "session_cap", "harvested")
LICENCES = ("named", "concurrent")
DENIAL_REASONS = ("pool_full", "group_cap", "queue_full", "no_licence")
# Decision latency buckets (seconds): a script call is well under a millisecond on a near store.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Snapshot(Collector):
    """The figures of one scrape, gathered beforehand (collect() cannot await the store)."""

    def __init__(self, metrics: list[Metric], histogram: Histogram) -> None:
        self.metrics = metrics
        self.histogram = histogram

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics
        yield from self.histogram.collect()


class Metrics:
    """One worker's metrics endpoint; it also times the engine's decisions."""

    def __init__(self, engine: LicenceEngine) -> None:
        self.engine = engine
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.decisions = Histogram(
            "halo_gate_decision_seconds",
            "Time one licence decision took in this worker (one store round trip).",
            ["worker"],
            buckets=BUCKETS,
            registry=None,
        )
        self._timer = self.decisions.labels(worker=self.worker)
        engine.timer = self._timer.observe
        # This worker's own counters registered by the gateway (its circuit breaker, sign-ins
        # given up): name -> (help text, current value).
        self.worker_counters: dict[str, tuple[str, Callable[[], int]]] = {}

    async def response(self) -> Response:
        usage = await self.engine.usage()
        counts = await self.engine.counters()
        metrics: list[Metric] = []
        for name, text, value in (
            ("concurrent_seats", "Slots in the concurrent pool.", usage.concurrent_seats),
            ("concurrent_in_use", "Concurrent slots held now.", usage.in_use),
            ("named_seats", "Named seats.", usage.named_seats),
            ("named_assigned", "Named seats assigned to a person.", usage.named_assigned),
            ("named_active", "Named people with a live session.", usage.named_active),
            ("named_quarantined", "Named seats cooling down.", usage.named_quarantined),
            ("queue_length", "People waiting in line for a concurrent slot.", usage.queue_length),
            (
                "queue_longest_wait_seconds",
                "How long the person at the head of the line has waited.",
                usage.queue_longest_wait,
            ),
        ):
            metrics.append(GaugeMetricFamily(f"halo_gate_{name}", text, value=value))
        for name, text, figure in (
            ("group_reserved", "Pool slots reserved for a group's members.", "reserved"),
            ("group_cap", "The most pool slots a group's members may hold.", "cap"),
            ("group_in_use", "Pool slots a group's members hold now.", "in_use"),
        ):
            group_family = GaugeMetricFamily(f"halo_gate_{name}", text, labels=["group"])
            for group, figures in usage.groups.items():
                if (value := getattr(figures, figure)) is not None:
                    group_family.add_metric([group], value)
            metrics.append(group_family)
        for name, text, label, prefix, known in (
            ("admissions", "Sessions admitted.", "licence", "admitted:", LICENCES),
            ("denials", "Admissions refused, by reason.", "reason", "denied:", DENIAL_REASONS),
            ("releases", "Sessions closed, by cause.", "cause", "released:", RELEASE_CAUSES),
        ):
            family = CounterMetricFamily(f"halo_gate_{name}", text, labels=[label])
            values = {key[len(prefix) :]: n for key, n in counts.items() if key.startswith(prefix)}
            for value in sorted({*known, *values}):
                family.add_metric([value], values.get(value, 0))
            metrics.append(family)
        for name, (text, read) in self.worker_counters.items():
            counter = CounterMetricFamily(f"halo_gate_{name}", text, labels=["worker"])
            counter.add_metric([self.worker], read())
            metrics.append(counter)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(metrics, self.decisions))
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers=pages.NO_STORE,
        )
