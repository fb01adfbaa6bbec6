"""Source health: what `newswatch sources` shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from storage.db import Database
from storage.models import Sighting, Source

# A source is stale when it has brought nothing new for this many of its intervals, and
# at least STALE_MIN: Huginn's "expected_update_period", derived from the learnt rhythm.
STALE_INTERVALS = 10
STALE_MIN = timedelta(days=3)


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
    articles_24h: int
    articles_7d: int
    stale: bool
    configured_url: str | None = None  # as config.toml gives it; `url` is the one polled
    moved_at: datetime | None = None  # when a permanent redirect last moved `url`
    disabled_reason: str | None = None  # why newswatch disabled the source itself
    disabled_at: datetime | None = None
    failing_since: datetime | None = None

    @property
    def state(self) -> str:
        """Return "disabled", "failing", "stale" or "ok"."""
        if self.disabled_by:
            return "disabled"
        if self.error_count:
            return "failing"
        return "stale" if self.stale else "ok"

    @property
    def disabled_by(self) -> str | None:
        """Return who disabled the source: "newswatch", "config", or None."""
        if self.disabled_reason is not None:
            return "newswatch"
        return None if self.enabled else "config"

    @property
    def moved_from(self) -> str | None:
        """Return the configured URL when a permanent redirect moved the source."""
        if self.configured_url is None or self.configured_url == self.url:
            return None
        return self.configured_url

    @property
    def notes(self) -> str:
        """Return why the source is disabled, and where it moved from, in one line."""
        parts = []
        if self.disabled_reason is not None:
            when = f" on {self.disabled_at:%Y-%m-%d}" if self.disabled_at else ""
            parts.append(f"disabled by newswatch{when}: {self.disabled_reason}")
        elif not self.enabled:
            parts.append("disabled in the config (enabled = false, or removed)")
        if self.moved_from is not None:
            when = f" on {self.moved_at:%Y-%m-%d}" if self.moved_at else ""
            parts.append(f"moved permanently{when} from {self.moved_from}")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict, times in ISO 8601."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["state"] = self.state
        data["disabled_by"] = self.disabled_by
        data["moved_from"] = self.moved_from
        data["notes"] = self.notes
        return data


def source_health(db: Database, now: datetime) -> list[SourceHealth]:
    """Return every source with its polling state and article counts, by name."""

    def since(moment: datetime) -> Any:
        return func.count(case((Sighting.seen_at >= moment, Sighting.article_id)))

    articles = (
        select(
            Sighting.source_id,
            func.count(Sighting.article_id).label("all"),
            since(now - timedelta(days=1)).label("day"),
            since(now - timedelta(days=7)).label("week"),
        )
        .group_by(Sighting.source_id)
        .subquery()
    )
    stmt = (
        select(
            Source,
            func.coalesce(articles.c.all, 0),
            func.coalesce(articles.c.day, 0),
            func.coalesce(articles.c.week, 0),
        )
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
                articles_24h=int(day),
                articles_7d=int(week),
                stale=_stale(row, now),
                configured_url=row.configured_url,
                moved_at=row.moved_at,
                disabled_reason=row.disabled_reason,
                disabled_at=row.disabled_at,
                failing_since=row.failing_since,
            )
            for row, count, day, week in session.execute(stmt)
        ]


def _stale(row: Source, now: datetime) -> bool:
    """Whether a checked source has brought nothing new for far longer than its rhythm."""
    if row.last_checked_at is None:
        return False
    quiet_since = row.last_new_at or row.created_at
    return now - quiet_since > max(STALE_MIN, timedelta(seconds=row.interval_s * STALE_INTERVALS))
