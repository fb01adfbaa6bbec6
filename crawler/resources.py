"""The process-wide resources a crawl shares: the database and the worker pool.

The daemon creates both once and passes them in the settings; a crawl started another
way (`scrapy crawl`) opens its own and closes them when the spider closes.
"""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler import options
from crawler.workers import WorkerPool
from storage.db import Database


def database(crawler: Crawler) -> Database:
    """Return the crawl's database, opening one from the settings' URL if none was given."""
    shared: Database | None = crawler.settings.get(options.DATABASE)
    if shared is not None:
        return shared
    own: Database | None = getattr(crawler, "_newswatch_database", None)
    if own is None:
        url = crawler.settings.get(options.DATABASE_URL)
        if not url:
            raise NotConfigured(f"newswatch: set {options.DATABASE} or {options.DATABASE_URL}")
        own = Database.open(url)
        own.upgrade()
        crawler._newswatch_database = own  # type: ignore[attr-defined]
        crawler.signals.connect(own.dispose, signal=signals.engine_stopped)
    return own


def worker_pool(crawler: Crawler) -> WorkerPool:
    """Return the crawl's worker pool, starting one if none was given."""
    shared: WorkerPool | None = crawler.settings.get(options.WORKER_POOL)
    if shared is not None:
        return shared
    own: WorkerPool | None = getattr(crawler, "_newswatch_pool", None)
    if own is None:
        own = WorkerPool()
        own.start()
        crawler._newswatch_pool = own  # type: ignore[attr-defined]
        crawler.signals.connect(own.close, signal=signals.engine_stopped)
    return own
