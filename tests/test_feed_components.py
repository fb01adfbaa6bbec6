"""Which Scrapy components a feed poll runs, as the poller builds its crawl.

A feed poll turns off the per-request bookkeeping nothing reads
(`FeedSpider.UNUSED_COMPONENTS`) and keeps every safety component: retries, redirects,
decompression, the size cap, the timeout, the User-Agent, robots.txt when configured and
newswatch's own address check. A site crawl keeps Scrapy's full set.

The crawls are built as `Poller.poll` and `crawl_sites` build them, including the second
merge of the runner's settings that `runner.crawl(crawler)` makes before the crawl
starts (Scrapy 2.19), which once put the turned-off components back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from crawler.spiders.feeds import FeedSpider
from crawler.spiders.sites import SiteSpider
from crawler.workers import WorkerPool
from scheduler.config import load_config
from scheduler.metrics import Metrics
from scheduler.poller import Poller
from storage.db import Database

COMPONENT_KEYS = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS")

# What no feed poll may lose.
KEPT = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware",
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware",
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
    "scrapy.downloadermiddlewares.retry.RetryMiddleware",
    "crawler.middlewares.RefusedAddressMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware",
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware",
    "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware",
}
METRICS = "scheduler.metrics.CrawlMetrics"

CONFIG = """\
[storage]
url = "sqlite:///news.db"

[[feeds]]
name = "world"
url = "https://world.example/rss.xml"

[[sites]]
name = "magazine"
sitemap = "https://magazine.example/sitemap.xml"
"""


@pytest.fixture(params=["plain", "metrics"])
def poller(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Poller]:
    """A poller as `newswatch poll` builds it, or as the daemon does with metrics on."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    database = Database.open(config.storage.url)
    pool = WorkerPool(1, processes=False)
    extra = Metrics().settings() if request.param == "metrics" else None
    try:
        yield Poller(config, database, pool, extra)
    finally:
        pool.close()
        database.dispose()


def components(poller: Poller, spider: type[Spider]) -> set[str]:
    """Return the components a crawl of `spider` on the poller's runner enables."""
    crawler = poller.runner.create_crawler(spider)
    # What `runner.crawl(crawler)` does first: merge the runner's settings in again.
    poller.runner.create_crawler(crawler)
    found = set()
    for key in COMPONENT_KEYS:
        for component in build_component_list(crawler.settings.getwithbase(key)):
            cls = load_object(component)
            found.add(f"{cls.__module__}.{cls.__qualname__}")
    return found


def test_a_feed_poll_runs_none_of_the_unused_components(poller: Poller) -> None:
    enabled = components(poller, FeedSpider)
    unused = set(FeedSpider.UNUSED_COMPONENTS.values())
    assert unused, "nothing to check"
    assert enabled.isdisjoint(unused), sorted(enabled & unused)


def test_a_feed_poll_keeps_every_safety_component(poller: Poller) -> None:
    enabled = components(poller, FeedSpider)
    assert enabled >= KEPT, sorted(KEPT - enabled)
    assert (METRICS in enabled) == ("EXTENSIONS" in poller.extra_settings)


def test_a_site_crawl_keeps_scrapys_components(poller: Poller) -> None:
    enabled = components(poller, SiteSpider)
    assert enabled >= KEPT | set(FeedSpider.UNUSED_COMPONENTS.values())
