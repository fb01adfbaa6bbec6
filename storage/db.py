"""Open the database: engine, sessions, migrations and the daemon lock."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from storage.exceptions import DatabaseLocked, DatabaseUnavailable, StorageError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration in MIGRATIONS_DIR (tests/test_storage_db.py checks it against
# Alembic's own reading): a database at this revision needs no upgrade, and opening it
# loads no Alembic, which a process would otherwise keep for good (some 11 MB).
SCHEMA_HEAD = "0007"
# SQLite's WAL is checkpointed into the database file once it holds this many pages
# (40 MB at the default 4 KB page size); the WAL file stays that large between
# checkpoints.
WAL_CHECKPOINT_PAGES = 10_000
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Prepared statements each SQLite connection keeps (Python's default is 128). Statements
# with IN lists and multi-row VALUES differ with their lengths, so most run once, yet a
# compiled one of hundreds of parameters holds tens of kilobytes: with the default, a full
# poll of 1,000 feeds left 35 MB of them in the pooled connections. The few statements
# that repeat (the sighting lookups, BEGIN) fit in a small cache.
SQLITE_CACHED_STATEMENTS = 16
PG_CONNECT_TIMEOUT_S = 10
# Any constant shared by every newswatch process: serialises schema upgrades on PostgreSQL.
PG_UPGRADE_LOCK_KEY = 0x6E657773  # "news"
# serialization_failure, deadlock_detected: the transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
WRITE_ATTEMPTS = 4
# A PostgreSQL server that restarts, or an administrator who ends our backends: class 08
# (connection exception), admin_shutdown, crash_shutdown, cannot_connect_now.
# https://www.postgresql.org/docs/current/errcodes-appendix.html
RECONNECT_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# The pauses before each new attempt when the database is away (a lost connection) or
# busy (SQLite: another process held the write lock past busy_timeout). 7.5 s in all,
# plus the attempts' own waits: enough for a server restart or a long write elsewhere,
# short enough that a clean stop still fits in systemd's 90 s. After that the work
# fails, the sources affected record it, and a later poll fetches them again.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the packaged migrations, without an alembic.ini."""
    from alembic.config import Config  # only when migrating (see SCHEMA_HEAD)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def mask_password(url: str) -> str:
    """Return `url` (or any text) with every password replaced by ***, parsed or not.

    Both the user-info password (`scheme://user:secret@host`) and a libpq-style
    `password=secret` query parameter are masked.
    """
    url = re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", url)
    return re.sub(r"([?&]password=)[^&\s]*", r"\1***", url, flags=re.IGNORECASE)


