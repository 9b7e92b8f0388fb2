"""Prometheus metrics of the workers, on the service's registry (shown at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from server.observability import Metrics


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "outbox_events_published_total", "Outbox events the bus acknowledged", registry=registry
        )
        self.consumed = Counter(
            "events_consumed_total",
            "Events handled by a consumer, by outcome (ok | dead_letter)",
            ["consumer", "outcome"],
            registry=registry,
        )
        self.pruned = Counter(
            "event_rows_pruned_total",
            "Rows deleted by retention, by table (outbox | processed_events | activity)",
            ["table"],
            registry=registry,
        )
        self.alerts = Counter(
            "deadline_alerts_total", "Deadline alerts emitted by the scheduler", registry=registry
        )
        self.tick_seconds = Histogram(
            "scheduler_tick_seconds",
            "Duration of a deadline scheduler tick",
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


def worker_metrics(metrics: Metrics) -> WorkerMetrics:
    """The worker metrics of this process's registry, made once (workers may start again)."""
    found = metrics.groups.get("workers")
    if found is None:
        found = metrics.groups["workers"] = WorkerMetrics(metrics.registry)
    return found
