"""Polling feeds: config in, crawls through one AsyncCrawlerRunner, a summary out."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings

from crawler import collector, options
from crawler.memory import release_free_memory
from crawler.resolver import install_resolver
from crawler.signals import feed_checked
from crawler.spiders.feeds import FeedSpider
from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.config import Config
from scheduler.leases import Leases
from scheduler.site_crawls import SiteProgress, SiteSummary, crawl_sites
from storage.db import Database
from storage.exceptions import StorageError
from storage.records import CheckResult, SourceSpec, SourceState, TopicSpec
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

log = logging.getLogger("newswatch.poller")
T = TypeVar("T")

ProgressCallback = Callable[[SourceState, CheckResult], None]

# On PostgreSQL a tick claims at most this many due feeds per request slot, then claims
# again when that batch is done: several daemons share a backlog instead of one taking
# all of it. SQLite has one daemon, which takes every due feed at once: a batch ends
# with its slowest feed, so fewer, larger batches drain a backlog faster (measured with
# bench/scaleout.py: 400 feeds in 22 s as one batch, 28 s in batches of 64).
CLAIM_PER_SLOT = 4
# How long a stop waits for a tick's last database step (see Poller.stop).
STOP_WAIT_S = 20


@dataclass(frozen=True, slots=True)
class PollSummary:
    """What one poll did, in the terms `newswatch poll` prints."""

    feeds: int
    fetched: int
    not_modified: int
    failed: int
    new: int
    duplicates: int
    off_topic: int
    near_duplicates: int = 0
    updated: int = 0

    @classmethod
    def from_stats(cls, feeds: int, stats: dict[str, Any]) -> PollSummary:
        """Read the summary from a crawl's stats."""

        def get(key: str) -> int:
            return int(stats.get(f"newswatch/{key}", 0))

        return cls(
            feeds=feeds,
            fetched=get("feeds_fetched"),
            not_modified=get("feeds_not_modified"),
            failed=get("feeds_failed"),
            new=get("articles_new"),
            duplicates=get("articles_duplicate"),
            off_topic=get("entries_off_topic"),
            near_duplicates=get("articles_near_duplicate"),
            updated=get("articles_updated"),
        )


def http_settings(config: Config) -> Settings:
    """Return the Scrapy settings every request obeys: user agent, limits, timeouts."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "USER_AGENT": config.daemon.user_agent,
            "CONCURRENT_REQUESTS": config.daemon.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": config.daemon.per_host,
            "DOWNLOAD_TIMEOUT": config.network.timeout_s,
            "DOWNLOAD_MAXSIZE": config.network.max_bytes,
            options.ALLOW_PRIVATE: config.network.allow_private,
            # The daemon logs one line per event; Scrapy's multi-line dumps are noise.
            "STATS_DUMP": False,
        },
        priority="cmdline",
    )
    return settings


def crawler_runner(settings: Settings) -> AsyncCrawlerRunner:
    """Return a runner whose every connection obeys `network.allow_private`.

    A runner, unlike `scrapy crawl`, leaves the reactor's resolver alone: install ours,
    on the asyncio reactor (installed first if need be, before anything imports another).
    """
    loop.event_loop()
    install_resolver(settings)
    return AsyncCrawlerRunner(settings)


def scrapy_settings(config: Config, database: Database, pool: WorkerPool) -> Settings:
    """Return the Scrapy settings for this config, with the shared resources."""
    feeds = {feed.name: _same_fields(options.FeedOptions, feed) for feed in config.feeds}
    # The pipelines read a source's topics and keep_unmatched from here too.
    for site in config.sites:
        feeds[site.name] = options.FeedOptions(
            topics=site.topics, keep_unmatched=site.keep_unmatched
        )
    sites = {site.name: _same_fields(options.SiteOptions, site) for site in config.sites}
    settings = http_settings(config)
    settings.setdict(
        {
            options.DATABASE: database,
            options.WORKER_POOL: pool,
            options.TOPICS: topic_rules(config),
            options.MAX_INTERVAL: config.polling.max_interval_s,
            options.MIN_INTERVAL: config.polling.min_interval_s,
            options.DISABLE_AFTER: config.polling.disable_after_s or 0,
            options.DEDUPE: config.dedupe,
            options.FEEDS: options.Shared(feeds),
            options.SITES: options.Shared(sites),
        },
        priority="cmdline",
    )
    return settings


def _same_fields(cls: type[T], source: object) -> T:
    """Return a `cls` dataclass made of the source's attributes of the same names."""
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: getattr(source, name) for name in names})


