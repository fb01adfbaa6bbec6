"""Articles: store a batch through the dedupe ladder.

1. entry key per source (`sightings`): a known sighting is skipped;
2. canonical URL: the same story from another source gets a new sighting only;
3. content hash: the same text at another URL gets a new sighting only;
4. near duplicates (`storage.near_duplicates`): a new article whose text is nearly a
   stored one's is stored linked to it by `duplicate_of`;
5. updates: a known entry key or canonical URL with changed text revises its article
   (new content, `revision` + 1, `updated_at`), never a second article.

Unique constraints on the first three, written with INSERT ... ON CONFLICT DO NOTHING,
make a batch idempotent: a retry, a re-run after a crash or a second daemon storing the
same batch at the same time can never store an article or a sighting twice.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import String, bindparam, func, select, update
from sqlalchemy.orm import Session

from storage import near_duplicates
from storage.db import Database
from storage.exceptions import StorageError
from storage.fingerprints import fingerprints as fingerprints
from storage.models import Article, ArticleTopic, Sighting, Topic, UTCDateTime
from storage.records import DEFAULT_DEDUPE, ArticleRecord, DedupeSettings, StoreStats
from storage.sightings import OF_SOURCE_AMONG_KEYS
from storage.sql import PlainSelect, chunked, insert_ignoring_conflicts
from storage.storable import scrub

SightingKey = tuple[int, str]

_SIGHTINGS_IN = PlainSelect(
    select(Sighting.entry_key, Sighting.article_id, Article.content_hash)
    .outerjoin(Article, Article.id == Sighting.article_id)
    .where(*OF_SOURCE_AMONG_KEYS),
    "keys",
)
_BY_URL, _BY_HASH = (
    PlainSelect(
        select(Article.id, Article.canonical_url, Article.content_hash).where(
            column.in_(bindparam("values", expanding=True))
        ),
        "values",
    )
    for column in (Article.canonical_url, Article.content_hash)
)


def store_articles(
    db: Database,
    records: Sequence[ArticleRecord],
    now: datetime,
    dedupe: DedupeSettings = DEFAULT_DEDUPE,
    prints: Sequence[near_duplicates.Fingerprint | None] | None = None,
) -> StoreStats:
    """Store a batch of articles in one transaction and say what happened to each.

    Records in one batch that duplicate each other resolve like records from separate
    batches: the first becomes the article, the others add their sightings to it.
    Topic names in `matches` that are not in the topics table are ignored. NUL and lone
    surrogates are dropped from strings; a naive `published_at` is taken as UTC; an
    entry key or canonical URL over 2000 bytes, or a content hash over 128, is stored
    as a prefix plus its sha256. `prints` are the records' `fingerprints`, when the
    caller computed them already.
    """
    if not records:
        return StoreStats()
    scrubbed = [scrub(record) for record in records]
    found = list(prints) if prints is not None else fingerprints(scrubbed, dedupe)
    if len(found) != len(scrubbed):
        raise StorageError("storage: one fingerprint per record is needed")
    return db.write(lambda session: _store(session, scrubbed, found, now, dedupe))


def _store(
    session: Session,
    records: list[ArticleRecord],
    fingerprints: list[near_duplicates.Fingerprint | None],
    now: datetime,
    dedupe: DedupeSettings,
) -> StoreStats:
    near_duplicates.lock_index(session)
    stats = StoreStats()
    seen = _existing_sightings(session, {(r.source_id, r.entry_key) for r in records})
    pending: list[ArticleRecord] = []
    pending_fps: list[near_duplicates.Fingerprint | None] = []
    revisions: list[_Revision] = []
    for record, fp in zip(records, fingerprints, strict=True):
        key = (record.source_id, record.entry_key)
        if key in seen:
            article_id, stored_hash = seen[key]
            if article_id is not None and stored_hash != record.content_hash:
                revisions.append(_Revision(article_id, record, fp))
                seen[key] = (article_id, record.content_hash)  # a repeat is known
            else:
                stats.known += 1
        else:
            seen[key] = (None, None)  # a repeat later in this batch is known
            pending.append(record)
            pending_fps.append(fp)
    plan = _plan(pending, *_existing_articles(session, pending))
    inserted = _insert_articles(
        session, [pending[i] for i in plan.fresh], [pending_fps[i] for i in plan.fresh], now
    )
    article_ids = _resolve(session, pending, plan, inserted) if pending else []
    fresh = set(plan.fresh)
    linked = near_duplicates.link(
        session,
        [
            (article_ids[i], pending_fps[i])
            for i in plan.fresh
            if pending[i].canonical_url in inserted
        ],
        dedupe,
        inserted=True,
    )
    # A new URL of a stored article with other text revises it (rung 5), sighting and all.
    url_revisions = {
        index
        for index, record in enumerate(pending)
        if index not in fresh
        and index not in plan.primary_of
        and plan.url_hashes.get(record.canonical_url) not in (None, record.content_hash)
    }
    # Another source's copy must not make the article worse: two feeds linking the same
    # page often differ only in how much text they give (a summary, the full article).
    url_revisions -= _shorter(session, {i: (article_ids[i], pending[i]) for i in url_revisions})
    revisions += [_Revision(article_ids[i], pending[i], pending_fps[i]) for i in url_revisions]
    revised = _revise(session, revisions, now)
    stored = _insert_sightings(session, pending, article_ids, now) if pending else set()
    _insert_matches(
        session,
        [*pending, *(r.record for r in revisions)],
        [*article_ids, *(r.article_id for r in revisions)],
        now,
    )
    for revision in revisions[: len(revisions) - len(url_revisions)]:
        if revision.article_id in revised:
            stats.updated += 1
        else:
            stats.known += 1
    for index, record in enumerate(pending):
        if (record.source_id, record.entry_key) not in stored:
            stats.known += 1  # another writer stored this very sighting meanwhile
        elif index in fresh and record.canonical_url in inserted:
            if article_ids[index] in linked:
                stats.near_duplicates += 1
            else:
                stats.new += 1
                for topic in record.matches:
                    stats.new_by_topic[topic] = stats.new_by_topic.get(topic, 0) + 1
        elif index in url_revisions and article_ids[index] in revised:
            stats.updated += 1
        else:
            stats.duplicates += 1
    return stats


def _shorter(session: Session, candidates: dict[int, tuple[int, ArticleRecord]]) -> set[int]:
    """Return the candidates whose text is shorter than their stored article's."""
    ids = sorted({article_id for article_id, _ in candidates.values()})
    stored: dict[int, int] = {}
    for chunk in chunked(ids):
        stmt = select(Article.id, func.length(Article.text)).where(Article.id.in_(chunk))
        stored.update(
            (article_id, int(length or 0)) for article_id, length in session.execute(stmt)
        )
    return {
        index
        for index, (article_id, record) in candidates.items()
        if len(record.text) < stored.get(article_id, 0)
    }


