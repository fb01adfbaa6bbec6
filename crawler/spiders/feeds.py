"""FeedSpider: poll a batch of due feeds through Scrapy's downloader."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import options, resources
from crawler.dispatch import Dispatcher
from crawler.exceptions import FeedError
from crawler.failures import describe_failure
from crawler.feed_scan import entry_ids
from crawler.feeds import FeedEntry
from crawler.fetching import (
    FEED_REQUEST,
    extract_response,
    failed_request,
    permanent_redirect,
    response_header,
    response_headers,
)
from crawler.items import ArticleItem
from crawler.polling import (
    DEFAULT_BOUNDS,
    Bounds,
    Hints,
    entry_frequency_interval,
    failing_too_long,
    max_age,
    next_interval,
    retry_after,
)
from crawler.preparation import FeedRead, Plan, count_truncated, feed_item, read_feed
from crawler.signals import entries_rejected, feed_checked, store_failed
from crawler.workers import WorkerPool
from storage.db import Database
from storage.exceptions import StorageError
from storage.records import DEFAULT_DEDUPE, CheckResult, DedupeSettings, SeenEntry, SourceState
from storage.sightings import known_entry_keys
from storage.sources import record_checks

_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
# New entries taken from one feed in one poll. A feed that dumps its archive (or ten
# thousand entries on purpose) is taken in slices, newest first as feeds list them: its
# validators are not kept, so each next poll parses it again and takes the next slice.
MAX_NEW_ENTRIES = 1000


@dataclass(slots=True)
class _Poll:
    """One source's poll in progress: its result and the page fetches still out."""

    result: CheckResult | None = None
    pending_pages: int = 0
    new_entries: int = 0


