"""Item pipelines, in order: normalise, topics, dedupe, store (see DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import StatsCollector
from sqlalchemy.exc import SQLAlchemyError

from crawler import options, resources
from crawler.items import ArticleItem
from crawler.memory import release_free_memory
from crawler.preparation import (
    count_truncated,
    hash_content,
    is_kept,
    match_topics,
    normalise,
    record,
)
from crawler.signals import entries_rejected, store_failed
from crawler.workers import WorkerPool
from storage.articles import store_articles
from storage.db import Database
from storage.exceptions import StorageError
from storage.fingerprints import Fingerprint, fingerprints
from storage.records import DEFAULT_DEDUPE, ArticleRecord, DedupeSettings, SeenEntry
from storage.sightings import record_rejected

log = logging.getLogger("newswatch.store")

# An article whose fingerprint is still to be computed (None is "too short to judge").
_UNPRINTED = object()

# Crawl stats key prefix of the new articles per topic: "newswatch/articles_new_topic/NAME".
NEW_BY_TOPIC_STAT = "newswatch/articles_new_topic/"


class NormalisePipeline:
    """Canonicalise the URL, tidy the text, cap the title, and drop impossible dates."""

    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalisePipeline:
        """Count truncated titles in the crawl's stats."""
        return cls(crawler.stats)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Return the item in normal form."""
        if item.prepared:
            return item
        cut = normalise(item)
        if cut is not None:
            count_truncated(item.source_name, item.url, cut, self.stats)
        return item


class TopicsPipeline:
    """Match the topic queries; mark items that match none (the store records them)."""

    def __init__(
        self, topics: Sequence[options.TopicRule], feeds: Mapping[str, options.FeedOptions]
    ) -> None:
        self.topics = tuple(topics)
        self.feeds = feeds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TopicsPipeline:
        """Read the topic rules and per-feed options from the settings."""
        return cls(
            crawler.settings.get(options.TOPICS) or (),
            crawler.settings.get(options.FEEDS) or {},
        )

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Record which topics match and the terms that made them match."""
        if not item.prepared:
            opts = self.feeds.get(item.source_name, options.DEFAULT_FEED_OPTIONS)
            match_topics(item, self.topics, opts)
        return item


class DedupePipeline:
    """Hash the content and drop repeats of one entry within a crawl.

    Later rungs of the ladder (canonical URL, content hash across sources and crawls)
    are settled by the store inside its transaction, where unique constraints make the
    answer right even with a concurrent writer.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[int, str]] = set()

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Return the item with its content hash, or drop it if this crawl had it."""
        key = (item.source_id, item.entry_key)
        if key in self._seen:
            raise DropItem(f"repeated entry {item.entry_key}", log_level="DEBUG")
        self._seen.add(key)
        if not item.prepared:
            hash_content(item)
        return item


