"""Typed options the scheduler hands to the crawler through Scrapy settings.

The crawler never reads the config file: `scheduler.config` builds these and passes them
as the settings named below, and components read them in `from_crawler`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from crawler.topics import Query

# Setting names.
DATABASE = "NEWSWATCH_DATABASE"  # a storage.db.Database, shared by the process
DATABASE_URL = "NEWSWATCH_DATABASE_URL"  # used when no Database object is given
TOPICS = "NEWSWATCH_TOPICS"  # tuple[TopicRule, ...]
FEEDS = "NEWSWATCH_FEEDS"  # dict[str, FeedOptions], by source name (feeds and sites)
SITES = "NEWSWATCH_SITES"  # dict[str, SiteOptions], by site name
WORKER_POOL = "NEWSWATCH_WORKER_POOL"  # a crawler.workers.WorkerPool
STORE_BATCH = "NEWSWATCH_STORE_BATCH"  # articles per write transaction
DEDUPE = "NEWSWATCH_DEDUPE"  # a storage.records.DedupeSettings: near-duplicate thresholds
MAX_INTERVAL = "NEWSWATCH_MAX_INTERVAL"  # seconds: the longest interval and back-off
MIN_INTERVAL = "NEWSWATCH_MIN_INTERVAL"  # seconds: the shortest adaptive interval
DISABLE_AFTER = "NEWSWATCH_DISABLE_AFTER"  # seconds of continuous failure before disabling
ALLOW_PRIVATE = "NEWSWATCH_ALLOW_PRIVATE"  # bool: connect to non-public addresses too


K = TypeVar("K")
V = TypeVar("V")


class Shared(dict[K, V]):
    """Options by name, handed to every crawler as they are rather than copied.

    Scrapy deep-copies the settings for each crawler it makes. The options of every feed
    are a thousand objects for a thousand feeds, 10 ms of copying for each poll; the
    scheduler builds them once and nothing changes them, so crawlers share them.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Shared[K, V]:
        return self


@dataclass(frozen=True, slots=True)
class TopicRule:
    """A topic query and where it applies."""

    name: str
    query: Query
    languages: tuple[str, ...] = ()  # empty: every language
    sources: tuple[str, ...] = ()  # empty: every source


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """Per-feed choices from the config."""

    topics: tuple[str, ...] = ()  # empty: every topic
    full_text: bool = False
    keep_unmatched: bool = False  # store entries that match no topic
    interval_s: int | None = None  # a fixed interval; None: learnt from the feed


DEFAULT_FEED_OPTIONS = FeedOptions()


@dataclass(frozen=True, slots=True)
class SiteOptions:
    """What the generic site spider crawls, from a `[[sites]]` entry."""

    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # regular expressions an article URL matches
    deny: tuple[str, ...] = ()  # regular expressions of URLs never requested
    max_depth: int = 1  # listing pages deep, from the start URLs
    max_pages: int = 200  # requests per run, listing and article pages together
    max_age_s: int | None = None  # skip articles published longer ago than this


DEFAULT_SITE_OPTIONS = SiteOptions()