@dataclasses.dataclass(frozen=True)
class _Revision:
    """A stored article to revise with a record's content."""

    article_id: int
    record: ArticleRecord
    fingerprint: near_duplicates.Fingerprint | None


def _revise(session: Session, revisions: Sequence[_Revision], now: datetime) -> set[int]:
    """Give articles their records' content; return the ids of those revised.

    The last revision of an article in the batch wins. A revision whose text is already
    another article's (content_hash is unique) leaves its article as it was.
    """
    latest = {r.article_id: r for r in revisions}
    if not latest:
        return set()
    hashes = sorted({r.record.content_hash for r in latest.values()})
    owner: dict[str, int] = {}
    for chunk in chunked(hashes):
        owner.update(
            (content_hash, article_id)
            for article_id, content_hash in session.execute(
                select(Article.id, Article.content_hash).where(Article.content_hash.in_(chunk))
            )
        )
    applied: list[_Revision] = []
    for article_id in sorted(latest):
        revision = latest[article_id]
        holder = owner.get(revision.record.content_hash)
        if holder is not None:
            continue  # the same text as `holder`: unchanged, or not storable twice
        owner[revision.record.content_hash] = article_id
        applied.append(revision)
    if not applied:
        return set()
    stmt = (
        update(Article)
        .where(Article.id == bindparam("b_id"))
        .values(
            title=bindparam("b_title"),
            summary=bindparam("b_summary"),
            text=bindparam("b_text"),
            authors=bindparam("b_authors"),
            language=func.coalesce(bindparam("b_language", type_=String()), Article.language),
            published_at=func.coalesce(
                bindparam("b_published_at", type_=UTCDateTime()), Article.published_at
            ),
            published_from=func.coalesce(
                bindparam("b_published_from", type_=String()), Article.published_from
            ),
            text_from=bindparam("b_text_from"),
            content_hash=bindparam("b_hash"),
            revision=Article.revision + 1,
            updated_at=bindparam("b_now"),
        )
    )
    session.connection().execute(
        stmt,
        [
            {
                "b_id": r.article_id,
                "b_title": r.record.title,
                "b_summary": r.record.summary,
                "b_text": r.record.text,
                "b_authors": list(r.record.authors),
                "b_language": r.record.language,
                "b_published_at": r.record.published_at,
                "b_published_from": r.record.published_from,
                "b_text_from": r.record.text_from,
                "b_hash": r.record.content_hash,
                "b_now": now,
            }
            for r in applied
        ],
    )
    near_duplicates.reindex(session, [(r.article_id, r.fingerprint) for r in applied])
    return {r.article_id for r in applied}


