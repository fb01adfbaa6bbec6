"""Errors raised by the crawler package.

CrawlerError
 ├── QuerySyntaxError   a topic query that does not parse
 └── FeedError          a feed that could not be read (bad XML, not a feed, too large)
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