class FeedSpider(Spider):
    """Fetch each given feed once, with conditional GET, and yield its new entries."""

    name = "feeds"
    # Scrapy components a feed poll has no use for, each run for every request, response
    # or item (see tests/test_feed_components.py for the ones it must keep):
    # - bookkeeping whose figures nothing reads, the poll's summary keeping its own counts:
    #   CoreStats counts every item through the item_scraped and item_dropped signals (a
    #   tenth of a poll's time on the event loop), DownloaderStats serialises every
    #   request's and response's headers to count bytes, DepthMiddleware looks at every
    #   item for the depth of the requests among them;
    # - OffsiteMiddleware filters by `allowed_domains`, which a feed poll has none of, and
    #   lets `dont_filter` requests (every one a feed poll makes) through anyway;
    # - UrlLengthMiddleware silently drops requests with URLs over 2,083 characters: a feed
    #   with such a URL would never be polled, nor recorded, and a full-text entry with
    #   such a link would be lost (its page request neither answered nor failed);
    # - MetaCopyDetectionMiddleware warns of meta copied from a response to a request,
    #   which this spider never does.
    # RefererMiddleware stays: without it the redirect middlewares warn at every poll.
    UNUSED_COMPONENTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "EXTENSIONS": ("scrapy.extensions.corestats.CoreStats",),
        "SPIDER_MIDDLEWARES": (
            "scrapy.spidermiddlewares.depth.DepthMiddleware",
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware",
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
        ),
        "DOWNLOADER_MIDDLEWARES": (
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
            "scrapy.downloadermiddlewares.stats.DownloaderStats",
        ),
    }

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Turn the unused components off, keeping every component the project adds.

        Not `custom_settings`: a component dict given there replaces the project's
        (newswatch's own RefusedAddressMiddleware among them) instead of adding to it.
        """
        super().update_settings(settings)
        for key, unused in cls.UNUSED_COMPONENTS.items():
            components = {**settings.getdict(key), **dict.fromkeys(unused)}
            # Above the priority the dict had: `runner.crawl(crawler)` merges the runner's
            # settings into the crawler's again (Scrapy 2.19, `create_crawler`), and a value
            # there at an equal priority (project for DOWNLOADER_MIDDLEWARES, cmdline for
            # EXTENSIONS when the metrics add theirs) would put the components back.
            current = settings.getpriority(key) or 0
            priority = max(current + 1, SETTINGS_PRIORITIES["spider"])
            settings.set(key, components, priority=priority)

    def __init__(
        self,
        sources: Sequence[SourceState],
        database: Database,
        pool: WorkerPool,
        feeds: Mapping[str, options.FeedOptions],
        bounds: Bounds = DEFAULT_BOUNDS,
        disable_after_s: int | None = None,
        topics: Sequence[options.TopicRule] = (),
        dedupe: DedupeSettings = DEFAULT_DEDUPE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sources = tuple(sources)
        self.database = database
        self.pool = pool
        self.feeds = feeds
        self.bounds = bounds
        self.disable_after_s = disable_after_s
        self.topics = tuple(topics)
        self.dedupe = dedupe
        self._polls: dict[int, _Poll] = {}
        self._store_errors: dict[int, str] = {}
        self._dispatcher: Dispatcher | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FeedSpider:
        """Build the spider from the crawl's settings and shared resources."""
        kwargs.setdefault("database", resources.database(crawler))
        kwargs.setdefault("pool", resources.worker_pool(crawler))
        kwargs.setdefault("feeds", crawler.settings.get(options.FEEDS) or {})
        kwargs.setdefault(
            "bounds",
            Bounds(
                crawler.settings.getint(options.MIN_INTERVAL, DEFAULT_BOUNDS.min_s),
                crawler.settings.getint(options.MAX_INTERVAL, DEFAULT_BOUNDS.max_s),
            ),
        )
        kwargs.setdefault("disable_after_s", crawler.settings.getint(options.DISABLE_AFTER) or None)
        kwargs.setdefault("topics", crawler.settings.get(options.TOPICS) or ())
        kwargs.setdefault("dedupe", crawler.settings.get(options.DEDUPE) or DEFAULT_DEDUPE)
        spider = cls(*args, **kwargs)
        spider._set_crawler(crawler)
        crawler.signals.connect(spider.record_results, signal=signals.spider_closed)
        crawler.signals.connect(spider.store_failed, signal=store_failed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        """Poll every feed, and yield the items and page requests their responses give.

        The feed requests go straight to Scrapy's downloader (`crawler.dispatch`); the
        items go on to the pipelines, the page requests to the scheduler.
        """
        for source in self.sources:
            self._polls[source.id] = _Poll()
        requests = [self._feed_request(source) for source in self.sources]
        self._dispatcher = Dispatcher(self.crawler, requests, self._feed_outcome, self._abandoned)
        async for output in self._dispatcher.outputs():
            yield output

    @staticmethod
    def _feed_request(source: SourceState) -> Request:
        """Request the feed, sending the stored validators (RFC 9110, section 13.1)."""
        headers = {"Accept": _ACCEPT}
        if source.etag:
            headers["If-None-Match"] = source.etag
        if source.last_modified:
            headers["If-Modified-Since"] = source.last_modified
        return Request(
            source.url,
            headers=headers,
            cb_kwargs={"source": source},
            meta={"handle_httpstatus_list": [304], FEED_REQUEST: True},
            # Two sources may share a URL; Scrapy's dupefilter would drop the second.
            dont_filter=True,
        )

    async def _feed_outcome(
        self, request: Request, outcome: Response | Failure
    ) -> AsyncIterator[Any]:
        """Handle a feed's response (`parse_feed`) or failure (`feed_failed`)."""
        if isinstance(outcome, Failure):
            self.feed_failed(outcome)
            return
        async for output in self.parse_feed(outcome, request.cb_kwargs["source"]):
            yield output

    def _abandoned(self, request: Request) -> None:
        """Forget the check of a feed whose items or page requests were never yielded.

        The crawl stopped first: recorded, with its new validators, the feed would not
        give those entries again.
        """
        source: SourceState = request.cb_kwargs["source"]
        self._polls[source.id].result = None

    async def parse_feed(self, response: Response, source: SourceState) -> AsyncIterator[Any]:
        """Handle a feed response: 304, or parse and yield the entries not seen before."""
        now = datetime.now(UTC)
        if response.status == 304:
            hints = Hints(max_age_s=max_age(response_header(response, b"Cache-Control")))
            result = self._scheduled(CheckResult(source.id, now, 304), source, hints)
            self._finish(source, result, response)
            self._count("feeds_not_modified")
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        if body_hash == source.body_hash:
            # Servers that send no validators answer 200 every time; the same body means
            # nothing new, so it is not parsed (cheaper than any 304 handling we could do).
            unchanged = CheckResult(
                source.id,
                now,
                200,
                etag=response_header(response, b"ETag"),
                last_modified=response_header(response, b"Last-Modified"),
                body_hash=body_hash,
            )
            hints = Hints(max_age_s=max_age(response_header(response, b"Cache-Control")))
            self._finish(source, self._scheduled(unchanged, source, hints), response)
            self._count("feeds_not_modified")
            return
        opts = self.feeds.get(source.name, options.DEFAULT_FEED_OPTIONS)
        try:
            read, known, asked = await self._parse_body(source, response, opts)
            parsed = read.parsed
            new = await self._unseen(source, parsed.entries, known, asked)
        except FeedError as exc:
            self._feed_failed(source, CheckResult(source.id, now, response.status, error=str(exc)))
            return
        except StorageError as exc:
            failed = CheckResult(source.id, now, response.status, error=str(exc))
            self._feed_failed(source, self._scheduled(failed, source, Hints()))
            return
        # A body that is not well-formed XML (cut off, or sloppy) still gives the entries
        # feedparser could salvage, but the source is recorded as failing, with the reason,
        # and keeps no validators, so the next poll fetches it in full again.
        error = f"malformed feed: {parsed.warning}" if parsed.malformed else None
        self._count("feeds_failed" if error else "feeds_fetched")
        later = len(new) - MAX_NEW_ENTRIES
        if later > 0:
            new = new[:MAX_NEW_ENTRIES]
            self._count("entries_deferred", later)
            self.logger.warning(
                "feed capped source=%s url=%s new=%d taken=%d later=%d",
                source.name,
                source.url,
                len(new) + later,
                len(new),
                later,
            )
        # Without its validators and hash, the next poll parses the feed again.
        keep = later <= 0
        poll = self._polls[source.id]
        poll.new_entries = len(new)
        # Entries prepared by the worker and matching no topic are not handed through the
        # pipelines one by one: the store records them, first, like the others in batches.
        rejected = [
            SeenEntry(source.id, entry.key, url)
            for entry in new
            if not (opts.full_text and entry.link) and (url := read.rejected.get(entry.key))
        ]
        if rejected:
            await self.crawler.signals.send_catch_log_async(entries_rejected, entries=rejected)
        for entry in new:
            if opts.full_text and entry.link:
                poll.pending_pages += 1
                yield Request(
                    entry.link,
                    callback=self.parse_page,
                    errback=self.page_failed,
                    cb_kwargs={"source": source, "entry": entry, "language": parsed.language},
                    dont_filter=True,
                )
                continue
            if entry.key in read.rejected:
                continue
            # Not prepared by the worker (past its limit): the pipelines do it all.
            yield read.items.get(entry.key) or feed_item(source, entry, parsed.language, None)
        for key, chars in read.truncated:
            url = read.items[key].url if key in read.items else read.rejected.get(key)
            if url is not None:
                count_truncated(source.name, url, chars, self.crawler.stats)
        scheduled = self._scheduled(
            CheckResult(
                source.id,
                now,
                response.status,
                error=error,
                etag=response_header(response, b"ETag") if keep else None,
                last_modified=response_header(response, b"Last-Modified") if keep else None,
                new_articles=len(new),
                body_hash=body_hash if keep else None,
            ),
            source,
            Hints(
                ttl_s=parsed.ttl_s,
                max_age_s=max_age(response_header(response, b"Cache-Control")),
            ),
            # Not backed off like a feed that gave nothing: its entries were usable.
            errors=0,
            learnt_s=entry_frequency_interval(
                (entry.published_at for entry in parsed.entries), now, self.bounds
            ),
        )
        self._finish(source, scheduled, response, usable=True)
        if error:
            self.logger.warning(
                "feed malformed source=%s url=%s entries=%d new=%d error=%s",
                source.name,
                source.url,
                len(parsed.entries),
                len(new),
                error,
            )
            return
        self.logger.info(
            "feed parsed source=%s status=%s entries=%d new=%d",
            source.name,
            response.status,
            len(parsed.entries),
            len(new),
        )

    def feed_failed(self, failure: Failure) -> None:
        """Record a feed that could not be fetched."""
        source: SourceState = failed_request(failure).cb_kwargs["source"]
        status, reason = describe_failure(failure, self.crawler.settings)
        now = datetime.now(UTC)
        hints = Hints()
        if isinstance(failure.value, HttpError) and status in (429, 503):
            wait = retry_after(response_header(failure.value.response, b"Retry-After"), now)
            hints = Hints(retry_after_s=wait)
            if wait is not None:
                reason = f"{reason}, retry after {wait}s"
        # 410 Gone: the server says the feed is gone for good (RFC 9110, section 15.5.11).
        gone = status == 410
        if gone:
            reason = f"{reason} Gone: the feed was removed for good"
        result = CheckResult(source.id, now, status, error=reason, disable=gone)
        self._finish(source, self._scheduled(result, source, hints))
        self._count("feeds_failed")
        self.logger.warning(
            "feed failed source=%s url=%s error=%s", source.name, source.url, reason
        )

    async def parse_page(
        self, response: Response, source: SourceState, entry: FeedEntry, language: str | None
    ) -> AsyncIterator[ArticleItem]:
        """Extract the linked page; fall back to the feed's own content."""
        page = await extract_response(self.pool, response)
        if page is None:
            self._count("pages_unextracted")
        self._page_done(source)
        yield feed_item(source, entry, language, page)

    def page_failed(self, failure: Failure) -> ArticleItem:
        """Keep the entry with the feed's content when its page cannot be fetched."""
        request = failed_request(failure)
        kwargs = request.cb_kwargs
        _, reason = describe_failure(failure, self.crawler.settings)
        self.logger.info(
            "page failed source=%s url=%s error=%s",
            kwargs["source"].name,
            request.url,
            reason,
        )
        self._count("pages_failed")
        self._page_done(kwargs["source"])
        return feed_item(kwargs["source"], kwargs["entry"], kwargs["language"], None)

    async def record_results(self, reason: str) -> None:
        """Record each feed's check once its items are stored (pipelines close first).

        A feed whose page fetches were cut short by a stop is not recorded: it stays due,
        keeps its old validators, and its remaining entries are fetched next time.
        """
        if self._dispatcher is not None:
            self._dispatcher.close()  # forgets the checks whose items were not yielded
        done = [
            self._unless_unstored(poll.result)
            for poll in self._polls.values()
            if poll.result is not None and (reason == "finished" or poll.pending_pages == 0)
        ]
        if not done:
            return
        try:
            await asyncio.to_thread(record_checks, self.database, done, self.bounds.max_s)
        except StorageError as exc:
            # Not recorded, the feeds stay due with their old validators: the next poll
            # fetches them in full again, and what was stored is skipped by its key.
            self.logger.warning("checks not recorded feeds=%d error=%s", len(done), exc)

    def store_failed(self, source_ids: set[int], error: str) -> None:
        """Note feeds whose items could not be written."""
        for source_id in source_ids:
            self._store_errors[source_id] = error

    def _feed_failed(self, source: SourceState, result: CheckResult) -> None:
        """Record a fetched feed that could not be read (or looked up), and log it."""
        self._finish(source, result)
        self._count("feeds_failed")
        self.logger.warning(
            "feed failed source=%s url=%s error=%s", source.name, source.url, result.error
        )

    def _unless_unstored(self, result: CheckResult) -> CheckResult:
        """Turn a feed's result into a failure if some of its items were not written."""
        error = self._store_errors.get(result.source_id)
        if error is None:
            return result
        return CheckResult(result.source_id, result.checked_at, result.status, error=error)

    async def _parse_body(
        self, source: SourceState, response: Response, opts: options.FeedOptions
    ) -> tuple[FeedRead, frozenset[str], frozenset[str]]:
        """Parse the feed in the worker pool, leaving out the text of entries known already.

        A feed fetched before usually repeats most of its entries: their ids are read
        first (cheap), looked up, and feedparser skips their bodies (`crawler.feed_scan`).
        The worker also prepares the items of the new entries (`crawler.preparation`),
        unless their pages are to be fetched first. Returns the read, the keys found known
        on the way, and all the keys looked up.
        """
        headers = response_headers(response)
        known: set[str] = set()
        ids: tuple[str, ...] = ()
        if source.body_hash is not None:
            ids = await self.pool.run(entry_ids, response.body, headers)
            if ids:
                known = await asyncio.to_thread(known_entry_keys, self.database, source.id, ids)
        plan = (
            None
            if opts.full_text
            else Plan(self.topics, opts, self.dedupe, topics_configured=bool(self.topics))
        )
        found = frozenset(known)
        read = await self.pool.run(
            read_feed, response.body, headers, response.url, found, source, plan, MAX_NEW_ENTRIES
        )
        return read, found, frozenset(ids)

    async def _unseen(
        self,
        source: SourceState,
        entries: Sequence[FeedEntry],
        found: frozenset[str],
        asked: frozenset[str],
    ) -> list[FeedEntry]:
        """Return the entries this source has not delivered before, in feed order.

        Keys `asked` already are not looked up again: those `found` are known, the others
        are not (a source is polled by one crawl at a time, so none can have become known
        since). Only keys the parse gave and the quick scan did not are looked up here.
        """
        keys = [entry.key for entry in entries if entry.key not in asked]
        known: set[str] = set()
        if keys and source.checked:  # a source never checked has no sightings
            known = await asyncio.to_thread(known_entry_keys, self.database, source.id, keys)
        known.update(found)
        unseen: list[FeedEntry] = []
        for entry in entries:
            if entry.key not in known:
                known.add(entry.key)  # a feed that lists one entry twice yields it once
                unseen.append(entry)
        self._count("entries_known", len(entries) - len(unseen))
        return unseen

    def _scheduled(
        self,
        result: CheckResult,
        source: SourceState,
        hints: Hints,
        errors: int | None = None,
        learnt_s: int | None = None,
    ) -> CheckResult:
        """Return the result with its next check set (see `crawler.polling`).

        The base interval is the feed's fixed one from the config, else the one learnt
        from its entry dates on this fetch, else the one learnt before. Errors count as
        the stored consecutive errors plus this one, unless the caller says otherwise.
        """
        fixed = self.feeds.get(source.name, options.DEFAULT_FEED_OPTIONS).interval_s
        base = fixed or learnt_s or source.interval_s
        if errors is None:
            errors = source.error_count + 1 if result.error else 0
        delay = next_interval(base, hints, errors, self.bounds)
        return replace(
            result,
            next_check_at=result.checked_at + timedelta(seconds=delay),
            interval_s=base,
        )

    def _finish(
        self,
        source: SourceState,
        result: CheckResult,
        response: Response | None = None,
        usable: bool = False,
    ) -> None:
        """Settle a source's check: moved by a permanent redirect, or disabled, or as is.

        A fetch that answered (200 or 304) after 301/308 redirects moves the source to
        their target; a failed one moves nothing. A failure that continues a run of
        errors longer than `disable_after_s` disables the source, unless the fetch
        still gave `usable` entries (a sloppy but working feed).
        """
        if response is not None and result.error is None:
            moved = permanent_redirect(response)
            if moved is not None and moved != source.url:
                result = replace(result, moved_to=moved)
                self.logger.warning(
                    "feed moved permanently source=%s url=%s to=%s",
                    source.name,
                    source.url,
                    moved,
                )
        elif result.error and not result.disable and not usable:
            since = source.failing_since
            if failing_too_long(since, result.checked_at, self.disable_after_s):
                longer = "longer than polling.disable_after"
                error = f"{result.error}; failing since {since:%Y-%m-%d}, {longer}"
                result = replace(result, error=error, disable=True)
        if result.disable:
            self.logger.warning(
                "feed disabled source=%s url=%s reason=%s", source.name, source.url, result.error
            )
        self._polls.setdefault(source.id, _Poll()).result = result
        self.crawler.signals.send_catch_log(feed_checked, source=source, result=result)

    def _page_done(self, source: SourceState) -> None:
        self._polls[source.id].pending_pages -= 1

    def _count(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"newswatch/{key}", count)
