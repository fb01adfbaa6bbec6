"""Articles: store a batch through the first three rungs of the dedupe ladder.

1. entry key per source (`sightings`): a known sighting is skipped;
2. canonical URL: the same story from another source gets a new sighting only;
3. content hash: the same text at another URL gets a new sighting only.

Unique constraints on all three, written with INSERT ... ON CONFLICT DO NOTHING, make a
batch idempotent: a retry, a re-run after a crash or a second daemon storing the same
batch at the same time can never store an article or a sighting twice.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.exceptions import StorageError
from storage.models import Article, ArticleTopic, Sighting, Topic
from storage.records import ArticleRecord, StoreStats
from storage.sql import chunked, index_key, insert_ignoring_conflicts, storable_text

SightingKey = tuple[int, str]
CONTENT_HASH_CHARS = 128  # the width of articles.content_hash


def store_articles(db: Database, records: Sequence[ArticleRecord], now: datetime) -> StoreStats:
    """Store a batch of articles in one transaction and say what happened to each.

    Records in one batch that duplicate each other resolve like records from separate
    batches: the first becomes the article, the others add their sightings to it.
    Topic names in `matches` that are not in the topics table are ignored. NUL and lone
    surrogates are dropped from strings; a naive `published_at` is taken as UTC; an
    entry key or canonical URL over 2000 bytes, or a content hash over 128, is stored
    as a prefix plus its sha256.
    """
    if not records:
        return StoreStats()
    scrubbed = [_scrub(record) for record in records]
    return db.write(lambda session: _store(session, scrubbed, now))


def _store(session: Session, records: list[ArticleRecord], now: datetime) -> StoreStats:
    stats = StoreStats()
    seen = _existing_sightings(session, {(r.source_id, r.entry_key) for r in records})
    pending: list[ArticleRecord] = []
    for record in records:
        key = (record.source_id, record.entry_key)
        if key in seen:
            stats.known += 1
        else:
            seen.add(key)  # a repeat later in this batch is known too
            pending.append(record)
    if not pending:
        return stats

    plan = _plan(pending, *_existing_articles(session, pending))
    inserted = _insert_articles(session, [pending[i] for i in plan.fresh], now)
    article_ids = _resolve(session, pending, plan, inserted)
    stored = _insert_sightings(session, pending, article_ids, now)
    _insert_matches(session, pending, article_ids, now)
    fresh = set(plan.fresh)
    for index, record in enumerate(pending):
        if (record.source_id, record.entry_key) not in stored:
            stats.known += 1  # another writer stored this very sighting meanwhile
        elif index in fresh and record.canonical_url in inserted:
            stats.new += 1
        else:
            stats.duplicates += 1
    return stats


@dataclasses.dataclass
class _Plan:
    """How each pending record of a batch maps to an article, before any insert."""

    article_ids: list[int | None]  # per record: the stored article it duplicates
    fresh: list[int]  # records to insert as new articles
    primary_of: dict[int, int]  # record -> the fresh record earlier in the batch it copies


def _plan(
    pending: Sequence[ArticleRecord], by_url: dict[str, int], by_hash: dict[str, int]
) -> _Plan:
    plan = _Plan(article_ids=[], fresh=[], primary_of={})
    claimed_url: dict[str, int] = {}
    claimed_hash: dict[str, int] = {}
    for index, record in enumerate(pending):
        article_id = by_url.get(record.canonical_url) or by_hash.get(record.content_hash)
        plan.article_ids.append(article_id)
        if article_id is not None:
            continue
        primary = claimed_url.get(record.canonical_url, claimed_hash.get(record.content_hash))
        if primary is not None:
            plan.primary_of[index] = primary
        else:
            claimed_url[record.canonical_url] = claimed_hash[record.content_hash] = index
            plan.fresh.append(index)
    return plan


def _resolve(
    session: Session, pending: Sequence[ArticleRecord], plan: _Plan, inserted: dict[str, int]
) -> list[int]:
    """Return every pending record's article id once the fresh ones are inserted."""
    article_ids = list(plan.article_ids)
    lost = []
    for index in plan.fresh:
        article_ids[index] = inserted.get(pending[index].canonical_url)
        if article_ids[index] is None:
            lost.append(index)
    if lost:
        # A concurrent writer stored these first; its row is committed and visible now.
        by_url, by_hash = _existing_articles(session, [pending[i] for i in lost])
        for index in lost:
            record = pending[index]
            article_ids[index] = by_url.get(record.canonical_url) or by_hash.get(
                record.content_hash
            )
    for index, primary in plan.primary_of.items():
        article_ids[index] = article_ids[primary]
    resolved = []
    for record, article_id in zip(pending, article_ids, strict=True):
        if article_id is None:
            raise StorageError(f"storage: article for {record.url} vanished while storing")
        resolved.append(article_id)
    return resolved


