"""Source health: what `newswatch sources` shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Sighting, Source


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's state, for people and scripts."""

    name: str
    kind: str
    url: str
    enabled: bool
    last_checked_at: datetime | None
    last_status: int | None
    next_check_at: datetime
    interval_s: int
    error_count: int
    last_error: str | None
    last_new_at: datetime | None
    articles: int

    @property
    def state(self) -> str:
        """Return "disabled", "failing" or "ok"."""
        if not self.enabled:
            return "disabled"
        return "failing" if self.error_count else "ok"

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict, times in ISO 8601."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["state"] = self.state
        return data


def source_health(db: Database) -> list[SourceHealth]:
    """Return every source with its polling state and article count, by name."""
    articles = (
        select(Sighting.source_id, func.count(Sighting.article_id).label("n"))
        .group_by(Sighting.source_id)
        .subquery()
    )
    stmt = (
        select(Source, func.coalesce(articles.c.n, 0))
        .outerjoin(articles, articles.c.source_id == Source.id)
        .order_by(Source.name)
    )
    with db.session() as session:
        return [
            SourceHealth(
                name=row.name,
                kind=row.kind,
                url=row.url,
                enabled=row.enabled,
                last_checked_at=row.last_checked_at,
                last_status=row.last_status,
                next_check_at=row.next_check_at,
                interval_s=row.interval_s,
                error_count=row.error_count,
                last_error=row.last_error,
                last_new_at=row.last_new_at,
                articles=int(count),
            )
            for row, count in session.execute(stmt)
        ]
