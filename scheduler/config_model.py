"""The configuration as the rest of newswatch sees it: frozen, typed values.

`scheduler.config` builds these from config.toml and the environment; nothing else
reads either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from crawler.topics import Query, parse_query
from storage.records import DEFAULT_DEDUPE, DedupeSettings, ExportSpec

DEFAULT_CONFIG_FILE = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///data/newswatch.db"  # relative to the config's folder
DEFAULT_USER_AGENT = "newswatch (+mailto:ops@example.org)"
DEFAULT_MAX_BYTES = 15 * 1024 * 1024  # Miniflux's cap on a decompressed body


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where articles are stored: a SQLAlchemy URL, SQLite paths made absolute."""

    url: str
    keep_s: int | None = None  # prune article text older than this; None: keep it all


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """How the daemon runs: its clock, its tick, and how hard it may hit servers."""

    timezone: str = "UTC"
    tick_s: int = 60
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16
    per_host: int = 2
    lease_s: int = 5 * 60  # how long a claimed source stays claimed without renewal
    metrics: tuple[str, int] | None = None  # (host, port) of /metrics and /healthz
    log_format: str = "text"  # or "json": one object per line

    @property
    def tzinfo(self) -> ZoneInfo:
        """Return the time zone for cron jobs such as the daily export."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Limits applied to every request."""

    timeout_s: int = 30  # the whole request, not each read
    max_bytes: int = DEFAULT_MAX_BYTES
    # Connect to private, loopback, link-local... addresses too (crawler/resolver.py).
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class PollingConfig:
    """Bounds of the adaptive feed interval, and when to give up on a feed, in seconds."""

    default_interval_s: int = 30 * 60
    min_interval_s: int = 5 * 60
    max_interval_s: int = 24 * 3600
    # A feed failing without a break for this long is disabled; None: never.
    disable_after_s: int | None = 30 * 86_400


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """A named topic query, optionally limited to some languages and sources."""

    name: str
    query: str
    parsed: Query
    languages: tuple[str, ...] = ()  # empty: every language
    sources: tuple[str, ...] = ()  # feed names; empty: every source

    @classmethod
    def from_query(
        cls,
        name: str,
        query: str,
        languages: Sequence[str] = (),
        sources: Sequence[str] = (),
    ) -> TopicConfig:
        """Build a topic, parsing `query` (raises QuerySyntaxError)."""
        return cls(name, query, parse_query(query), tuple(languages), tuple(sources))


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """An RSS or Atom feed to poll."""

    name: str
    url: str
    topics: tuple[str, ...] = ()  # topic names; empty: every topic
    interval_s: int | None = None  # fixed interval; None: adaptive
    full_text: bool = False  # fetch and extract the linked page of each new entry
    enabled: bool = True
    keep_unmatched: bool = False  # store entries that match no topic too


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """A news site watched by a spider: the generic one, or a custom one by name."""

    name: str
    sitemaps: tuple[str, ...] = ()  # sitemaps, sitemap indexes, .xml.gz, news sitemaps
    start_urls: tuple[str, ...] = ()  # listing pages
    allow: tuple[str, ...] = ()  # regular expressions: article URLs
    deny: tuple[str, ...] = ()  # regular expressions: URLs never fetched
    max_depth: int = 1  # listing pages followed from a start URL (1: the start URLs only)
    max_pages: int = 200  # page requests per run, listings and articles together
    max_age_s: int | None = None  # skip articles older than this; None: any age
    schedule: str | None = None  # a crontab line, in daemon.timezone
    interval_s: int | None = None  # else a fixed interval
    spider: str | None = None  # a spider in crawler/spiders/; None: the generic one
    topics: tuple[str, ...] = ()
    keep_unmatched: bool = False
    enabled: bool = True

    @property
    def url(self) -> str:
        """Return the address that identifies the site in the sources table."""
        return (self.sitemaps or self.start_urls or (f"spider:{self.spider}",))[0]


@dataclass(frozen=True, slots=True)
class ExportConfig:
    """A named daily export: what goes in it, in which format, where and when."""

    name: str
    directory: Path  # absolute; the day folders go in it
    format: str = "jsonl"  # jsonl, csv, parquet or atom
    at: str = "00:10"  # HH:MM, every day, in daemon.timezone
    topics: tuple[str, ...] = ()  # empty: every article
    per_topic: bool = False  # one file per topic (always for atom)
    include_duplicates: bool = False
    include_updates: bool = False

    @property
    def hour(self) -> int:
        return int(self.at.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.at.split(":")[1])


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; `path` is the absolute path of the file it came from."""

    path: Path
    storage: StorageConfig
    daemon: DaemonConfig = DaemonConfig()
    network: NetworkConfig = NetworkConfig()
    polling: PollingConfig = PollingConfig()
    dedupe: DedupeSettings = DEFAULT_DEDUPE
    topics: tuple[TopicConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    sites: tuple[SiteConfig, ...] = ()
    exports: tuple[ExportConfig, ...] = ()

    def export_spec(self, export: ExportConfig) -> ExportSpec:
        """Return what storage needs to run `export`: per-topic files named for its topics."""
        return ExportSpec(
            name=export.name,
            format=export.format,
            directory=export.directory,
            topics=export.topics,
            per_topic=export.per_topic,
            topic_files=export.topics or tuple(topic.name for topic in self.topics),
            include_duplicates=export.include_duplicates,
            include_updates=export.include_updates,
        )

    def export_named(self, name: str) -> ExportConfig | None:
        """Return the export called `name`, or None."""
        return next((export for export in self.exports if export.name == name), None)

    def topics_for(self, feed: FeedConfig) -> tuple[TopicConfig, ...]:
        """Return the topics matched against `feed`'s articles."""
        return tuple(
            topic
            for topic in self.topics
            if (not feed.topics or topic.name in feed.topics)
            and (not topic.sources or feed.name in topic.sources)
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in the configuration, where it is, and what is wrong."""

    key: str  # "feeds[2].interval"; "" for the file as a whole
    message: str
    line: int | None = None  # 1-based; None when it cannot be located
    file: str | None = None  # as the user named it; None for the environment

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        where = where or ("environment" if self.key else "")
        head = ": ".join(part for part in (where, self.key) if part)
        return f"{head}: {self.message}" if head else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = list(problems)
