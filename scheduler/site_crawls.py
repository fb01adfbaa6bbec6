"""Site crawls: each `[[sites]]` entry run by its spider on the process's one runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider
from scrapy.crawler import AsyncCrawlerRunner

from crawler.exceptions import UnknownSpiderError
from crawler.spiders.sites import SiteSpider
from scheduler.config import Config, SiteConfig
from scheduler.site_jobs import next_run_due
from storage.claims import claim_run
from storage.db import Database
from storage.locks import singleton
from storage.records import SourceState
from storage.sources import due_sources

log = logging.getLogger("newswatch.sites")


@dataclass(frozen=True, slots=True)
class SiteSummary:
    """What a crawl of one or more sites did, in the terms `newswatch crawl` prints."""

    sites: int = 0
    failed: int = 0
    pages: int = 0  # article pages fetched
    known: int = 0  # article URLs skipped before any request: stored or seen before
    new: int = 0
    duplicates: int = 0
    off_topic: int = 0

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> SiteSummary:
        """Read one site's summary from its crawl's stats."""

        def get(key: str) -> int:
            return int(stats.get(f"newswatch/{key}", 0))

        failed = get("listings_failed") > 0 and get("listings_fetched") == 0
        return cls(
            sites=1,
            failed=int(failed),
            pages=get("pages_fetched"),
            known=get("pages_known"),
            new=get("articles_new"),
            duplicates=get("articles_duplicate"),
            off_topic=get("entries_off_topic"),
        )

    def __add__(self, other: SiteSummary) -> SiteSummary:
        values = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        return SiteSummary(**values)


SiteProgress = Callable[[SourceState, SiteSummary], None]


def spider_class(runner: AsyncCrawlerRunner, site: SiteConfig) -> type[Spider]:
    """Return the spider that crawls `site`: its own, by name, else the generic one."""
    if site.spider is None:
        return SiteSpider
    try:
        found: type[Spider] = runner.spider_loader.load(site.spider)
    except KeyError:
        known = ", ".join(sorted(runner.spider_loader.list()))
        raise UnknownSpiderError(
            f'site {site.name}: no spider named "{site.spider}" in crawler/spiders/ '
            f"(known: {known})"
        ) from None
    return found


async def crawl_sites(
    config: Config,
    database: Database,
    runner: AsyncCrawlerRunner,
    names: Sequence[str],
    progress: SiteProgress | None = None,
    *,
    claim: bool = False,
) -> SiteSummary:
    """Crawl the named sites once, at the same time, and return what they did together.

    Each site's next check is set to just before its schedule next fires. With `claim`
    (the daemon's scheduled runs), a site is crawled only if this call takes its run:
    no other daemon is crawling it, and none has run it since it was last due. Without
    (`newswatch crawl`, asked for by name), it is crawled whatever the others do.
    """
    sites = {site.name: site for site in config.sites}
    classes = {name: spider_class(runner, sites[name]) for name in names}
    now = datetime.now(UTC)
    sources = await asyncio.to_thread(due_sources, database, now, ("site",), names)

    async def crawl(source: SourceState, next_due: datetime) -> SiteSummary:
        crawler = runner.create_crawler(classes[source.name])
        await runner.crawl(crawler, source=source, next_check_at=next_due)
        summary = SiteSummary.from_stats(crawler.stats.get_stats() if crawler.stats else {})
        log.info(
            "site crawled source=%s pages=%d known=%d new=%d duplicates=%d failed=%d",
            source.name,
            summary.pages,
            summary.known,
            summary.new,
            summary.duplicates,
            summary.failed,
        )
        if progress is not None:
            progress(source, summary)
        return summary

    async def one(source: SourceState) -> SiteSummary:
        next_due = next_run_due(sites[source.name], config, now)
        if not claim:
            return await crawl(source, next_due)
        async with _run_taken(database, source.name, now, next_due) as taken:
            if taken:
                return await crawl(source, next_due)
        log.info("site crawl skipped source=%s reason=another daemon has run it", source.name)
        return SiteSummary()

    total = SiteSummary()
    for summary in await asyncio.gather(*(one(source) for source in sources)):
        total += summary
    return total


@contextlib.asynccontextmanager
async def _run_taken(
    database: Database, name: str, now: datetime, next_due: datetime
) -> AsyncIterator[bool]:
    """Yield whether this daemon takes the site's run due at `now`, holding the site's
    lock until the crawl ends: a crawl longer than the site's schedule is never joined
    by another daemon's next run (`storage.locks.singleton`, PostgreSQL only)."""
    lock = singleton(database, f"site:{name}")
    held = await asyncio.to_thread(lock.__enter__)
    try:
        yield held and await asyncio.to_thread(claim_run, database, name, "site", now, next_due)
    finally:
        await asyncio.to_thread(lock.__exit__, None, None, None)
