"""Errors raised by the crawler package.

CrawlerError
 ├── QuerySyntaxError   a topic query that does not parse
 ├── FeedError          a feed that could not be read (bad XML, not a feed, too large)
 ├── SitemapError       a sitemap that could not be read
 ├── BlockedAddressError a host that resolves only to addresses newswatch may not reach
 └── UnknownSpiderError a site names a spider that crawler/spiders/ does not have
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base of every error the crawler raises."""


class QuerySyntaxError(CrawlerError):
    """A topic query that does not parse; `position` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        super().__init__(f"{message} at position {position + 1}")
        self.message = message
        self.query = query
        self.position = position


class FeedError(CrawlerError):
    """A feed body that yields no usable entries, with the reason."""


class SitemapError(CrawlerError):
    """A sitemap body that is not a sitemap, with the reason."""


class BlockedAddressError(CrawlerError):
    """A request refused because its host is not a public address (network.allow_private).

    Scrapy sees it as `crawler.middlewares.RefusedAddress`, an IgnoreRequest too. This
    module imports no Scrapy: the worker processes import it, and Scrapy and Twisted
    would add some 40 MB to each of them.
    """


class UnknownSpiderError(CrawlerError):
    """A spider name that no module in crawler/spiders/ defines."""
