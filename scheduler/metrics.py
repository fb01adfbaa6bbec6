"""Prometheus metrics of the daemon, fed by the crawls' own signals and stats.

`CrawlMetrics` is a Scrapy extension: every crawl the daemon's runner starts (feed polls
and site crawls) reports to the one `Metrics` object given in the settings, from the
signals the spiders already send (`feed_checked`, `store_failed`, Scrapy's
`response_received`) and, when the crawl closes, from its stats. No counter is bumped
anywhere else, except the export job's runs (`Metrics.export_runs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.fetching import FEED_REQUEST
from crawler.pipelines import NEW_BY_TOPIC_STAT
from crawler.signals import feed_checked, store_failed
from storage.records import CheckResult, SourceState

# The Scrapy setting that carries the Metrics object into each crawl.
METRICS_SETTING = "NEWSWATCH_METRICS"
# Download latency buckets, in seconds: local feeds answer in milliseconds, slow news
# sites in seconds, and network.timeout caps the rest (30 s by default).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# Crawl stats read when a crawl closes, and the `outcome` label each one counts under.
_STORED = {
    "newswatch/articles_new": "new",
    "newswatch/articles_duplicate": "duplicate",
    "newswatch/articles_near_duplicate": "near_duplicate",
    "newswatch/articles_updated": "updated",
    "newswatch/entries_off_topic": "off_topic",
}


class Metrics:
    """The daemon's metrics, in a registry of their own (no process-wide globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "newswatch_polls",
            "Feed checks, by HTTP status (none: no response arrived).",
            ["status"],
            registry=r,
        )
        self.articles_new = Counter(
            "newswatch_articles_new",
            "New articles stored, by topic matched (an article may match several).",
            ["topic"],
            registry=r,
        )
        self.entries = Counter(
            "newswatch_entries",
            "Entries handled by the store, by outcome: new, duplicate (known URL or text: "
            "a new sighting), near_duplicate, updated, off_topic.",
            ["outcome"],
            registry=r,
        )
        self.errors = Counter(
            "newswatch_errors",
            "Failed feed checks and writes, by kind: http (an error status), network "
            "(no response), parse (not a usable feed), store (a write failed).",
            ["kind"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "newswatch_fetch_seconds",
            "Download latency of responses, by kind: feed or page.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.waiting = Gauge(
            "newswatch_due_sources_waiting",
            "Feeds due at the last claim that no daemon had claimed yet.",
            registry=r,
        )
        self.tick_age = Gauge(
            "newswatch_last_tick_age_seconds",
            "Seconds since this daemon's poll tick last began or ended a batch.",
            registry=r,
        )
        self.export_runs = Counter(
            "newswatch_export_runs",
            "Daily export runs, by export name and outcome: written, skipped (another "
            "daemon holds the export's lock), failed.",
            ["export", "outcome"],
            registry=r,
        )

    def watch(self, waiting: Callable[[], float], tick_age: Callable[[], float]) -> None:
        """Read the gauges from the daemon when scraped."""
        self.waiting.set_function(waiting)
        self.tick_age.set_function(tick_age)

    def settings(self) -> dict[str, Any]:
        """Return the Scrapy settings that make every crawl report here."""
        return {
            METRICS_SETTING: self,
            "EXTENSIONS": {f"{CrawlMetrics.__module__}.{CrawlMetrics.__name__}": 500},
        }

    def __deepcopy__(self, memo: dict[int, object]) -> Metrics:
        # Scrapy deep-copies its settings per crawler; the metrics are shared, not copied.
        return self


class CrawlMetrics:
    """The Scrapy extension that reports one crawl's signals and stats to `Metrics`."""

    def __init__(self, crawler: Crawler, metrics: Metrics) -> None:
        self.crawler = crawler
        self.metrics = metrics

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMetrics:
        """Connect to the crawl's signals; disabled when no Metrics object is set."""
        metrics = crawler.settings.get(METRICS_SETTING)
        if not isinstance(metrics, Metrics):
            raise NotConfigured("no metrics endpoint")
        extension = cls(crawler, metrics)
        crawler.signals.connect(extension.feed_checked, signal=feed_checked)
        crawler.signals.connect(extension.store_failed, signal=store_failed)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def feed_checked(self, source: SourceState, result: CheckResult) -> None:
        """Count the check by status, and its error by kind."""
        self.metrics.polls.labels(status=str(result.status or "none")).inc()
        if result.error is not None:
            self.metrics.errors.labels(kind=error_kind(result)).inc()

    def store_failed(self, source_ids: set[int], error: str) -> None:
        """Count a batch that could not be written."""
        self.metrics.errors.labels(kind="store").inc()

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        """Observe the download latency Scrapy measured for this response."""
        latency = request.meta.get("download_latency")
        if latency is None:
            return
        kind = "feed" if request.meta.get(FEED_REQUEST) else "page"
        self.metrics.fetch_seconds.labels(kind=kind).observe(float(latency))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Add the crawl's store outcomes, overall and per topic."""
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        for key, outcome in _STORED.items():
            if count := int(stats.get(key, 0)):
                self.metrics.entries.labels(outcome=outcome).inc(count)
        for key, count in stats.items():
            if isinstance(key, str) and key.startswith(NEW_BY_TOPIC_STAT) and count:
                self.metrics.articles_new.labels(topic=key[len(NEW_BY_TOPIC_STAT) :]).inc(count)


def error_kind(result: CheckResult) -> str:
    """Return the kind of a failed check: http, network or parse."""
    if result.status is None:
        return "network"
    if result.status >= 400:
        return "http"
    return "parse"
