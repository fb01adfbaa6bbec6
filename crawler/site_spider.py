"""NewsSpider: the base of every site spider, the generic one and the users' own.

A site spider crawls one source of kind "site". It yields `ArticleItem`s, which go
through the same pipelines as feed entries (normalise, topics, dedupe, store). This
class gives it what those items need:

- `source`: the site's row in the sources table (looked up, or added, by name when
  the crawl was started with `scrapy crawl NAME` rather than by newswatch);
- `unknown_urls()`: drop article URLs already stored or already seen, before any
  request (the canonical URL is the site's entry key);
- `article_request()` and `parse_article()`: fetch a page, extract it in the worker
  pool and build the item;
- robots.txt obeyed and AutoThrottle on, and the run recorded on the source at the end.

A custom spider in `crawler/spiders/` subclasses it, sets `name`, and yields
`self.article_request(url)` for the article pages it finds (see
`crawler/spiders/example_json.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import options, resources
from crawler.extraction import ExtractedPage
from crawler.failures import describe_failure, forbidden_by_robots
from crawler.fetching import extract_response, failed_request
from crawler.items import ArticleItem
from crawler.signals import store_failed
from crawler.urls import canonical_url
from crawler.workers import WorkerPool
from storage.db import Database
from storage.exceptions import StorageError
from storage.records import CheckResult, SeenEntry, SourceSpec, SourceState
from storage.sightings import known_urls, record_rejected
from storage.sources import ensure_source, record_checks

# The interval recorded for a site first added by `scrapy crawl` (informational only:
# the daemon schedules sites by their cron or interval, not by next_check_at).
_DEFAULT_INTERVAL_S = 3600


class NewsSpider(Spider):
    """Base of site spiders: one source, known pages skipped, items to the pipelines."""

    # Sites are crawled, not read like feeds: obey robots.txt and adapt the delay to the
    # server's response times. AUTOTHROTTLE_START_DELAY is the first delay per host.
    custom_settings: dict[str, Any] = {
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 1.0,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
    }

    def __init__(
        self,
        source: SourceState,
        database: Database,
        pool: WorkerPool,
        site: options.SiteOptions = options.DEFAULT_SITE_OPTIONS,
        next_check_at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        # When the site is next due (its schedule's next run); None: its interval from now.
        self.next_check_at = next_check_at
        self.database = database
        self.pool = pool
        self.site = site
        self.max_bytes = 0
        self._failures: list[str] = []
        self._fetched = 0
        self._store_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        """Build the spider from the crawl's settings; `scrapy crawl` arguments too.

        With `scrapy crawl NAME -a start_urls=URL[,URL...] -a sitemap=URL[,URL...]`, the
        spider crawls those; `-a source=NAME` stores under another source name.
        """
        database = kwargs.setdefault("database", resources.database(crawler))
        kwargs.setdefault("pool", resources.worker_pool(crawler))
        name = kwargs.pop("source_name", None) or kwargs.pop("source", None) or cls.name
        if isinstance(name, SourceState):
            kwargs["source"] = name
            name = name.name
        sites: dict[str, options.SiteOptions] = crawler.settings.get(options.SITES) or {}
        site = kwargs.get("site") or sites.get(name) or _site_from_arguments(kwargs)
        kwargs["site"] = site
        if "source" not in kwargs:
            url = (site.sitemaps or site.start_urls or (f"spider:{cls.name}",))[0]
            spec = SourceSpec(name, "site", url)
            now = datetime.now(UTC)
            kwargs["source"] = ensure_source(database, spec, _DEFAULT_INTERVAL_S, now)
        spider = cls(*args, **kwargs)
        spider._set_crawler(crawler)
        spider.max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE", 0)
        crawler.signals.connect(spider.record_run, signal=signals.spider_closed)
        crawler.signals.connect(spider.store_failed, signal=store_failed)
        return spider

    # --- for subclasses ----------------------------------------------------------------

    async def unknown_urls(self, urls: Iterable[str]) -> list[str]:
        """Return the URLs whose canonical form is neither stored nor seen, in order."""
        by_key: dict[str, str] = {}
        for url in urls:
            by_key.setdefault(canonical_url(url), url)
        known = await asyncio.to_thread(known_urls, self.database, self.source.id, list(by_key))
        self.count("pages_known", len(known))
        return [url for key, url in by_key.items() if key not in known]

    def article_request(self, url: str, **cb_kwargs: Any) -> Request:
        """Return the request for an article page, handled by `parse_article`."""
        return Request(
            url,
            callback=self.parse_article,
            errback=self.page_failed,
            cb_kwargs={"entry_key": canonical_url(url), **cb_kwargs},
        )

    async def parse_article(
        self, response: Response, entry_key: str, **_: Any
    ) -> AsyncIterator[ArticleItem]:
        """Extract an article page and yield its item (none if it is no article, or old)."""
        self._fetched += 1
        self.count("pages_fetched")
        page = await extract_response(self.pool, response)
        if page is None:
            self.count("pages_unextracted")
            await self.remember(entry_key, response.url)
            return
        if self.too_old(page.published_at):
            self.count("articles_too_old")
            await self.remember(entry_key, response.url)
            return
        yield self.item(entry_key, response.url, page)

    def item(self, entry_key: str, url: str, page: ExtractedPage) -> ArticleItem:
        """Return the item for an extracted page of this site."""
        return ArticleItem(
            source_id=self.source.id,
            source_name=self.source.name,
            entry_key=entry_key,
            url=url,
            title=page.title,
            text=page.text,
            authors=page.authors,
            language=page.language,
            published_at=page.published_at,
            published_from=page.published_from,
            canonical_url=page.canonical_url or "",
            text_from="page",
        )

    def too_old(self, published_at: datetime | None) -> bool:
        """Say whether a date lies further back than the site's `max_age`."""
        if published_at is None or self.site.max_age_s is None:
            return False
        return published_at < datetime.now(UTC) - timedelta(seconds=self.site.max_age_s)

    async def remember(self, entry_key: str, url: str) -> None:
        """Record a page that gave no article, so later runs do not fetch it again."""
        entry = SeenEntry(self.source.id, entry_key, url)
        await asyncio.to_thread(record_rejected, self.database, [entry], datetime.now(UTC))

    def page_failed(self, failure: Failure) -> None:
        """Log a page that could not be fetched; it is tried again on the next run."""
        request = failed_request(failure)
        if forbidden_by_robots(failure):
            self.count("pages_forbidden")
            return
        _, reason = describe_failure(failure, self.crawler.settings)
        self.count("pages_failed")
        self.logger.info(
            "page failed source=%s url=%s error=%s", self.source.name, request.url, reason
        )

    def listing_failed(self, failure: Failure) -> None:
        """Note a start page or sitemap that could not be fetched."""
        request = failed_request(failure)
        if forbidden_by_robots(failure):
            self.count("pages_forbidden")
            reason = "forbidden by robots.txt"
        else:
            _, reason = describe_failure(failure, self.crawler.settings)
        self.count("listings_failed")
        self._failures.append(f"{request.url}: {reason}")
        self.logger.warning(
            "listing failed source=%s url=%s error=%s", self.source.name, request.url, reason
        )

    def listing_fetched(self) -> None:
        """Note a start page or sitemap that was fetched."""
        self._fetched += 1
        self.count("listings_fetched")

    def count(self, key: str, count: int = 1) -> None:
        """Add to one of newswatch's crawl statistics (`newswatch/KEY`)."""
        if count:
            self.crawler.stats.inc_value(f"newswatch/{key}", count)

    # --- bookkeeping ---------------------------------------------------------------------

    def store_failed(self, source_ids: set[int], error: str) -> None:
        """Note that some of this site's items could not be written."""
        if self.source.id in source_ids:
            self._store_error = error

    async def record_run(self, reason: str) -> None:
        """Record the run on the source: checked now, and why it failed if it did."""
        error = self._store_error
        if error is None and self._failures and self._fetched == 0:
            error = "; ".join(self._failures)[:500]
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        result = CheckResult(
            self.source.id,
            datetime.now(UTC),
            None if error else 200,
            error=error,
            new_articles=int(stats.get("newswatch/articles_new", 0)),
            next_check_at=self.next_check_at,
        )
        try:
            await asyncio.to_thread(record_checks, self.database, [result])
        except StorageError as exc:  # the site stays due: the next run tries again
            self.logger.warning("run not recorded source=%s error=%s", self.source.name, exc)


def _site_from_arguments(kwargs: dict[str, Any]) -> options.SiteOptions:
    """Read `-a start_urls=...`, `-a sitemap=...` (comma-separated) given to scrapy crawl."""

    def urls(key: str) -> tuple[str, ...]:
        value: str | Sequence[str] = kwargs.pop(key, "") or ""
        items = value.split(",") if isinstance(value, str) else value
        return tuple(item.strip() for item in items if item.strip())

    return options.SiteOptions(sitemaps=urls("sitemap"), start_urls=urls("start_urls"))