class StorePipeline:
    """Write items in batches, off the event loop, with idempotent upserts."""

    def __init__(
        self,
        database: Database,
        batch_size: int,
        topics_configured: bool,
        feeds: Mapping[str, options.FeedOptions],
        stats: StatsCollector,
        signals: SignalManager,
        dedupe: DedupeSettings = DEFAULT_DEDUPE,
        pool: WorkerPool | None = None,
    ) -> None:
        self.database = database
        self.pool = pool
        self.dedupe = dedupe
        self.signals = signals
        self.batch_size = batch_size
        self.topics_configured = topics_configured
        self.feeds = feeds
        self.stats = stats
        self._articles: list[ArticleRecord] = []
        # Each article's fingerprint, or _UNPRINTED when its item was not prepared.
        self._prints: list[Fingerprint | object | None] = []
        self._rejected: list[SeenEntry] = []
        self._writing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        """Take the shared database and the batch size from the settings."""
        assert crawler.stats is not None
        pipeline = cls(
            resources.database(crawler),
            crawler.settings.getint(options.STORE_BATCH, 200),
            bool(crawler.settings.get(options.TOPICS)),
            crawler.settings.get(options.FEEDS) or {},
            crawler.stats,
            crawler.signals,
            crawler.settings.get(options.DEDUPE) or DEFAULT_DEDUPE,
            resources.worker_pool(crawler),
        )
        crawler.signals.connect(pipeline.reject, signal=entries_rejected)
        return pipeline

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        """Queue the item; write the queue when it is full."""
        opts = self.feeds.get(item.source_name, options.DEFAULT_FEED_OPTIONS)
        if not is_kept(item, opts, self.topics_configured):
            # Remembered without its content, so a re-poll does not fetch its page again.
            await self.reject([SeenEntry(item.source_id, item.entry_key, item.url)])
            raise DropItem(f"off-topic: {item.url}", log_level="DEBUG")
        self._articles.append(record(item))
        self._prints.append(item.fingerprint if item.prepared else _UNPRINTED)
        if len(self._articles) + len(self._rejected) >= self.batch_size:
            await self._hand_off()
        return item

    async def reject(self, entries: Sequence[SeenEntry]) -> None:
        """Queue entries that are not kept (the spider sends those it prepared itself)."""
        self._rejected.extend(entries)
        self.stats.inc_value("newswatch/entries_off_topic", len(entries))
        if len(self._articles) + len(self._rejected) >= self.batch_size:
            await self._hand_off()

    async def close_spider(self) -> None:
        """Write what is left before the spider records its checks."""
        await self._hand_off(last=True)
        if self._writing is not None:
            await self._writing

    async def _hand_off(self, last: bool = False) -> None:
        """Start writing the queue, after the previous batch, if any, is written.

        One batch is written (in a thread) while the next one fills, so matching and
        writing overlap; waiting for the previous batch keeps memory bounded. Items of
        several responses arrive at once: another may have started a write while this
        one waited, so wait until none is running. Otherwise two writes would run, and
        the spider close would wait for the last one only, recording checks (and new
        validators) before the other's articles were written. Once the wait is over,
        another may have taken the queue: what is left waits for a full batch (or the
        `last` one), or the next writes would be of a few items each, as many
        transactions for a fraction of the rows.
        """
        while self._writing is not None and not self._writing.done():
            await self._writing
        if not last and len(self._articles) + len(self._rejected) < self.batch_size:
            return
        articles, self._articles = self._articles, []
        prints, self._prints = self._prints, []
        rejected, self._rejected = self._rejected, []
        if articles or rejected:
            self._writing = asyncio.ensure_future(self._write(articles, prints, rejected))

    async def _write(
        self,
        articles: list[ArticleRecord],
        prints: list[Fingerprint | object | None],
        rejected: list[SeenEntry],
    ) -> None:
        """Write one batch in one transaction per kind; report a failure, never raise."""
        now = datetime.now(UTC)
        try:
            found = await self._fingerprints(articles, prints)
            stats = await asyncio.to_thread(
                store_articles, self.database, articles, now, self.dedupe, found
            )
            if rejected:
                await asyncio.to_thread(record_rejected, self.database, rejected, now)
            # What the batch and the responses behind it held is free now; without this the
            # daemon keeps the heap of a poll's busiest moment (see crawler.memory).
            await asyncio.to_thread(release_free_memory)
        except (StorageError, SQLAlchemyError) as exc:
            sources = {a.source_id for a in articles} | {r.source_id for r in rejected}
            log.error("store failed sources=%s error=%s", sorted(sources), exc)
            await self.signals.send_catch_log_async(
                store_failed, source_ids=sources, error=str(exc)
            )
            return
        self.stats.inc_value("newswatch/articles_new", stats.new)
        self.stats.inc_value("newswatch/articles_duplicate", stats.duplicates)
        self.stats.inc_value("newswatch/articles_known", stats.known)
        self.stats.inc_value("newswatch/articles_near_duplicate", stats.near_duplicates)
        self.stats.inc_value("newswatch/articles_updated", stats.updated)
        for topic, count in stats.new_by_topic.items():
            self.stats.inc_value(f"{NEW_BY_TOPIC_STAT}{topic}", count)

    async def _fingerprints(
        self, articles: list[ArticleRecord], prints: list[Fingerprint | object | None]
    ) -> list[Fingerprint | None] | None:
        """Return each article's fingerprint, computing those its item did not bring.

        The MinHash of each article is the costly part: in the worker pool, it leaves this
        process's one core to the downloads and the other items.
        """
        missing = [i for i, fp in enumerate(prints) if fp is _UNPRINTED]
        if missing and self.pool is None:
            return None  # store_articles computes them all
        computed = (
            await self.pool.run(fingerprints, [articles[i] for i in missing], self.dedupe)
            if self.pool is not None and missing
            else []
        )
        found = list(prints)
        for index, fp in zip(missing, computed, strict=True):
            found[index] = fp
        return cast(list[Fingerprint | None], found)
