"""Claims on due sources: each daemon leases the sources it polls (see DESIGN.md).

Several daemons on one PostgreSQL each claim a batch of due sources with
`SELECT ... FOR UPDATE SKIP LOCKED`: a row another daemon is claiming at that moment is
skipped rather than waited for, and a claimed row carries a lease (`claimed_by`,
`claimed_until`) that keeps the others off it until the check is recorded. A daemon that
dies leaves its leases behind; they run out and the sources are claimed again. This is
MediaCloud rss-fetcher's pattern: the database is the queue, no broker needed.

SQLite takes the same path: SQLAlchemy leaves FOR UPDATE out there, and the write
transaction (BEGIN IMMEDIATE) already serialises claims; a second daemon on one SQLite
file is refused anyway (`Database.lock_daemon`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Source
from storage.records import SourceState
from storage.sources import _state as source_state
from storage.sql import chunked, rowcount


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(Source.claimed_until.is_(None), Source.claimed_until <= now)


def claim_due(
    db: Database,
    owner: str,
    now: datetime,
    lease_s: int,
    limit: int | None,
    kinds: Sequence[str] = ("feed",),
    *,
    reclaim: bool = False,
) -> list[SourceState]:
    """Lease up to `limit` (None: all) enabled sources due at `now` to `owner`, the longest
    overdue first.

    A source leased to another daemon whose lease has not run out is never returned, nor
    one leased to `owner`, unless `reclaim`. A daemon that claims only when it holds no
    batch passes it: a lease of its own is then a leftover (a claim that committed while
    its answer was lost, or a release that failed), and waiting for it to run out would
    skip the feed for minutes.
    """

    def work(session: Session) -> list[SourceState]:
        stmt = (
            select(Source)
            .where(
                Source.enabled.is_(True),
                Source.kind.in_(list(kinds)),
                Source.next_check_at <= now,
                or_(_unclaimed(now), Source.claimed_by == owner) if reclaim else _unclaimed(now),
            )
            .order_by(Source.next_check_at, Source.id)
            .limit(limit)  # LIMIT NULL is no limit
            # Skip, not wait for, rows another daemon is claiming in this instant.
            .with_for_update(skip_locked=True)
        )
        rows = list(session.scalars(stmt))
        until = now + timedelta(seconds=lease_s)
        for row in rows:
            row.claimed_by = owner
            row.claimed_until = until
        return [source_state(row) for row in rows]

    return db.write(work)


def claim_run(db: Database, name: str, kind: str, now: datetime, next_due: datetime) -> bool:
    """Take the run of source `name` due at `now`: say whether this call took it.

    A run is taken by moving the source's next check to `next_due` (just before its
    next scheduled run), in one UPDATE, if it was due: of several daemons whose
    schedules fire together, the first takes the run, and the others, re-reading the row
    once its lock is released (PostgreSQL) or waiting for the write lock (SQLite), find
    it no longer due. A next check later than `next_due` is due too: it was set under an
    older, sparser schedule, and would otherwise skip the runs of the new one.
    """

    def work(session: Session) -> bool:
        stmt = (
            update(Source)
            .where(
                Source.name == name,
                Source.kind == kind,
                Source.enabled.is_(True),
                or_(Source.next_check_at <= now, Source.next_check_at > next_due),
            )
            .values(next_check_at=next_due)
        )
        return rowcount(session.execute(stmt)) == 1

    return db.write(work)


def renew_claims(db: Database, owner: str, ids: Sequence[int], until: datetime) -> int:
    """Extend `owner`'s leases on these sources to `until`; return how many it still held."""
    return _update_claims(db, owner, ids, {"claimed_until": until})


def release_claims(db: Database, owner: str, ids: Sequence[int]) -> int:
    """Give up `owner`'s leases on these sources; return how many it held."""
    return _update_claims(db, owner, ids, {"claimed_by": None, "claimed_until": None})


def _update_claims(db: Database, owner: str, ids: Sequence[int], values: dict[str, object]) -> int:
    if not ids:
        return 0

    def work(session: Session) -> int:
        count = 0
        for chunk in chunked(sorted(set(ids))):
            stmt = (
                update(Source)
                .where(Source.id.in_(chunk), Source.claimed_by == owner)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            count += rowcount(session.execute(stmt))
        return count

    return db.write(work)


def waiting_sources(db: Database, now: datetime, kinds: Sequence[str] = ("feed",)) -> int:
    """Return how many enabled sources are due at `now` and claimed by no daemon."""
    stmt = select(func.count()).where(
        Source.enabled.is_(True),
        Source.kind.in_(list(kinds)),
        Source.next_check_at <= now,
        _unclaimed(now),
    )
    with db.session() as session:
        return int(session.scalar(stmt) or 0)


def forget_claims(db: Database) -> int:
    """Drop every lease; return how many there were.

    Only for a daemon holding the single-daemon lock of a SQLite file: no other daemon
    can be polling, so leases left by a killed predecessor are stale, and waiting for
    them to run out would only delay the restart.
    """

    def work(session: Session) -> int:
        stmt = (
            update(Source)
            .where(Source.claimed_by.is_not(None))
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return rowcount(session.execute(stmt))

    return db.write(work)
