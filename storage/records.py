"""Plain values that cross the storage boundary.

The crawler and the scheduler hand these to storage functions and get these back; no
SQLAlchemy object ever leaves the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the config declares it."""

    name: str
    kind: str  # "feed" or "site"
    url: str
    enabled: bool = True
    interval_s: int | None = None  # fixed interval from the config; None means default


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a poll needs to know about a source, read from the database."""

    id: int
    name: str
    kind: str
    url: str
    etag: str | None
    last_modified: str | None
    interval_s: int
    error_count: int
    body_hash: str | None = None  # of the last body processed
    failing_since: datetime | None = None  # first error of the current run of errors
    # Checked before: it may have sightings. A source never checked has none (or, after
    # a crash between storing its entries and recording its check, ones the store's
    # unique keys still turn away), so its entries need not be looked up.
    checked: bool = True


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one fetch of a source, recorded after its items are stored."""

    source_id: int
    checked_at: datetime
    status: int | None  # HTTP status, None when no response arrived
    error: str | None = None  # one clear line; None on success
    etag: str | None = None
    last_modified: str | None = None
    new_articles: int = 0
    next_check_at: datetime | None = None  # None: now + the source's interval
    interval_s: int | None = None  # the interval learnt from this fetch; None: keep it
    body_hash: str | None = None  # of the body processed; None: keep the stored one
    moved_to: str | None = None  # a permanent redirect's target: poll it from now on
    disable: bool = False  # disable the source, `error` saying why (410, failing too long)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the config declares it."""

    name: str
    query: str


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """One article as a source carried it, ready to store."""

    source_id: int
    entry_key: str
    url: str
    canonical_url: str
    content_hash: str
    title: str = ""
    summary: str = ""
    text: str = ""
    authors: tuple[str, ...] = ()
    language: str | None = None
    guid: str | None = None
    published_at: datetime | None = None
    published_from: str | None = None  # feed, json-ld, meta, url or page
    text_from: str | None = None  # page or feed
    # topic name -> the query terms that matched
    matches: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DedupeSettings:
    """When two texts are near duplicates (rung 4 of the dedupe ladder).

    `threshold` is the Jaccard similarity of the texts' word shingles at or above which
    a new article is a near duplicate of a stored one; texts with fewer than
    `min_shingles` shingles (a one-line feed summary) are never called near duplicates.
    The defaults come from `bench/dedupe.py`.
    """

    threshold: float = 0.4
    min_shingles: int = 40


DEFAULT_DEDUPE = DedupeSettings()


@dataclass(slots=True)
class StoreStats:
    """What one batch write did."""

    new: int = 0  # articles stored for the first time
    duplicates: int = 0  # known article, new sighting (same canonical URL or same content)
    known: int = 0  # the sighting itself was already stored (a re-poll or a retry)
    near_duplicates: int = 0  # stored, linked by duplicate_of to the story's first article
    updated: int = 0  # a known entry or URL with changed text: the article was revised
    new_by_topic: dict[str, int] = field(default_factory=dict)  # `new`, per topic matched

    def add(self, other: StoreStats) -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.known += other.known
        self.near_duplicates += other.near_duplicates
        self.updated += other.updated
        for topic, count in other.new_by_topic.items():
            self.new_by_topic[topic] = self.new_by_topic.get(topic, 0) + count


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One article in the export schema (see README, "Export schema")."""

    id: int
    url: str
    canonical_url: str
    title: str
    summary: str
    text: str
    authors: tuple[str, ...]
    language: str | None
    published_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    source: str
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    matches: dict[str, tuple[str, ...]]
    duplicate_of: int | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class SeenEntry:
    """An entry a source delivered that was not kept (it matched no topic).

    Its sighting is stored without an article, so a re-poll skips it before any fetch.
    """

    source_id: int
    entry_key: str
    url: str


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """A named export as the config declares it, resolved for storage.

    `topics` limits the export to articles matching one of them (empty: every article).
    With `per_topic`, each of `topic_files` gets its own file, holding the articles that
    matched it; an article matching none of them is not exported.
    """

    name: str
    format: str  # jsonl, csv, parquet or atom
    directory: Path
    topics: tuple[str, ...] = ()
    per_topic: bool = False
    topic_files: tuple[str, ...] = ()
    include_duplicates: bool = False
    include_updates: bool = False

    @property
    def claimed_topics(self) -> tuple[str, ...]:
        """Return the topics an exported article must match; empty: any article."""
        return self.topics or (self.topic_files if self.per_topic else ())


@dataclass(frozen=True, slots=True)
class ExportRunState:
    """A run of a named export, as recorded before its files are written."""

    id: int
    export_id: int
    day: str  # YYYY-MM-DD: the folder the run writes
    started_at: datetime
    window_start: datetime | None  # lower bound of the rows it looked at; None: all
    resumed: bool = False  # found pending: an earlier attempt stopped before the end
