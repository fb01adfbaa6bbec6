"""A busy or vanished database is waited for and retried, not fatal (storage/db.py).

SQLite: another process holds the write lock (BEGIN IMMEDIATE) past busy_timeout.
PostgreSQL: the server ends our backends, idle or in the middle of a transaction, as a
restart or an administrator's pg_terminate_backend does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.orm import Session

from storage.articles import store_articles
from storage.db import Database
from storage.exceptions import DatabaseUnavailable
from storage.models import Article
from storage.records import ArticleRecord, SourceSpec
from storage.sources import due_sources, sync_sources

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
BUSY_TIMEOUT_S = 0.2


def record(source_id: int, n: int) -> ArticleRecord:
    url = f"http://x.test/{n}"
    return ArticleRecord(source_id, f"key-{n}", url, url, f"hash-{n}", title=f"Story {n}")


def with_source(db: Database) -> int:
    """Migrate `db`, add one feed source, and return its id."""
    db.upgrade()
    sync_sources(db, [SourceSpec("a", "feed", "http://a.test/feed.xml")], 900, NOW)
    (source,) = due_sources(db, NOW)
    return source.id


def titles(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(Article.title)))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[Database, Path, int]]:
    """A migrated SQLite database with a short busy timeout, its file, and a source id."""
    path = tmp_path / "newswatch.db"
    db = Database.open(f"sqlite:///{path}", busy_timeout_s=BUSY_TIMEOUT_S)
    try:
        yield db, path, with_source(db)
    finally:
        db.dispose()


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Take the SQLite write lock from another connection and keep it for `seconds`."""
    locked = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE sources SET interval_s = interval_s")
            locked.set()
            time.sleep(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=hold, name="lock-holder")
    thread.start()
    assert locked.wait(5), "the other connection never got the lock"
    return thread


def test_a_write_waits_for_a_lock_held_past_the_busy_timeout(
    sqlite_db: tuple[Database, Path, int], caplog: pytest.LogCaptureFixture
) -> None:
    db, path, source = sqlite_db
    holder = hold_write_lock(path, 1.5)  # seven busy timeouts
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        stats = store_articles(db, [record(source, 1), record(source, 2)], NOW)
    waited = time.monotonic() - started
    holder.join()

    assert stats.new == 2
    assert titles(db) == ["Story 1", "Story 2"]
    assert waited >= 1.0, "the write cannot have gone through while the lock was held"
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries and all("database is locked" in message for message in retries), retries


def test_a_lock_that_is_never_released_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.db"
    db = Database.open(f"sqlite:///{path}", busy_timeout_s=0.05, retry_delays_s=(0.05, 0.1))
    try:
        source = with_source(db)
        holder = hold_write_lock(path, 1.0)
        with pytest.raises(DatabaseUnavailable) as caught:
            store_articles(db, [record(source, 1)], NOW)
        holder.join()
        message = str(caught.value)
        assert message.startswith("storage: database error on sqlite:///"), message
        assert "database is locked (tried 3 times)" in message and "\n" not in message
        # Nothing was half-written, and the database works once the lock is gone.
        assert titles(db) == []
        assert store_articles(db, [record(source, 1)], NOW).new == 1
    finally:
        db.dispose()


# --------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture
def pg_named(pg_url: str) -> Iterator[tuple[Database, str, int]]:
    """A migrated PostgreSQL database whose connections carry a unique application_name."""
    name = f"nw-retry-{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).update_query_dict({"application_name": name})
    db = Database.open(url.render_as_string(hide_password=False))
    try:
        yield db, name, with_source(db)
    finally:
        db.dispose()


def terminate(pg_url: str, application_name: str) -> int:
    """End every backend of that application, as a server restart would; return how many."""
    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": application_name},
            ).scalar()
    finally:
        engine.dispose()
    return int(ended or 0)


def test_postgresql_pool_reconnects_after_its_backends_are_ended(
    pg_url: str, pg_named: tuple[Database, str, int]
) -> None:
    db, name, source = pg_named
    store_articles(db, [record(source, 1)], NOW)
    assert terminate(pg_url, name) >= 1  # the pooled, idle connection
    assert store_articles(db, [record(source, 2)], NOW).new == 1
    assert titles(db) == ["Story 1", "Story 2"]


def test_postgresql_transaction_cut_by_the_server_is_run_again(
    pg_named: tuple[Database, str, int], caplog: pytest.LogCaptureFixture
) -> None:
    db, _, source = pg_named
    runs: list[int] = []

    def work(session: Session) -> int:
        session.execute(
            text("INSERT INTO topics (name, query, updated_at) VALUES ('t', 'q', now())")
        )
        runs.append(1)
        if len(runs) == 1:
            # The server ends this very backend in the middle of the transaction.
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return len(runs)

    with caplog.at_level(logging.WARNING, logger="storage.db"):
        assert db.write(work) == 2
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM topics")) == 1
    assert any("database unavailable, retrying" in r.getMessage() for r in caplog.records)
    # The reads the daemon's tick makes come back too.
    assert [s.id for s in due_sources(db, NOW)] == [source]
