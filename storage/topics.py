"""Topics: keep the topics table in step with the config."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Topic
from storage.records import TopicSpec
from storage.sql import insert_ignoring_conflicts


def sync_topics(db: Database, topics: Sequence[TopicSpec], now: datetime) -> None:
    """Insert new topics and update changed queries.

    Topics gone from the config are kept: their stored matches still explain why old
    articles were kept, and exports can still filter on them.
    """

    def work(session: Session) -> None:
        existing = {row.name: row for row in session.scalars(select(Topic))}
        new_rows: dict[str, dict[str, object]] = {}
        for spec in topics:
            row = existing.get(spec.name)
            if row is None:
                new_rows[spec.name] = {"name": spec.name, "query": spec.query, "updated_at": now}
            elif row.query != spec.query:
                row.query = spec.query
                row.updated_at = now
        if new_rows:
            session.execute(insert_ignoring_conflicts(session, Topic), list(new_rows.values()))

    db.write(work)
