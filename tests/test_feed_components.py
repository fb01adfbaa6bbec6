"""Which Scrapy components a feed poll runs, as the poller builds its crawl.

A feed poll turns off the per-request bookkeeping nothing reads
(`FeedSpider.UNUSED_COMPONENTS`) and keeps every safety component: retries, redirects,
decompression, the size cap, the timeout, the User-Agent, robots.txt when configured and
newswatch's own address check. A site crawl keeps Scrapy's full set.

The crawls are built as `Poller.poll` and `crawl_sites` build them, including the second
merge of the runner's settings that `runner.crawl(crawler)` makes before the crawl
starts (Scrapy 2.19), which once put the turned-off components back. And a feed poll
fetches what Scrapy's UrlLengthMiddleware would have dropped without a word.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from crawler import options
from crawler.spiders.feeds import FeedSpider
from crawler.spiders.sites import SiteSpider
from crawler.workers import WorkerPool
from scheduler.config import load_config
from scheduler.metrics import Metrics
from scheduler.poller import Poller
from storage.db import Database
from tests.daemon_helpers import run_command, sqlite_url
from tests.feedserver import Entry, FeedServer

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
    # The redirect middlewares look for it, and warn at every poll when it is missing.
    "scrapy.spidermiddlewares.referer.RefererMiddleware",
}
METRICS = "scheduler.metrics.CrawlMetrics"
UNUSED = {path for paths in FeedSpider.UNUSED_COMPONENTS.values() for path in paths}

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
    unused = UNUSED
    assert enabled.isdisjoint(unused), sorted(enabled & unused)


def test_a_feed_poll_keeps_every_safety_component(poller: Poller) -> None:
    enabled = components(poller, FeedSpider)
    assert enabled >= KEPT, sorted(KEPT - enabled)
    assert (METRICS in enabled) == ("EXTENSIONS" in poller.extra_settings)


def test_a_site_crawl_keeps_scrapys_components(poller: Poller) -> None:
    enabled = components(poller, SiteSpider)
    assert enabled >= KEPT | UNUSED


def test_crawls_share_the_options_of_every_source_rather_than_copy_them(
    poller: Poller,
) -> None:
    """Scrapy deep-copies a crawler's settings; the per-source options are shared."""
    made = [poller.runner.create_crawler(FeedSpider) for _ in range(2)]
    for name in (options.FEEDS, options.SITES):
        first, second = (crawler.settings[name] for crawler in made)
        assert first is second and set(first), name
    assert made[0].settings[options.FEEDS]["world"].topics == ()


# Longer than Scrapy's URLLENGTH_LIMIT (2,083): UrlLengthMiddleware drops such requests.
LONG = "x" * 2100
PAGE = (
    "<!DOCTYPE html><html lang='en'><head><title>Pyongyang and Moscow sign a pact</title>"
    "</head><body><article><h1>Pyongyang and Moscow sign a pact</h1>"
    + "<p>North Korea and Russia signed a mutual defence pact on Tuesday, officials said, "
    "deepening a partnership that has alarmed Ukraine and its allies.</p>"
    * 6
    + "</article></body></html>"
)


def test_long_urls_are_polled_and_fetched_not_dropped(tmp_path: Path) -> None:
    with FeedServer() as server:
        link = server.url(f"/news/{LONG}.html")
        server.set_page(f"/news/{LONG}.html", PAGE)
        entry = Entry("1", "A pact", link, "Short summary.", datetime.now(UTC))
        server.set_feed(f"/feeds/{LONG}.xml", [entry])
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\nurl = "{sqlite_url(config)}"\n\n[network]\nallow_private = true\n\n'
            f'[[feeds]]\nname = "long"\nurl = "{server.url(f"/feeds/{LONG}.xml")}"\n'
            "full_text = true\n",
            encoding="utf-8",
        )
        done = run_command(config, "poll")
        assert done.returncode == 0, done.stderr
        # Nothing to warn about in a plain poll (such as a component missing another).
        assert "WARNING" not in done.stderr, done.stderr
        assert server.count(f"/feeds/{LONG}.xml") == 1
        assert server.count(f"/news/{LONG}.html") == 1
    with sqlite3.connect(tmp_path / "newswatch.db") as db:
        rows = db.execute("SELECT url, text FROM articles").fetchall()
    assert [url for url, _ in rows] == [link]
    assert "mutual defence pact" in rows[0][1]
