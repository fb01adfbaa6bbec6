"""Opening the database: pragmas, migrations, UTC times, errors and the daemon lock."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm import Session

from storage.db import SCHEMA_HEAD, WAL_CHECKPOINT_PAGES, Database, alembic_config
from storage.exceptions import DatabaseLocked, DatabaseUnavailable, StorageError
from storage.models import Base, Source
from storage.records import SourceSpec
from storage.sources import sync_sources
from tests.conftest import PG_URL, migrated


def test_open_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "newswatch.db"
    db = Database.open(f"sqlite:///{path}")
    try:
        db.upgrade()
        assert path.exists()
        with db.session() as session:
            pragma = {
                name: session.execute(text(f"PRAGMA {name}")).scalar()
                for name in (
                    *("journal_mode", "foreign_keys", "busy_timeout", "synchronous"),
                    *("temp_store", "wal_autocheckpoint"),
                )
            }
        assert pragma == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 10_000,
            "synchronous": 1,  # NORMAL
            "temp_store": 2,  # MEMORY
            "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
        }
    finally:
        db.dispose()


def test_schema_matches_models_after_upgrade(database: Database) -> None:
    database.upgrade()  # a second upgrade is a no-op
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_schema_head_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_an_up_to_date_database_is_opened_without_alembic(database_url: str) -> None:
    """The daemon's way: a migration runs in a child process, and the daemon's own
    process never imports Alembic, neither to migrate nor to see that it need not."""
    script = (
        "import sys\n"
        "from storage.db import Database\n"
        "db = Database.open(sys.argv[1])\n"
        "db.upgrade(elsewhere=True)\n"
        "first = db.schema_revision()\n"
        "db.upgrade(elsewhere=True)\n"
        "db.upgrade()\n"
        "print(first, db.schema_revision(), sorted(m for m in sys.modules if 'alembic' in m))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == [SCHEMA_HEAD, SCHEMA_HEAD, "[]"]
    with migrated(database_url) as db, db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


@pytest.mark.parametrize("elsewhere", [False, True], ids=["here", "in a child process"])
def test_a_database_from_a_newer_version_is_one_clear_error(
    database: Database, elsewhere: bool
) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(StorageError) as caught:
        database.upgrade(elsewhere=elsewhere)
    message = str(caught.value)
    assert message.startswith("storage: cannot upgrade the schema of "), message
    assert "0999" in message and "\n" not in message, message
    assert database.schema_revision() == "0999"  # left as it was


def test_times_come_back_aware_utc(database: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 10, 15, 10, 0, 0, 123456, tzinfo=plus_two)
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/")], 900, local)
    with database.session() as session:
        stored = session.scalars(select(Source.next_check_at)).one()
        later = session.scalars(
            select(Source.name).where(
                Source.next_check_at < datetime(2024, 10, 15, 8, 1, tzinfo=UTC)
            )
        ).all()
    assert stored == datetime(2024, 10, 15, 8, 0, 0, 123456, tzinfo=UTC)
    assert stored.tzinfo is UTC
    assert later == ["a"]


def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        sync_sources(
            database, [SourceSpec("a", "feed", "http://a.test/")], 900, datetime(2024, 1, 1)
        )


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://user:secret@localhost/db",
        "postgresql+psycopg://user:secret@127.0.0.1:1/db",
        "sqlite:////proc/no/such/dir/newswatch.db",
    ],
)
def test_unusable_url_is_one_clear_line(url: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        Database.open(url)
    message = str(caught.value)
    assert message.startswith("storage: cannot open database ")
    assert "\n" not in message
    assert "secret" not in message


def test_display_url_masks_password(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.dialect == "sqlite"
        assert db.display_url == f"sqlite:///{tmp_path / 'x.db'}"
    finally:
        db.dispose()


def test_second_daemon_on_same_file_is_refused(sqlite_url: str) -> None:
    first = Database.open(sqlite_url)
    second = Database.open(sqlite_url)
    try:
        first.lock_daemon()
        first.lock_daemon()  # the holder may ask again
        with pytest.raises(DatabaseLocked) as caught:
            second.lock_daemon()
        assert str(caught.value) == (
            f"storage: another newswatch daemon is already running on "
            f"{first.sqlite_path} (pid {os.getpid()})"
        )
        first.dispose()
        second.lock_daemon()  # released on dispose
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.skipif(not PG_URL, reason="NEWSWATCH_TEST_DATABASE_URL is not set")
def test_postgresql_needs_no_daemon_lock_and_defaults_to_psycopg(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    first, second = Database.open(plain), Database.open(plain)
    try:
        assert first.engine.dialect.driver == "psycopg"
        first.lock_daemon()
        second.lock_daemon()  # several daemons may share PostgreSQL
    finally:
        first.dispose()
        second.dispose()


class DriverError(Exception):
    """A stand-in for a driver exception carrying a SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def test_write_runs_again_after_a_deadlock(database: Database) -> None:
    attempts = []

    def work(session: Session) -> str:
        attempts.append(session.execute(text("SELECT 1")).scalar())
        if len(attempts) < 3:
            raise OperationalError("UPDATE ...", {}, DriverError("deadlock detected", "40P01"))
        return "stored"

    assert database.write(work) == "stored"
    assert attempts == [1, 1, 1]


def test_other_operational_errors_are_one_storage_line(database: Database) -> None:
    def work(session: Session) -> None:
        raise OperationalError("INSERT ...", {}, DriverError("disk I/O error\nmore", "58030"))

    with pytest.raises(DatabaseUnavailable) as caught:
        database.write(work)
    assert str(caught.value) == f"storage: database error on {database.display_url}: disk I/O error"
