"""Run the real `newswatch run` daemon in a subprocess, and read what it stored.

Used by `tests/test_daemon.py`. The daemon runs in its own session (process group), so a
teardown can kill it together with its worker processes, whatever state it is in. Its
stderr goes to a file rather than a pipe: nothing can block on a full pipe, and a child
that outlives the daemon cannot hold a reader open.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.exceptions import StorageError
from storage.models import Article, ArticleTopic, Sighting, Source, Topic
from tests.feedserver import FeedServer

NEWSWATCH = Path(sys.executable).parent / "newswatch"
REPO = Path(__file__).resolve().parent.parent

TOPIC_NAME = "dprk-russia"
TOPIC_QUERY = '("North Korea" OR "North Korean" OR DPRK) AND (Russia OR Ukraine)'


# --------------------------------------------------------------------------------------
# Config


@dataclass(frozen=True)
class FeedSpec:
    """One `[[feeds]]` table, served by the test's FeedServer at `path`."""

    name: str
    path: str
    interval: str = "1s"
    full_text: bool = False


def write_config(
    directory: Path,
    server: FeedServer,
    feeds: Sequence[FeedSpec],
    *,
    tick: str = "1s",
    timeout: str = "5s",
    per_host: int = 2,
    max_bytes: int | None = None,
    max_interval: str = "1h",
) -> Path:
    """Write `directory/config.toml` and return its path.

    The database is `directory/newswatch.db` (NEWSWATCH_DATABASE_URL overrides it). All
    feeds are on one host, so `per_host` is what limits the requests in flight (two by
    default).
    """
    url = sqlite_url(directory / "config.toml")
    lines = [
        "[storage]",
        f"url = {json.dumps(url)}",
        "",
        "[daemon]",
        f'tick = "{tick}"',
        'user_agent = "newswatch-tests (+mailto:tests@example.org)"',
        "concurrency = 16",
        f"per_host = {per_host}",
        "",
        "[network]",
        # The test server is on 127.0.0.1, which the default refuses.
        "allow_private = true",
        f'timeout = "{timeout}"',
        *([f"max_bytes = {max_bytes}"] if max_bytes is not None else []),
        "",
        "[polling]",
        # Fixed feed intervals of a second or two sit below the usual floor.
        'default_interval = "1m"',
        'min_interval = "1s"',
        f'max_interval = "{max_interval}"',
        "",
        "[[topics]]",
        f'name = "{TOPIC_NAME}"',
        f"query = '{TOPIC_QUERY}'",
    ]
    for feed in feeds:
        lines += [
            "",
            "[[feeds]]",
            f'name = "{feed.name}"',
            f"url = {json.dumps(server.url(feed.path))}",
            f'interval = "{feed.interval}"',
            f"full_text = {'true' if feed.full_text else 'false'}",
        ]
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sqlite_url(config: Path) -> str:
    """Return the database URL `write_config` used by default for this config."""
    return f"sqlite:///{config.parent / 'newswatch.db'}"


# --------------------------------------------------------------------------------------
# Waiting


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    daemon: Daemon | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds or if `daemon` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if daemon is not None and daemon.returncode is not None:
            raise AssertionError(
                f"the daemon exited ({daemon.returncode}) while waiting for {what}\n"
                f"{daemon.stderr()}"
            )
        if time.monotonic() >= deadline:
            log = f"\n{daemon.stderr()}" if daemon is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{log}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# The daemon


