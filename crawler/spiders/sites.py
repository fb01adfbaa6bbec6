"""SiteSpider: the generic site spider, configured by a `[[sites]]` entry.

- `sitemap`: sitemaps, sitemap indexes (followed), gzipped sitemaps and Google News
  sitemaps. Every listed URL that passes `allow`/`deny` and is not too old by the
  sitemap's own date (`news:publication_date`, else `lastmod`) is an article candidate.
- `start_urls`: listing pages. A link that matches `allow` (and no `deny`) is an
  article candidate; any other link on the same host that no `deny` pattern matches is a
  further listing page if it lies under a start page's folder (/world/page/2 under
  /world/), followed while the depth stays within `max_depth` (1: the start pages only).
  With no `allow` patterns, every same-host link is an article candidate.

Candidates already stored or seen are dropped before any request; at most `max_pages`
pages (listings and articles) are requested per run.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.exceptions import SitemapError
from crawler.site_spider import NewsSpider
from crawler.sitemaps import parse_sitemap


class SiteSpider(NewsSpider):
    """Crawl one site's sitemaps and listing pages for new articles."""

    name = "site"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._allow = [re.compile(p) for p in self.site.allow]
        self._deny = [re.compile(p) for p in self.site.deny]
        self._hosts = {
            (urlsplit(url).hostname or "").lower()
            for url in (*self.site.start_urls, *self.site.sitemaps)
        }
        self._budget = self.site.max_pages
        self._links = LinkExtractor(unique=True)
        self._queued: set[str] = set(self.site.start_urls)
        # Further listing pages are those under a start page: /world/ leads to
        # /world/page/2, not to /sport/ or /login from the site's menu.
        self._sections = tuple(_section(url) for url in self.site.start_urls)

    async def start(self) -> AsyncIterator[Any]:
        """Request the sitemaps and the start pages."""
        for url in self.site.sitemaps:
            yield Request(url, callback=self.parse_sitemap, errback=self.listing_failed)
        for url in self.site.start_urls:
            if self._spend(1):
                yield Request(
                    url,
                    callback=self.parse_listing,
                    errback=self.listing_failed,
                    cb_kwargs={"depth": 1},
                )

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Request]:
        """Follow a sitemap index; request the new, recent, allowed URLs of a sitemap."""
        self.listing_fetched()
        try:
            sitemap = await self.pool.run(
                parse_sitemap, response.body, response.url, self.max_bytes
            )
        except SitemapError as exc:
            self.count("listings_failed")
            self.logger.warning(
                "sitemap failed source=%s url=%s error=%s", self.source.name, response.url, exc
            )
            return
        if sitemap.is_index:
            for entry in sitemap.entries:
                # A sitemap last changed before max_age lists nothing recent enough.
                if not self.too_old(entry.modified_at):
                    yield Request(
                        entry.url, callback=self.parse_sitemap, errback=self.listing_failed
                    )
            return
        fresh = []
        for entry in sitemap.entries:
            if self.too_old(entry.newest_date):
                self.count("articles_too_old")
            elif self._is_article(entry.url):
                fresh.append(entry.url)
        for request in await self._article_requests(fresh):
            yield request

    async def parse_listing(self, response: Response, depth: int) -> AsyncIterator[Request]:
        """Request the new article pages a listing page links to; follow further listings."""
        self.listing_fetched()
        if not isinstance(response, TextResponse):
            return
        articles: list[str] = []
        listings: list[str] = []
        for link in self._links.extract_links(response):
            url = link.url.split("#")[0]
            if not self._on_site(url) or self._denied(url):
                continue
            if self._is_article(url):
                articles.append(url)
            elif self._allow and depth < self.site.max_depth and self._under_start(url):
                listings.append(url)
        for request in await self._article_requests(articles):
            yield request
        for url in listings:
            if url not in self._queued and self._spend(1):
                self._queued.add(url)
                yield Request(
                    url,
                    callback=self.parse_listing,
                    errback=self.listing_failed,
                    cb_kwargs={"depth": depth + 1},
                )

    async def _article_requests(self, urls: Iterable[str]) -> list[Request]:
        wanted = [url for url in dict.fromkeys(urls) if url not in self._queued]
        # Claimed before the lookup: two sitemaps listing one URL must not both request it.
        self._queued.update(wanted)
        requests = []
        for url in await self.unknown_urls(wanted):
            if not self._spend(1):
                break
            requests.append(self.article_request(url))
        return requests

    def _spend(self, pages: int) -> bool:
        if self._budget < pages:
            self.count("pages_over_budget")
            return False
        self._budget -= pages
        return True

    def _on_site(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self._hosts

    def _under_start(self, url: str) -> bool:
        return _section(url).startswith(self._sections)

    def _denied(self, url: str) -> bool:
        return any(p.search(url) for p in self._deny)

    def _is_article(self, url: str) -> bool:
        if self._denied(url):
            return False
        return not self._allow or any(p.search(url) for p in self._allow)


def _section(url: str) -> str:
    """Return a URL's host and the folder of its path: http://h/world/ for /world/x."""
    parts = urlsplit(url)
    folder = parts.path.rsplit("/", 1)[0] + "/"
    return f"{(parts.hostname or '').lower()}{folder}"