def one_line(error: BaseException) -> str:
    """Return the first line of a driver error, without SQLAlchemy's SQL and hints."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _is_conflict(error: OperationalError) -> bool:
    """PostgreSQL chose this transaction to fail (deadlock, serialization): run it again."""
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def _is_transient(error: OperationalError) -> bool:
    """The database is away or busy for now: try again after a pause."""
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        # "database is locked": another connection kept the write lock past busy_timeout.
        return orig.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    if error.connection_invalidated:  # SQLAlchemy saw the connection die (is_disconnect)
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:
        # psycopg gives no SQLSTATE when no server answered: refused, reset, timed out.
        return type(orig).__module__.startswith("psycopg")
    return str(sqlstate).startswith("08") or sqlstate in RECONNECT_SQLSTATES


class Database:
    """A newswatch database: an engine plus what the daemon needs around it."""

    def __init__(
        self, engine: Engine, url: URL, retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    ) -> None:
        self.engine = engine
        self.url = url
        self.retry_delays_s = retry_delays_s
        # SQLite: writers start with BEGIN IMMEDIATE (see _configure_sqlite).
        self._write_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._lock_fd: int | None = None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
    ) -> Database:
        """Connect to `url` (SQLite or PostgreSQL) and check that the database answers.

        `busy_timeout_s` is how long a SQLite statement waits for another process's
        lock; `retry_delays_s` are the pauses of `read` and `write` before each retry.
        """
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseUnavailable(
                f"storage: cannot open database {mask_password(url)}: not a database URL"
            ) from exc
        shown = mask_password(parsed.render_as_string(hide_password=True))
        try:
            engine = _create_engine(parsed, busy_timeout_s)
            with engine.connect():
                pass
        except (ArgumentError, NoSuchModuleError, DBAPIError, OSError, StorageError) as exc:
            raise DatabaseUnavailable(
                f"storage: cannot open database {shown}: {one_line(exc)}"
            ) from exc
        return cls(engine, engine.url, retry_delays_s)

    @property
    def dialect(self) -> str:
        """Return the dialect name: "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def __deepcopy__(self, memo: dict[int, object]) -> Database:
        # Scrapy deep-copies its settings per crawler; the database is shared, not copied.
        return self

    @property
    def display_url(self) -> str:
        """Return the URL with its password masked, fit for logs and messages."""
        return mask_password(self.url.render_as_string(hide_password=True))

    @property
    def sqlite_path(self) -> Path | None:
        """Return the SQLite database file, or None for PostgreSQL and in-memory SQLite."""
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return Path(str(self.url.database))

    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """Yield a session in one transaction: committed on success, rolled back on error.

        Pass `write=True` for work that writes: on SQLite it takes the write lock up
        front, so a read-then-write transaction never fails on a stale snapshot.
        """
        try:
            with self._transaction(write) as session:
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"storage: database error on {self.display_url}: {one_line(exc)}"
            ) from exc

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Session]:
        with Session(self._write_engine if write else self.engine) as session, session.begin():
            yield session

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction, again if it could not complete.

        PostgreSQL's deadlocks and serialization failures are retried at once; a lost
        connection (a server restart) or a busy SQLite file after a pause (see
        RETRY_DELAYS_S). `work` must be idempotent: it may run more than once, and only
        the last run's transaction is committed.
        """
        return self._run(work, write=True)

    def read(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one read-only transaction, again after a lost connection."""
        return self._run(work, write=False)

    def _run(self, work: Callable[[Session], T], *, write: bool) -> T:
        conflicts = waits = 0
        while True:
            try:
                with self._transaction(write) as session:
                    return work(session)
            except OperationalError as exc:
                if _is_conflict(exc) and conflicts + 1 < WRITE_ATTEMPTS:
                    conflicts += 1
                    reason = "transaction conflict"
                    delay = 0.0
                elif _is_transient(exc) and waits < len(self.retry_delays_s):
                    delay = self.retry_delays_s[waits]
                    waits += 1
                    reason = "database unavailable"
                else:
                    raise self._gave_up(exc, conflicts + waits + 1) from exc
                log.warning(
                    "storage: %s, retrying attempt=%d delay=%.1fs reason=%s",
                    reason,
                    conflicts + waits,
                    delay,
                    one_line(exc),
                )
                time.sleep(delay)

    def _gave_up(self, error: OperationalError, attempts: int) -> StorageError:
        if _is_conflict(error):
            return StorageError(
                f"storage: gave up after {attempts} conflicting transactions: {one_line(error)}"
            )
        tries = f" (tried {attempts} times)" if attempts > 1 else ""
        return DatabaseUnavailable(
            f"storage: database error on {self.display_url}: {one_line(error)}{tries}"
        )

    def upgrade(self, *, elsewhere: bool = False) -> None:
        """Bring the schema up to the newest migration (alembic upgrade head).

        A database at SCHEMA_HEAD is left as it is, without loading Alembic. With
        `elsewhere`, a migration runs in a short-lived child process: the daemon, which
        runs for months, then never holds Alembic and its templates. Raises StorageError
        when the schema cannot be brought up to date.
        """
        try:
            if self.schema_revision() == SCHEMA_HEAD:
                return
        except (DBAPIError, OSError) as exc:
            raise _upgrade_failed(self.display_url, one_line(exc)) from exc
        if elsewhere:
            url = self.url.render_as_string(hide_password=False)
            error = _migrate_in_child(url, self.display_url)
            if error is not None:
                raise StorageError(error)
            return
        self._migrate()

    def schema_revision(self) -> str | None:
        """Return the schema's Alembic revision, or None for a database without one."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            found = versions.scalars().all()
        return found[0] if len(found) == 1 else None

    def _migrate(self) -> None:
        from alembic import command  # only when migrating (see SCHEMA_HEAD)
        from alembic.util import CommandError

        try:
            with self._write_engine.begin() as connection:
                if self.dialect == "postgresql":
                    # Two daemons starting together must not both create the tables.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_UPGRADE_LOCK_KEY}
                    )
                command.upgrade(alembic_config(connection=connection), "head")
        except (CommandError, DBAPIError, OSError) as exc:
            # A revision unknown here is a database written by a newer newswatch.
            raise _upgrade_failed(self.display_url, one_line(exc)) from exc

    def lock_daemon(self) -> None:
        """Refuse a second daemon on the same SQLite file; do nothing on PostgreSQL.

        The lock is an exclusive flock on `<dbfile>.lock`, released by `dispose()` or
        when the process dies, so a crash never leaves a stale lock behind.
        """
        path = self.sqlite_path
        if path is None or self._lock_fd is not None:
            return
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DatabaseLocked(
                f"storage: another newswatch daemon is already running on {path} (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._lock_fd = fd

    def dispose(self) -> None:
        """Close every pooled connection and release the daemon lock."""
        self.engine.dispose()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


def _create_engine(url: URL, busy_timeout_s: float) -> Engine:
    """Create an engine for a supported URL, with the settings the daemon relies on."""
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship; plain postgresql:// would mean psycopg2.
        if url.get_driver_name() in ("", "psycopg2", "postgres") or backend == "postgres":
            url = url.set(drivername="postgresql+psycopg")
        connect_args: dict[str, Any] = {
            # psycopg prepares a statement after 5 runs and PostgreSQL then may pick a
            # generic plan; for our IN lists of hundreds of keys that plan scans the
            # whole index (measured 90 ms instead of 4 ms per lookup of 500 keys).
            "prepare_threshold": None,
        }
        # connect_args win over the URL's query: set only what the URL leaves out.
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        if "application_name" not in url.query:
            connect_args["application_name"] = "newswatch"
        # Pre-ping: a daemon outlives server restarts and idle-connection reapers.
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend != "sqlite":
        raise StorageError(f"unsupported database {backend!r}; use sqlite or postgresql")
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every pooled connection would be its own empty database.
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={
                "check_same_thread": False,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
        )
    else:
        _make_folder(Path(str(url.database)).parent)
        # File SQLite pools connections and disables check_same_thread, so the engine
        # can serve asyncio.to_thread workers; each connection stays on one thread at a time.
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "cached_statements": SQLITE_CACHED_STATEMENTS},
        )
    _configure_sqlite(engine, int(busy_timeout_s * 1000))
    return engine


def nearest_existing(path: Path) -> Path:
    """Return `path`, or its nearest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _make_folder(folder: Path) -> None:
    """Create the SQLite file's folder, or say in one line why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        found = nearest_existing(folder)
        reason = f"{found} is a file, not a folder" if not found.is_dir() else exc.strerror
        raise StorageError(f"cannot create the folder {folder}: {reason}") from None


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the pragmas on every new connection and let us issue BEGIN ourselves."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN until the first write, which
        # breaks read-then-write atomicity; SQLAlchemy's documented fix is to disable it
        # and emit BEGIN in the "begin" event below.
        # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, much faster
            cursor.execute("PRAGMA foreign_keys = ON")
            # Statement journals and sorts in memory, not in temporary files: in a full
            # poll of 1,000 feeds (bench/poll.py) the store batches' multi-row statements
            # wrote 410 MB of them to /var/tmp, of the 1,010 MB the daemon wrote in all.
            cursor.execute("PRAGMA temp_store = MEMORY")
            # Each checkpoint copies every page changed since the last one into the file
            # and syncs it. The band index's pages change in every batch: with SQLite's
            # default (1,000 pages) that poll wrote 190 MB more than with WAL_CHECKPOINT_PAGES.
            cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _upgrade_failed(shown_url: str, reason: str) -> StorageError:
    return StorageError(f"storage: cannot upgrade the schema of {shown_url}: {reason}")


def _migrate_in_child(url: str, shown_url: str) -> str | None:
    """Run `Database.upgrade()` on `url` in a fresh process; return its error message.

    A spawned process (never a fork of the caller, which may run threads) with the
    caller's import path; the URL, password included, goes through a pipe, not argv.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_migrate_here,
        args=(url, shown_url, sender),
        name="newswatch-migrate",
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        error: str | None = receiver.recv()
    except EOFError:  # it died without a word: killed, or out of memory
        child.join()
        reason = f"the migration process ended with exit code {child.exitcode}"
        return str(_upgrade_failed(shown_url, reason))
    finally:
        receiver.close()
    child.join()
    return error


def _migrate_here(url: str, shown_url: str, sender: Pipe) -> None:
    """The migration process: upgrade in-process, then send None or the error message."""
    try:
        database = Database.open(url)
        try:
            database.upgrade()
        finally:
            database.dispose()
    except StorageError as exc:
        sender.send(str(exc))
    except Exception as exc:  # any failure goes back to the daemon, as text
        sender.send(str(_upgrade_failed(shown_url, one_line(exc))))
    else:
        sender.send(None)
    finally:
        sender.close()
