"""The record of a named export's runs and the ledger that makes each item go out once.

Why not a watermark on `first_seen_at` or on the article id: a row is stamped before
its transaction commits. A batch stamped 10:00:00 that commits at 10:00:05 is invisible
to an export reading at 10:00:02, and a watermark of "10:00:02" or "the highest id
seen" would then skip it for ever (ids are handed out before commit, too). So:

1. **Claim.** A run first records itself as *pending* (its day, its start time) and, in
   the same transaction, inserts into the ledger `export_items` every stored article
   (revision, with `include_updates`) that matches the export and is not in the ledger
   yet, among those first seen (or revised) at or after the *window start*: the previous
   finished run's start minus `SAFETY_MARGIN`. The margin is longer than any write
   transaction (SQLite's 10 s busy wait, PostgreSQL retries) and any clock difference
   between daemons, so a row committed after a run read the table still falls in the
   next run's window, and the ledger keeps the rows that were already exported out.
2. **Write.** The day's files are written from the ledger rows of that day's runs, to
   temporary files, fsynced, renamed into place, the directory fsynced; then the
   manifest the same way (`storage.export_files`).
3. **Finish.** The run is marked done and `exports.watermark` set to its id in one
   transaction; ledger rows that no later window can reach are pruned.

A process killed anywhere leaves either nothing (killed during the claim: rolled back)
or a pending run with its items claimed. The next run of that export finds the pending
run and writes the same day's files again from the same ledger rows, so the day's files
hold each item once whatever step was interrupted. The ledger's primary key (export,
article, revision) and the partial unique index that allows one pending run per export
mean that two writers cannot both claim an item. A process that resumes a pending run
another one is still writing writes the same items; whichever finds the run already
finished before its renames drops its files, so a later run's files are never replaced
by older ones (but for the moment between that check and the renames). Making the run a
singleton across daemons (a PostgreSQL advisory lock) belongs around
`storage.daily_export.run_export`.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    and_,
    delete,
    exists,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.export_rows import matches_topics, stream_rows
from storage.models import Article, Export, ExportItem, ExportRun
from storage.records import ExportRow, ExportRunState, ExportSpec
from storage.sql import insert_ignoring_conflicts

# Longer than any write transaction and any clock skew between daemons (see above).
SAFETY_MARGIN = timedelta(hours=1)
PENDING, DONE = "pending", "done"


def start_run(
    db: Database, spec: ExportSpec, day: str, now: datetime, margin: timedelta = SAFETY_MARGIN
) -> ExportRunState:
    """Return the export's pending run if there is one, else record a run and claim its items.

    `now` must be read before this is called: it bounds the next run's window.
    """

    def work(session: Session) -> ExportRunState:
        export_id = _export_id(session, spec.name)
        pending = _pending(session, export_id)
        if pending is not None:
            return _state(pending, resumed=True)
        previous = session.scalar(
            select(ExportRun.started_at)
            .where(ExportRun.export_id == export_id, ExportRun.status == DONE)
            .order_by(ExportRun.id.desc())
            .limit(1)
        )
        run = ExportRun(
            export_id=export_id,
            day=day,
            status=PENDING,
            started_at=now,
            window_start=None if previous is None else previous - margin,
        )
        session.add(run)
        session.flush()
        _claim(session, spec, run)
        return _state(run)

    try:
        return db.write(work)
    except IntegrityError:
        # Another writer recorded its pending run first: that is the run to finish.
        return db.write(work)


def pending_run(db: Database, name: str) -> ExportRunState | None:
    """Return the export's unfinished run, or None."""
    with db.session() as session:
        export_id = session.scalar(select(Export.id).where(Export.name == name))
        run = None if export_id is None else _pending(session, export_id)
        return None if run is None else _state(run, resumed=True)


def is_pending(db: Database, run: ExportRunState) -> bool:
    """Return whether the run is still unfinished (no other process finished it)."""
    with db.session() as session:
        status = session.scalar(select(ExportRun.status).where(ExportRun.id == run.id))
    return status == PENDING


def last_finished(db: Database, name: str) -> datetime | None:
    """Return when the export's last finished run started, or None if none has."""
    with db.session() as session:
        return session.scalar(
            select(ExportRun.started_at)
            .join(Export, Export.id == ExportRun.export_id)
            .where(Export.name == name, ExportRun.status == DONE)
            .order_by(ExportRun.id.desc())
            .limit(1)
        )


