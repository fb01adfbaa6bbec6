"""Database upkeep: prune old articles' text, keep the planner's statistics fresh.

Pruning works like Miniflux's removal of old entries, which keeps a row per entry so
that it is not fetched again: an article older than `[storage] keep` loses its text and
summary, and keeps its identity (canonical URL, content hash, MinHash signature and
band rows, sightings, topic matches), so the same story coming back is still a known
article, an exact duplicate or a near duplicate, never new again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article, Base
from storage.sql import chunked, rowcount

log = logging.getLogger(__name__)

PRUNE_CHUNK = 500  # articles per transaction, so a running daemon is only briefly held up
# VACUUM rewrites the whole SQLite file; worth it only when this share of it is free
# pages (after a large prune), not every night.
VACUUM_FREE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance run did."""

    pruned: int  # articles whose text and summary were dropped
    statements: tuple[str, ...]  # the upkeep statements run (ANALYZE, VACUUM, ...)


def prune_texts(db: Database, before: datetime, now: datetime) -> int:
    """Drop the text and summary of articles first seen before `before`; return how many."""
    stale = Article.first_seen_at < before, Article.pruned_at.is_(None)
    with db.session() as session:
        ids = list(session.scalars(select(Article.id).where(*stale).order_by(Article.id)))

    def prune(chunk: Sequence[int]) -> Callable[[Session], int]:
        def work(session: Session) -> int:
            stmt = (
                update(Article)
                .where(Article.id.in_(chunk), *stale)
                .values(text="", summary="", pruned_at=now)
                .execution_options(synchronize_session=False)
            )
            return rowcount(session.execute(stmt))

        return work

    return sum(db.write(prune(chunk)) for chunk in chunked(ids, PRUNE_CHUNK))


def optimise(db: Database) -> tuple[str, ...]:
    """Refresh the query planner's statistics; on SQLite, reclaim free pages when many.

    Return the statements run.
    """
    if db.dialect == "postgresql":
        # Autovacuum reclaims space on its own; ANALYZE after a prune helps the planner.
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        statement = f"ANALYZE {tables}"
        with db.session(write=True) as session:
            session.execute(text(statement))
        return (statement,)
    statements = ["ANALYZE"]
    # VACUUM cannot run inside a transaction: use the driver's connection, which runs
    # in autocommit mode (see storage.db._configure_sqlite).
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            # A sampled ANALYZE stays fast on a large file (https://sqlite.org/lang_analyze.html).
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE")
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            free = cursor.execute("PRAGMA freelist_count").fetchone()[0]
            if pages and free / pages >= VACUUM_FREE_SHARE:
                cursor.execute("VACUUM")
                statements.append("VACUUM")
        finally:
            cursor.close()
    finally:
        raw.close()
    return tuple(statements)
