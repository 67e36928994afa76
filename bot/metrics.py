"""Prometheus metrics: what this process counted (posts read, API errors, job durations) and, at each
scrape, what the database holds (complaints, cards and replies by state, the oldest waiting row).

The database figures are read at scrape time through `bot.queries.metrics_snapshot`, so they always match
the database (several replicas report the same figures); the process counters are this replica's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    """Exposes the last database snapshot handed to it (set just before each scrape renders)."""

    def __init__(self) -> None:
        self.data: Mapping[str, Any] = {}

    def collect(self) -> Iterator[Metric]:
        d = self.data
        for name, key, label, doc in (
            ("kemala_complaints", "complaints", "status", "Complaints in the database by status."),
            ("kemala_cards", "cards", "state", "Card outbox rows (cards, photos, follow-ups, notices) by state."),
            ("kemala_replies", "replies", "state", "Reply outbox rows by state (posted, rejected, unknown, ...)."),
        ):
            g = GaugeMetricFamily(name, doc, labels=[label])
            for value, n in sorted(d.get(key, {}).items()):
                g.add_metric([value], n)
            yield g
        g = GaugeMetricFamily("kemala_outbox_oldest_pending_seconds",
                              "Age of the oldest row still waiting to be sent, per outbox (0 when none waits).",
                              labels=["outbox"])
        for outbox, age in sorted(d.get("oldest_pending_seconds", {}).items()):
            g.add_metric([outbox], age)
        yield g
        yield GaugeMetricFamily("kemala_posts_parked", "Posts that could not be stored and wait for a retry.",
                                value=d.get("parked_posts", 0))
        yield GaugeMetricFamily("kemala_groups_parked", "Agency groups the bot was removed from.",
                                value=d.get("parked_groups", 0))
        yield GaugeMetricFamily("kemala_x_paused", "1 while reading X is paused (401, 402, usage cap).",
                                value=1 if d.get("x_paused") else 0)


class Metrics:
    """One registry per Services (tests build many desks in one process: no global registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.posts_read = Counter("kemala_x_posts_read", "Posts returned by X reads (search and mentions).",
                                  registry=self.registry)
        self.api_errors = Counter("kemala_api_errors", "Failed calls to X or Telegram by service and code "
                                  "(the HTTP status, or 'network' when no answer came).", ["service", "code"],
                                  registry=self.registry)
        self.job_seconds = Histogram("kemala_job_duration_seconds", "Duration of each scheduled job run.",
                                     ["job"], registry=self.registry,
                                     buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.commands_throttled = Counter("kemala_commands_throttled", "Commands from outside the desk's groups "
                                          "dropped by the per-user rate limit.", registry=self.registry)
        self.webhook_refused = Counter("kemala_webhook_refused", "Webhook requests refused for a missing or "
                                       "wrong secret token.", registry=self.registry)
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)

    def api_error(self, service: str, code: int | str | None) -> None:
        self.api_errors.labels(service, "network" if code is None else str(code)).inc()

    def render(self, snapshot: Mapping[str, Any]) -> bytes:
        self._snapshot.data = snapshot
        return generate_latest(self.registry)