@dataclasses.dataclass
class _Plan:
    """How each pending record of a batch maps to an article, before any insert."""

    article_ids: list[int | None]  # per record: the stored article it duplicates
    fresh: list[int]  # records to insert as new articles
    primary_of: dict[int, int]  # record -> the fresh record earlier in the batch it copies
    url_hashes: dict[str, str] = dataclasses.field(default_factory=dict)  # stored URL -> hash


def _plan(
    pending: Sequence[ArticleRecord],
    by_url: dict[str, int],
    by_hash: dict[str, int],
    url_hashes: dict[str, str],
) -> _Plan:
    plan = _Plan(article_ids=[], fresh=[], primary_of={}, url_hashes=url_hashes)
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
        by_url, by_hash, _ = _existing_articles(session, [pending[i] for i in lost])
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


def _existing_sightings(
    session: Session, keys: Iterable[SightingKey]
) -> dict[SightingKey, tuple[int | None, str | None]]:
    """Return the stored sightings among `keys`: their article id and its content hash."""
    # One IN list per source: a (source_id, entry_key) row-value IN list plans as an OR
    # of index probes on PostgreSQL, 50x slower than `source_id = ? AND entry_key IN`.
    by_source: dict[int, list[str]] = defaultdict(list)
    for source_id, entry_key in keys:
        by_source[source_id].append(entry_key)
    found: dict[SightingKey, tuple[int | None, str | None]] = {}
    for source_id, entry_keys in sorted(by_source.items()):
        for entry_key, article_id, content_hash in _SIGHTINGS_IN.rows(
            session, sorted(entry_keys), source_id=source_id
        ):
            found[(source_id, entry_key)] = (article_id, content_hash)
    return found


def _existing_articles(
    session: Session, records: Sequence[ArticleRecord]
) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Return the stored article ids by canonical URL and by content hash, and the
    content hash of each stored canonical URL."""
    by_url: dict[str, int] = {}
    by_hash: dict[str, int] = {}
    url_hashes: dict[str, str] = {}
    for lookup, values in (
        (_BY_URL, sorted({r.canonical_url for r in records})),
        (_BY_HASH, sorted({r.content_hash for r in records})),
    ):
        for article_id, url, content_hash in lookup.rows(session, values):
            by_url[url] = article_id
            by_hash[content_hash] = article_id
            url_hashes[url] = content_hash
    return by_url, by_hash, url_hashes


def _insert_articles(
    session: Session,
    records: Sequence[ArticleRecord],
    prints: Sequence[near_duplicates.Fingerprint | None],
    now: datetime,
) -> dict[str, int]:
    """Insert new articles, with their signatures; return the ids of those this call
    stored, by canonical URL."""
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
            "published_from": r.published_from,
            "text_from": r.text_from,
            "first_seen_at": now,
            "updated_at": now,
            "revision": 1,
            "content_hash": r.content_hash,
            "signature": near_duplicates.packed(fp),
        }
        # One order for every writer: concurrent batches then wait on each other's rows
        # instead of deadlocking on PostgreSQL.
        for r, fp in sorted(
            zip(records, prints, strict=True), key=lambda pair: pair[0].canonical_url
        )
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
