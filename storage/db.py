"""Open the database: engine, sessions, migrations and the daemon lock."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from storage.exceptions import DatabaseLocked, DatabaseUnavailable, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10
# Any constant shared by every newswatch process: serialises schema upgrades on PostgreSQL.
PG_UPGRADE_LOCK_KEY = 0x6E657773  # "news"
# serialization_failure, deadlock_detected: the transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
WRITE_ATTEMPTS = 4


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the packaged migrations, without an alembic.ini."""
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


def _is_retryable(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


class Database:
    """A newswatch database: an engine plus what the daemon needs around it."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self.engine = engine
        self.url = url
        # SQLite: writers start with BEGIN IMMEDIATE (see _configure_sqlite).
        self._write_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._lock_fd: int | None = None

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect to `url` (SQLite or PostgreSQL) and check that the database answers."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseUnavailable(
                f"storage: cannot open database {mask_password(url)}: not a database URL"
            ) from exc
        shown = mask_password(parsed.render_as_string(hide_password=True))
        try:
            engine = _create_engine(parsed)
            with engine.connect():
                pass
        except (ArgumentError, NoSuchModuleError, DBAPIError, OSError, StorageError) as exc:
            raise DatabaseUnavailable(
                f"storage: cannot open database {shown}: {one_line(exc)}"
            ) from exc
        return cls(engine, engine.url)

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
        with Session(self._write_engine if write else self.engine) as session:
            try:
                with session.begin():
                    yield session
            except OperationalError as exc:
                if _is_retryable(exc):
                    raise
                raise DatabaseUnavailable(
                    f"storage: database error on {self.display_url}: {one_line(exc)}"
                ) from exc

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction, again if PostgreSQL reports a deadlock.

        `work` must be idempotent: it may run more than once, and only the last run's
        transaction is committed.
        """
        attempt = 1
        while True:
            try:
                with self.session(write=True) as session:
                    return work(session)
            except OperationalError as exc:
                if not _is_retryable(exc):
                    raise
                if attempt == WRITE_ATTEMPTS:
                    raise StorageError(
                        f"storage: gave up after {attempt} conflicting transactions: "
                        f"{one_line(exc)}"
                    ) from exc
                log.warning(
                    "storage: transaction conflict, retrying attempt=%d reason=%s",
                    attempt,
                    one_line(exc),
                )
                attempt += 1

    def upgrade(self) -> None:
        """Bring the schema up to the newest migration (alembic upgrade head)."""
        with self._write_engine.begin() as connection:
            if self.dialect == "postgresql":
                # Two daemons starting together must not both create the tables.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_UPGRADE_LOCK_KEY}
                )
            command.upgrade(alembic_config(connection=connection), "head")

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


def _create_engine(url: URL) -> Engine:
    """Create an engine for a supported URL, with the settings the daemon relies on."""
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship; plain postgresql:// would mean psycopg2.
        if url.get_driver_name() in ("", "psycopg2", "postgres") or backend == "postgres":
            url = url.set(drivername="postgresql+psycopg")
        connect_args: dict[str, Any] = {
            "application_name": "newswatch",
            # psycopg prepares a statement after 5 runs and PostgreSQL then may pick a
            # generic plan; for our IN lists of hundreds of keys that plan scans the
            # whole index (measured 90 ms instead of 4 ms per lookup of 500 keys).
            "prepare_threshold": None,
        }
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        # Pre-ping: a daemon outlives server restarts and idle-connection reapers.
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend != "sqlite":
        raise StorageError(f"unsupported database {backend!r}; use sqlite or postgresql")
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every pooled connection would be its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        # File SQLite pools connections and disables check_same_thread, so the engine
        # can serve asyncio.to_thread workers; each connection stays on one thread at a time.
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
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
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, much faster
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