class Daemon:
    """`newswatch --config CONFIG run` in a subprocess, in a session of its own."""

    def __init__(
        self,
        config: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.args = tuple(args)  # options of `run`
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        """Start the process; its stdout and stderr both go to `self.log`."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(NEWSWATCH), "--config", str(self.config), "run", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=REPO,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "the daemon was not started"
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def send(self, signum: signal.Signals, *, group: bool = False) -> None:
        """Send a signal to the daemon, or to its whole process group as a terminal does."""
        if group:
            os.killpg(self.pid, signum)
        else:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        """Wait for the daemon to exit and return its status (fails after `timeout`)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon did not exit within {timeout}s\n{self.stderr()}"
            ) from None

    def stop(
        self, timeout: float, signum: signal.Signals = signal.SIGTERM, *, group: bool = False
    ) -> tuple[int, float, str]:
        """Signal the daemon and wait; return its status, the seconds it took, and its log."""
        self.send(signum, group=group)
        stopped_at = time.monotonic()
        status = self.wait(timeout)
        return status, time.monotonic() - stopped_at, self.stderr()

    def group_alive(self) -> bool:
        """Return whether any process of the daemon's session is still alive."""
        if self.process is None:
            return False
        self.process.poll()  # reap the leader, or it counts as alive as a zombie
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - only a reused group id would do this
            return False
        return True

    def kill(self) -> None:
        """Kill the daemon and every process of its session; reap the daemon."""
        if self.process is None:
            return
        if self.group_alive():
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored; belt and braces
            self.process.wait(10)

    def stderr(self) -> str:
        """Return everything the daemon wrote so far."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@contextmanager
def running(
    config: Path, log: Path, env: Mapping[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[Daemon]:
    """Start the daemon and always kill it, with its workers, on the way out."""
    daemon = Daemon(config, log, env, args).start()
    try:
        yield daemon
    finally:
        daemon.kill()


def run_command(
    config: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot `newswatch` command and return its outcome."""
    return subprocess.run(
        [str(NEWSWATCH), "--config", str(config), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def assert_clean_log(text: str) -> None:
    """The daemon's output holds no traceback and no error-level record."""
    assert "Traceback" not in text, text
    assert " ERROR " not in text, text
    assert " CRITICAL " not in text, text


# --------------------------------------------------------------------------------------
# Reading the database


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with the sources that carried it and its topic matches."""

    id: int
    canonical_url: str
    url: str
    title: str
    text: str
    sources: tuple[str, ...]  # one name per sighting, sorted
    topics: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class SourceRow:
    """A source's health columns."""

    name: str
    etag: str | None
    error_count: int
    last_status: int | None
    last_error: str | None
    checked: bool


@dataclass(frozen=True)
class Snapshot:
    """Everything the tests check in the database, read in one transaction."""

    articles: tuple[StoredArticle, ...]
    sightings: tuple[tuple[str, str, int | None], ...]  # (source, entry key, article id)
    sources: Mapping[str, SourceRow]

    def by_title(self) -> dict[str, StoredArticle]:
        return {article.title: article for article in self.articles}

    def titles(self) -> list[str]:
        return sorted(article.title for article in self.articles)


@contextmanager
def opened(url: str) -> Iterator[Database]:
    """Open the daemon's database from the test process, and always dispose of it."""
    db = Database.open(url)
    try:
        yield db
    finally:
        db.dispose()


def snapshot(url: str) -> Snapshot:
    """Read the articles, sightings and sources the daemon stored."""
    with opened(url) as db, db.session() as session:
        names = dict(session.execute(select(Source.id, Source.name)).all())
        sightings = tuple(
            (names[source_id], entry_key, article_id)
            for source_id, entry_key, article_id in session.execute(
                select(Sighting.source_id, Sighting.entry_key, Sighting.article_id).order_by(
                    Sighting.id
                )
            )
        )
        carried: dict[int, list[str]] = {}
        for source, _, article_id in sightings:
            if article_id is not None:
                carried.setdefault(article_id, []).append(source)
        matches: dict[int, dict[str, tuple[str, ...]]] = {}
        for article_id, topic, terms in session.execute(
            select(ArticleTopic.article_id, Topic.name, ArticleTopic.terms).join(
                Topic, Topic.id == ArticleTopic.topic_id
            )
        ):
            matches.setdefault(article_id, {})[topic] = tuple(terms)
        articles = tuple(
            StoredArticle(
                id=row.id,
                canonical_url=row.canonical_url,
                url=row.url,
                title=row.title,
                text=row.text,
                sources=tuple(sorted(carried.get(row.id, []))),
                topics=matches.get(row.id, {}),
            )
            for row in session.scalars(select(Article).order_by(Article.id))
        )
        sources = {
            row.name: SourceRow(
                name=row.name,
                etag=row.etag,
                error_count=row.error_count,
                last_status=row.last_status,
                last_error=row.last_error,
                checked=row.last_checked_at is not None,
            )
            for row in session.scalars(select(Source))
        }
    return Snapshot(articles, sightings, sources)


def try_snapshot(url: str) -> Snapshot | None:
    """Read the database while the daemon runs; None until its schema exists."""
    try:
        return snapshot(url)
    except (StorageError, SQLAlchemyError):
        return None


def sighting_count(url: str) -> int:
    """Return how many entries the daemon has recorded (0 before the schema exists)."""
    try:
        with opened(url) as db, db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Sighting)) or 0)
    except (StorageError, SQLAlchemyError):  # the daemon may still be creating the schema
        return 0


def export_lines(config: Path, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Run `newswatch export` and return its JSON Lines, parsed."""
    done = run_command(config, "export", env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
