"""An example custom spider: a site whose article list is a JSON API.

Copy it to start your own. A spider in this folder that subclasses `NewsSpider` and
sets `name` can be named in a `[[sites]]` entry (`spider = "json_listing"`, with the
API's address in `start_urls`), and runs with `scrapy crawl json_listing -a
start_urls=URL` from the repository root. Either way its items go through newswatch's
pipelines (topics, dedupe, store).

The API answers `{"articles": [{"url": "..."}, ...]}`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.http import Response

from crawler.site_spider import NewsSpider


class JsonListingSpider(NewsSpider):
    """Read article URLs from a JSON listing and store each new article once."""

    name = "json_listing"

    async def start(self) -> AsyncIterator[Any]:
        """Request each listing URL of the site."""
        for url in self.site.start_urls:
            yield Request(url, callback=self.parse_listing, errback=self.listing_failed)

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        """Request the listed articles this site has not stored or seen yet."""
        self.listing_fetched()
        try:
            listing = json.loads(response.body)
        except ValueError:
            self.logger.warning("not JSON source=%s url=%s", self.source.name, response.url)
            return
        urls = [urljoin(response.url, a["url"]) for a in listing.get("articles", []) if "url" in a]
        for url in await self.unknown_urls(urls):
            yield self.article_request(url)
