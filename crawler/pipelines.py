"""Item pipelines, in order: normalise, topics, dedupe, store (see DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import StatsCollector
from sqlalchemy.exc import SQLAlchemyError

from crawler import options, resources
from crawler.fingerprints import content_hash
from crawler.items import ArticleItem
from crawler.page_meta import FUTURE_SLACK
from crawler.signals import store_failed
from crawler.text import clean_text, shorten
from crawler.topics import prepare_text
from crawler.urls import canonical_url
from crawler.workers import WorkerPool
from storage.articles import fingerprints, store_articles
from storage.db import Database
from storage.exceptions import StorageError
from storage.records import DEFAULT_DEDUPE, ArticleRecord, DedupeSettings, SeenEntry
from storage.sightings import record_rejected

log = logging.getLogger("newswatch.store")

# Crawl stats key prefix of the new articles per topic: "newswatch/articles_new_topic/NAME".
NEW_BY_TOPIC_STAT = "newswatch/articles_new_topic/"


# Longer than any headline (Mastodon posts, the longest titles some feeds carry, stop at
# 500); a feed that puts a whole document in <title> gets it cut here, with a warning.
MAX_TITLE_CHARS = 1000


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
        item.canonical_url = canonical_url(item.canonical_url or item.url)
        item.title = clean_text(item.title)
        if len(item.title) > MAX_TITLE_CHARS:
            log.warning(
                "title truncated source=%s url=%s chars=%d limit=%d",
                item.source_name,
                item.url,
                len(item.title),
                MAX_TITLE_CHARS,
            )
            item.title = shorten(item.title, MAX_TITLE_CHARS)
            if self.stats is not None:
                self.stats.inc_value("newswatch/titles_truncated")
        summary = item.summary
        item.summary = clean_text(summary)
        # Feed entries without content of their own carry the summary as their text.
        item.text = item.summary if item.text == summary else clean_text(item.text)
        if item.language:
            item.language = item.language.lower()
        if item.published_at and item.published_at > datetime.now(UTC) + FUTURE_SLACK:
            item.published_at = item.published_from = None
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
        opts = self.feeds.get(item.source_name, options.DEFAULT_FEED_OPTIONS)
        text = prepare_text(item.title, item.summary, item.text)
        for rule in self.topics:
            if opts.topics and rule.name not in opts.topics:
                continue
            if rule.sources and item.source_name not in rule.sources:
                continue
            if rule.languages and item.language and not _language_in(item.language, rule.languages):
                continue
            terms = rule.query.match(text)
            if terms is not None:
                item.matches[rule.name] = terms
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
        item.content_hash = content_hash(item.title, item.text or item.summary)
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
        self._rejected: list[SeenEntry] = []
        self._writing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        """Take the shared database and the batch size from the settings."""
        assert crawler.stats is not None
        return cls(
            resources.database(crawler),
            crawler.settings.getint(options.STORE_BATCH, 200),
            bool(crawler.settings.get(options.TOPICS)),
            crawler.settings.get(options.FEEDS) or {},
            crawler.stats,
            crawler.signals,
            crawler.settings.get(options.DEDUPE) or DEFAULT_DEDUPE,
            resources.worker_pool(crawler),
        )

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        """Queue the item; write the queue when it is full."""
        opts = self.feeds.get(item.source_name, options.DEFAULT_FEED_OPTIONS)
        kept = bool(item.matches) or opts.keep_unmatched or not self.topics_configured
        if kept:
            self._articles.append(_record(item))
        else:
            # Remembered without its content, so a re-poll does not fetch its page again.
            self._rejected.append(SeenEntry(item.source_id, item.entry_key, item.url))
        if len(self._articles) + len(self._rejected) >= self.batch_size:
            await self._hand_off()
        if not kept:
            self.stats.inc_value("newswatch/entries_off_topic")
            raise DropItem(f"off-topic: {item.url}", log_level="DEBUG")
        return item

    async def close_spider(self) -> None:
        """Write what is left before the spider records its checks."""
        await self._hand_off()
        if self._writing is not None:
            await self._writing

    async def _hand_off(self) -> None:
        """Start writing the queue, after the previous batch, if any, is written.

        One batch is written (in a thread) while the next one fills, so matching and
        writing overlap; waiting for the previous batch keeps memory bounded. Items of
        several responses arrive at once: another may have started a write while this
        one waited, so wait until none is running. Otherwise two writes would run, and
        the spider close would wait for the last one only, recording checks (and new
        validators) before the other's articles were written.
        """
        while self._writing is not None and not self._writing.done():
            await self._writing
        articles, self._articles = self._articles, []
        rejected, self._rejected = self._rejected, []
        if articles or rejected:
            self._writing = asyncio.ensure_future(self._write(articles, rejected))

    async def _write(self, articles: list[ArticleRecord], rejected: list[SeenEntry]) -> None:
        """Write one batch in one transaction per kind; report a failure, never raise."""
        now = datetime.now(UTC)
        try:
            # The MinHash of each article is the costly part: in the worker pool, it leaves
            # this process's one core to the downloads and the other items.
            prints = (
                await self.pool.run(fingerprints, articles, self.dedupe)
                if self.pool is not None and articles
                else None
            )
            stats = await asyncio.to_thread(
                store_articles, self.database, articles, now, self.dedupe, prints
            )
            if rejected:
                await asyncio.to_thread(record_rejected, self.database, rejected, now)
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


def _language_in(language: str, allowed: Sequence[str]) -> bool:
    # Feeds and pages give the primary subtag only ("pt"), while a topic may name a
    # region ("pt-br"): compare primary subtags, or such a topic would never match.
    return language.split("-")[0] in {code.split("-")[0] for code in allowed}


def _record(item: ArticleItem) -> ArticleRecord:
    # The record is the item's storable part: every record field has an item namesake.
    values = {f.name: getattr(item, f.name) for f in fields(ArticleRecord)}
    values["matches"] = dict(item.matches)
    return ArticleRecord(**values)
