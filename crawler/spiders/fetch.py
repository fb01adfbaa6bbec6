"""FetchSpider: fetch one URL through Scrapy's downloader, for the CLI's one-off needs.

`newswatch feeds add` uses it to look at a URL before adding it, with the same user
agent, timeouts and size cap as every other request newswatch makes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.failures import describe_failure
from crawler.fetching import response_headers


@dataclass(slots=True)
class Fetched:
    """What a fetch got: the final URL, status, headers and body, or the reason it failed."""

    url: str
    status: int | None = None
    headers: dict[str, str] | None = None
    body: bytes = b""
    error: str | None = None


class FetchSpider(Spider):
    """Fetch `url` once and fill in `result`."""

    name = "fetch"
    custom_settings = {"ITEM_PIPELINES": {}}  # it yields no items

    def __init__(self, url: str, result: Fetched, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.result = result

    async def start(self) -> AsyncIterator[Any]:
        """Request the URL, following redirects."""
        yield Request(self.url, callback=self.keep, errback=self.fail, dont_filter=True)

    def keep(self, response: Response) -> None:
        """Keep the response."""
        self.result.url = response.url
        self.result.status = response.status
        self.result.body = response.body
        self.result.headers = response_headers(response)

    def fail(self, failure: Failure) -> None:
        """Keep the reason the fetch failed."""
        self.result.status, self.result.error = describe_failure(failure, self.crawler.settings)