def _scrub(record: ArticleRecord) -> ArticleRecord:
    """Make every string storable and bound the unique keys."""
    published_at = record.published_at
    if published_at is not None and published_at.tzinfo is None:
        # Feed dates without a zone are UTC by convention (feedparser's *_parsed are).
        published_at = published_at.replace(tzinfo=UTC)
    return dataclasses.replace(
        record,
        published_at=published_at,
        entry_key=index_key(record.entry_key),
        url=storable_text(record.url),
        canonical_url=index_key(record.canonical_url),
        content_hash=index_key(record.content_hash, CONTENT_HASH_CHARS),
        title=storable_text(record.title),
        summary=storable_text(record.summary),
        text=storable_text(record.text),
        authors=tuple(storable_text(author) for author in record.authors),
        language=None if record.language is None else storable_text(record.language),
        guid=None if record.guid is None else storable_text(record.guid),
        matches={
            storable_text(name): tuple(storable_text(term) for term in terms)
            for name, terms in record.matches.items()
        },
    )


def _existing_sightings(session: Session, keys: Iterable[SightingKey]) -> set[SightingKey]:
    # One IN list per source: a (source_id, entry_key) row-value IN list plans as an OR
    # of index probes on PostgreSQL, 50x slower than `source_id = ? AND entry_key IN`.
    by_source: dict[int, list[str]] = defaultdict(list)
    for source_id, entry_key in keys:
        by_source[source_id].append(entry_key)
    found: set[SightingKey] = set()
    for source_id, entry_keys in sorted(by_source.items()):
        for chunk in chunked(sorted(entry_keys)):
            stmt = select(Sighting.entry_key).where(
                Sighting.source_id == source_id, Sighting.entry_key.in_(chunk)
            )
            found.update((source_id, entry_key) for entry_key in session.scalars(stmt))
    return found


def _existing_articles(
    session: Session, records: Sequence[ArticleRecord]
) -> tuple[dict[str, int], dict[str, int]]:
    """Return the stored article ids by canonical URL and by content hash."""
    by_url: dict[str, int] = {}
    by_hash: dict[str, int] = {}
    columns = (Article.id, Article.canonical_url, Article.content_hash)
    for column, values in (
        (Article.canonical_url, sorted({r.canonical_url for r in records})),
        (Article.content_hash, sorted({r.content_hash for r in records})),
    ):
        for chunk in chunked(values):
            for article_id, url, content_hash in session.execute(
                select(*columns).where(column.in_(chunk))
            ):
                by_url[url] = article_id
                by_hash[content_hash] = article_id
    return by_url, by_hash


def _insert_articles(
    session: Session, records: Sequence[ArticleRecord], now: datetime
) -> dict[str, int]:
    """Insert new articles; return the ids of those this call stored, by canonical URL."""
    if not records:
        return {}
    rows = [
        {
            "canonical_url": r.canonical_url,
            "url": r.url,
            "guid": r.guid,
            "title": r.title,
            "summary": r.summary,
            "text": r.text,
            "authors": list(r.authors),
            "language": r.language,
            "published_at": r.published_at,
            "first_seen_at": now,
            "updated_at": now,
            "revision": 1,
            "content_hash": r.content_hash,
        }
        # One order for every writer: concurrent batches then wait on each other's rows
        # instead of deadlocking on PostgreSQL.
        for r in sorted(records, key=lambda r: r.canonical_url)
    ]
    stmt = insert_ignoring_conflicts(session, Article).returning(Article.id, Article.canonical_url)
    return {url: article_id for article_id, url in session.execute(stmt, rows)}


def _insert_sightings(
    session: Session, records: Sequence[ArticleRecord], article_ids: Sequence[int], now: datetime
) -> set[SightingKey]:
    """Insert one sighting per record; return the keys this call stored."""
    rows = sorted(
        (
            {
                "article_id": article_id,
                "source_id": r.source_id,
                "entry_key": r.entry_key,
                "url": r.url,
                "seen_at": now,
            }
            for r, article_id in zip(records, article_ids, strict=True)
        ),
        key=lambda row: (row["source_id"], row["entry_key"]),
    )
    stmt = insert_ignoring_conflicts(session, Sighting).returning(
        Sighting.source_id, Sighting.entry_key
    )
    return {(source_id, entry_key) for source_id, entry_key in session.execute(stmt, rows)}


def _insert_matches(
    session: Session, records: Sequence[ArticleRecord], article_ids: Sequence[int], now: datetime
) -> None:
    """Store topic matches; an article keeps the terms of its first match per topic."""
    names = sorted({name for r in records for name in r.matches})
    if not names:
        return
    topic_ids: dict[str, int] = {}
    for chunk in chunked(names):
        topic_ids.update(
            (name, topic_id)
            for topic_id, name in session.execute(
                select(Topic.id, Topic.name).where(Topic.name.in_(chunk))
            )
        )
    rows: dict[tuple[int, int], dict[str, object]] = {}
    for record, article_id in zip(records, article_ids, strict=True):
        for name, terms in record.matches.items():
            topic_id = topic_ids.get(name)
            if topic_id is not None and (article_id, topic_id) not in rows:
                rows[(article_id, topic_id)] = {
                    "article_id": article_id,
                    "topic_id": topic_id,
                    "terms": list(terms),
                    "matched_at": now,
                }
    if rows:
        session.execute(
            insert_ignoring_conflicts(session, ArticleTopic), [rows[key] for key in sorted(rows)]
        )