def topic_rules(config: Config) -> tuple[options.TopicRule, ...]:
    """Return the crawler's view of the configured topics."""
    return tuple(
        options.TopicRule(t.name, t.parsed, languages=t.languages, sources=t.sources)
        for t in config.topics
    )


def sync_config(config: Config, database: Database) -> None:
    """Make the sources and topics tables match the config."""
    now = datetime.now(UTC)
    specs = [
        SourceSpec(f.name, "feed", f.url, enabled=f.enabled, interval_s=f.interval_s)
        for f in config.feeds
    ]
    specs += [
        SourceSpec(s.name, "site", s.url, enabled=s.enabled, interval_s=s.interval_s)
        for s in config.sites
    ]
    sync_sources(database, specs, config.polling.default_interval_s, now)
    sync_topics(database, [TopicSpec(t.name, t.query) for t in config.topics], now)


class Poller:
    """Run feed crawls on one runner; one poller per process."""

    def __init__(
        self,
        config: Config,
        database: Database,
        pool: WorkerPool,
        extra_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.database = database
        self.pool = pool
        self.extra_settings = dict(extra_settings or {})
        self.runner = crawler_runner(self._settings(config))
        shared = database.dialect == "postgresql"
        batch = config.daemon.concurrency * CLAIM_PER_SLOT if shared else None
        self.leases = Leases(database, config.daemon.lease_s, batch)
        # time.monotonic() when a tick last began or ended a batch; None: no tick yet.
        self.last_tick: float | None = None
        self._stopping = False
        self._ticking = False
        self._again = False  # a reload made feeds due while a tick ran: look once more

    def apply(self, config: Config) -> None:
        """Use `config` from the next crawl on; crawls already running keep theirs."""
        self.config = config
        # The runner stays (one per process, DESIGN.md); its settings are what
        # create_crawler() copies into each new Crawler (Crawler.__init__ takes
        # settings.copy()), so new ones reach the next crawl and no running one. A Crawler
        # built here with its own settings would get the runner's merged in as defaults
        # by crawl() (Scrapy 2.19): two sources of settings for one crawl.
        self.runner.settings = self._settings(config)
        install_resolver(self.runner.settings)  # network.allow_private may have changed

    def _settings(self, config: Config) -> Settings:
        """Return the crawl settings for `config`, with the extra component settings."""
        settings = scrapy_settings(config, self.database, self.pool)
        for key, value in self.extra_settings.items():
            # Component dicts (EXTENSIONS, ...) add to the project's, never replace them.
            merged = {**settings.getdict(key), **value} if isinstance(value, dict) else value
            settings.set(key, merged, priority="cmdline")
        return settings

    async def due(self, names: Sequence[str] | None = None) -> list[SourceState]:
        """Claim a batch of the feeds due now, or return the named feeds, due or not.

        The claimed feeds must be polled inside `self.leases.held(...)`, which releases
        them; the named ones are not claimed (`newswatch poll NAME` is a user's request).
        """
        if names is None:
            return await self.leases.claim()
        now = datetime.now(UTC)
        return await asyncio.to_thread(due_sources, self.database, now, ("feed",), names)

    async def poll(
        self, sources: Sequence[SourceState], progress: ProgressCallback | None = None
    ) -> PollSummary:
        """Crawl these feeds once and return what happened."""
        if not sources:
            return PollSummary.from_stats(0, {})
        crawler = self.runner.create_crawler(FeedSpider)
        if progress is not None:
            crawler.signals.connect(
                lambda source, result: progress(source, result), signal=feed_checked, weak=False
            )
        await self.runner.crawl(crawler, sources=sources)
        # The crawl's objects are freed now, not when the oldest generation is next
        # collected (crawler.collector), and what they held goes back to the system, not
        # at the next store batch: a daemon idles between polls at its low mark.
        collector.after_crawl()
        await asyncio.to_thread(release_free_memory)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        summary = PollSummary.from_stats(len(sources), stats)
        log.info(
            "poll done feeds=%d fetched=%d not_modified=%d failed=%d new=%d duplicates=%d"
            " near_duplicates=%d updated=%d",
            summary.feeds,
            summary.fetched,
            summary.not_modified,
            summary.failed,
            summary.new,
            summary.duplicates,
            summary.near_duplicates,
            summary.updated,
        )
        return summary

    async def tick(self) -> None:
        """Poll every feed that is due, a claimed batch at a time; the timer calls this."""
        self._ticking = True
        try:
            while not self._stopping:
                self.last_tick = time.monotonic()
                self._again = False
                try:
                    sources = await self.due()
                except StorageError as exc:
                    # The database is away (storage retried already): the next tick asks.
                    log.warning("tick skipped error=%s", exc)
                    break
                async with self.leases.held(sources):
                    # A stop may have begun while the feeds were claimed: start no crawl.
                    if sources and not self._stopping:
                        await self.poll(sources)
                # A short batch was all that was due (to this daemon): the tick is done.
                short = self.leases.batch is None or len(sources) < self.leases.batch
                if short and not self._again:
                    break
        finally:
            self._ticking = False
        self.last_tick = time.monotonic()

    def wake(self) -> bool:
        """Have a running tick look for due feeds once more before it ends; return
        whether a tick was running (if not, the caller starts one)."""
        self._again = self._ticking
        return self._ticking

    async def crawl_sites(
        self, names: Sequence[str], progress: SiteProgress | None = None, *, claim: bool = False
    ) -> SiteSummary:
        """Run the named sites' spiders once now and return what they did; with `claim`,
        only those whose run no other daemon has taken (see `crawl_sites`)."""
        return await crawl_sites(
            self.config, self.database, self.runner, names, progress, claim=claim
        )

    async def site_job(self, name: str) -> None:
        """Crawl one site; the scheduler's cron or interval job for that site calls this."""
        # A reload may have removed or disabled the site since the job fired.
        wanted = any(site.name == name and site.enabled for site in self.config.sites)
        if not wanted or self._stopping:
            return
        try:
            await self.crawl_sites([name], claim=True)
        except StorageError as exc:
            log.warning("site crawl skipped source=%s error=%s", name, exc)

    async def stop(self) -> None:
        """Stop running crawls, letting their pipelines write what they have."""
        self._stopping = True
        # Scrapy forgets a stop that comes while a crawl is still starting (its engine
        # not running yet): the crawl then runs to its end but never completes, and the
        # join below would wait forever. So wait until each crawl's engine runs, or the
        # crawl is over, before asking it to stop.
        for crawler in list(self.runner.crawlers):
            while crawler in self.runner.crawlers and not _engine_running(crawler):
                await asyncio.sleep(0.05)
        await self.runner.stop()
        await self.runner.join()
        # A tick caught between two crawls (claiming or releasing its feeds) ends at its
        # next step; shutting the scheduler down first would cancel it there, and its
        # feeds would stay leased. A database that does not answer is not waited for
        # past STOP_WAIT_S: the leases then run out, as after a crash.
        deadline = time.monotonic() + STOP_WAIT_S
        while self._ticking and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def _engine_running(crawler: Crawler) -> bool:
    # `Crawler.engine` raises until the crawl has created it; Scrapy's documented way to
    # look before that is the underscored attribute.
    engine = crawler._engine
    return engine is not None and bool(engine.running)
