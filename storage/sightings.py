"""Sightings: which entries a source has already carried (rung 1 of the dedupe ladder)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article, Sighting
from storage.records import SeenEntry
from storage.sql import (
    PlainSelect,
    chunked,
    driver_value,
    index_key,
    insert_ignoring_conflicts,
    insert_plain_rows,
    storable_text,
)

# A source's sightings among entry keys, for a PlainSelect: `source_id` and the `keys`.
OF_SOURCE_AMONG_KEYS = (
    Sighting.source_id == bindparam("source_id"),
    Sighting.entry_key.in_(bindparam("keys", expanding=True)),
)
_KNOWN_KEYS = PlainSelect(  # a poll asks this once per changed feed
    select(Sighting.entry_key).where(*OF_SOURCE_AMONG_KEYS), "keys"
)


def known_entry_keys(db: Database, source_id: int, keys: Sequence[str]) -> set[str]:
    """Return the subset of `keys` this source already has a sighting for.

    Call it before fetching any page: a known entry costs nothing further.
    """
    asked = {index_key(key): key for key in keys}  # stored form -> caller's form
    if not asked:
        return set()

    def work(session: Session) -> set[str]:
        rows = _KNOWN_KEYS.rows(session, sorted(asked), source_id=source_id)
        return {asked[stored] for (stored,) in rows}

    return db.read(work)


def known_urls(db: Database, source_id: int, urls: Sequence[str]) -> set[str]:
    """Return the subset of canonical `urls` already stored or already seen by this source.

    A URL is known when an article has it as its canonical URL (whichever source or run
    stored it), or when this source has a sighting under it as entry key (site spiders
    use the canonical URL as the entry key, also for pages they did not keep).
    """
    asked = {index_key(url): url for url in urls}
    if not asked:
        return set()

    def work(session: Session) -> set[str]:
        found: set[str] = set()
        for chunk in chunked(sorted(asked)):
            stored = select(Article.canonical_url).where(Article.canonical_url.in_(chunk))
            seen = select(Sighting.entry_key).where(
                Sighting.source_id == source_id, Sighting.entry_key.in_(chunk)
            )
            found.update(asked[value] for value in session.scalars(stored.union(seen)))
        return found

    return db.read(work)


def record_rejected(db: Database, entries: Sequence[SeenEntry], now: datetime) -> None:
    """Remember entries that were not kept (no topic matched), without an article.

    A sighting with no article makes rung 1 of the ladder skip the entry on the next
    poll, so its page is never fetched again; it is idempotent like every write here.
    """
    if not entries:
        return

    def work(session: Session) -> None:
        seen_at = driver_value(session, Sighting.__table__.c.seen_at, now)
        rows = [
            (e.source_id, index_key(e.entry_key), storable_text(e.url), seen_at) for e in entries
        ]
        # Straight through the driver: SQLAlchemy's processing of each row's parameters
        # cost more than the insert (a full poll of 1,000 feeds rejects some 36,000).
        columns = ("source_id", "entry_key", "url", "seen_at")
        insert_plain_rows(session, insert_ignoring_conflicts(session, Sighting), columns, rows)

    db.write(work)