def day_rows(db: Database, run: ExportRunState) -> Generator[ExportRow, None, None]:
    """Return the articles the day's runs of this export claimed, by id, streaming."""
    return stream_rows(db, [Article.id.in_(_day_items(run))])


def day_window(db: Database, run: ExportRunState) -> tuple[datetime | None, datetime]:
    """Return the day's window: the first run's window start and the last run's start."""
    with db.session() as session:
        starts = session.execute(
            select(ExportRun.window_start, ExportRun.started_at)
            .where(ExportRun.export_id == run.export_id, ExportRun.day == run.day)
            .order_by(ExportRun.id)
        ).all()
    return starts[0][0], starts[-1][1]


def finish_run(
    db: Database,
    run: ExportRunState,
    count: int,
    now: datetime,
    margin: timedelta = SAFETY_MARGIN,
) -> bool:
    """Mark the run done and move the watermark; False if another process finished it."""

    def work(session: Session) -> bool:
        done = session.execute(
            update(ExportRun)
            .where(ExportRun.id == run.id, ExportRun.status == PENDING)
            .values(status=DONE, finished_at=now, count=count)
        )
        if not isinstance(done, CursorResult) or done.rowcount == 0:
            return False
        session.execute(
            update(Export)
            .where(Export.id == run.export_id)
            .values(watermark=run.id, last_run_at=now, last_count=count)
        )
        if run.window_start is not None:
            # Items of runs that started a margin before this window are out of reach
            # of every later window (their rows were read before it began).
            old_runs = select(ExportRun.id).where(
                ExportRun.export_id == run.export_id,
                ExportRun.day < run.day,
                ExportRun.status == DONE,
                ExportRun.started_at < run.window_start - margin,
            )
            session.execute(
                delete(ExportItem).where(
                    ExportItem.export_id == run.export_id, ExportItem.run_id.in_(old_runs)
                )
            )
        return True

    return db.write(work)


def _export_id(session: Session, name: str) -> int:
    session.execute(insert_ignoring_conflicts(session, Export.__table__).values(name=name))
    export_id = session.scalar(select(Export.id).where(Export.name == name))
    assert export_id is not None  # inserted just above, or already there
    return export_id


def _pending(session: Session, export_id: int) -> ExportRun | None:
    return session.scalar(
        select(ExportRun).where(ExportRun.export_id == export_id, ExportRun.status == PENDING)
    )


def _state(run: ExportRun, *, resumed: bool = False) -> ExportRunState:
    return ExportRunState(
        id=run.id,
        export_id=run.export_id,
        day=run.day,
        started_at=run.started_at,
        window_start=run.window_start,
        resumed=resumed,
    )


def _claim(session: Session, spec: ExportSpec, run: ExportRun) -> int:
    """Insert the run's items into the ledger in one statement; return how many."""
    exported = exists().where(
        ExportItem.export_id == run.export_id, ExportItem.article_id == Article.id
    )
    if spec.include_updates:
        exported = exported.where(ExportItem.revision == Article.revision)
    criteria: list[ColumnElement[bool]] = [~exported]
    if run.window_start is not None:
        fresh = Article.first_seen_at >= run.window_start
        if spec.include_updates:
            revised = and_(Article.revision > 1, Article.updated_at >= run.window_start)
            fresh = or_(fresh, revised)
        criteria.append(fresh)
    if spec.claimed_topics:
        criteria.append(matches_topics(spec.claimed_topics))
    if not spec.include_duplicates:
        criteria.append(Article.duplicate_of.is_(None))
    candidates = select(
        literal(run.export_id), Article.id, Article.revision, literal(run.id)
    ).where(*criteria)
    columns = ["export_id", "article_id", "revision", "run_id"]
    claimed = session.execute(
        insert_ignoring_conflicts(session, ExportItem.__table__).from_select(columns, candidates)
    )
    return claimed.rowcount if isinstance(claimed, CursorResult) else 0


def _day_items(run: ExportRunState) -> Select[int]:
    return (
        select(ExportItem.article_id)
        .join(ExportRun, ExportRun.id == ExportItem.run_id)
        .where(ExportRun.export_id == run.export_id, ExportRun.day == run.day)
    )
