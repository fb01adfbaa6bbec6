"""End-to-end: the daemon survives a locked SQLite file and a PostgreSQL "restart".

The real `newswatch run` in a subprocess, against tests.feedserver on 127.0.0.1. The
shared PostgreSQL server is never restarted (other tests use it): a restart is played
by ending the daemon's backends with pg_terminate_backend (found by the
application_name its URL sets), or by a TCP proxy in front of it that resets every
connection and refuses new ones for a few seconds.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url

from storage.db import RETRY_DELAYS_S, SQLITE_BUSY_TIMEOUT_MS
from tests import feedserver
from tests.daemon_helpers import (
    FeedSpec,
    assert_clean_log,
    running,
    snapshot,
    sqlite_url,
    try_snapshot,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer
from tests.tcp_proxy import TcpProxy
from tests.test_storage_retry import terminate

feed_server = feedserver.feed_server

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0
T0 = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
RETRY_BUDGET_S = sum(RETRY_DELAYS_S)


def dispatches(server: FeedServer, prefix: str, first: int, count: int) -> list[Entry]:
    """Return on-topic entries `first`..`first + count - 1`, each its own story."""
    return [
        Entry(
            f"{prefix}-{n}",
            f"Dispatch {prefix} {n}: North Korean shells in Ukraine",
            server.url(f"/{prefix}/{n}"),
            f"Report {n} of {prefix}: shells from the DPRK were fired by Russia.",
            T0 + timedelta(minutes=n),
        )
        for n in range(first, first + count)
    ]


def stored_titles(url: str) -> list[str] | None:
    shot = try_snapshot(url)
    return None if shot is None else [a.title for a in shot.articles]


def assert_each_stored_once(url: str, offered: list[Entry]) -> None:
    stored = snapshot(url)
    titles = [a.title for a in stored.articles]
    assert sorted(titles) == sorted(e.title for e in offered), "lost or extra articles"
    assert len({a.canonical_url for a in stored.articles}) == len(stored.articles)
    keys = [(source, key) for source, key, _ in stored.sightings]
    assert len(keys) == len(set(keys)), "an entry was recorded twice"


def has_all(url: str, offered: list[Entry]) -> Callable[[], bool]:
    wanted = {e.title for e in offered}
    return lambda: wanted <= set(stored_titles(url) or [])


# --------------------------------------------------------------------------------------
# SQLite: another process holds the write lock longer than busy_timeout


def test_a_locked_sqlite_file_is_waited_for_and_the_poll_stores_everything(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    offered = dispatches(feed_server, "wire", 0, 5)
    feed_server.set_feed("/wire.xml", offered)
    config = write_config(tmp_path, feed_server, [FeedSpec("wire", "/wire.xml")])
    url = sqlite_url(config)
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(has_all(url, offered), START_TIMEOUT, "the first poll", daemon=daemon)
        # Another process takes the write lock and keeps it past the busy timeout...
        other = sqlite3.connect(tmp_path / "newswatch.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE sources SET interval_s = interval_s")
        locked_at = time.monotonic()
        # ...while the feed gets new entries and the daemon polls it.
        more = dispatches(feed_server, "wire", 5, 3)
        offered += more
        feed_server.set_feed("/wire.xml", offered)
        seen = feed_server.count("/wire.xml")
        # The daemon meets the lock: a poll's write waits on it, or its check's record
        # does (and the next tick waits for that, so no fetch comes until the release).
        wait_until(
            lambda: (
                feed_server.count("/wire.xml") > seen
                or "database is locked" in daemon.log.read_text(encoding="utf-8")
            ),
            SQLITE_BUSY_TIMEOUT_MS / 1000 + 5,
            "the daemon to meet the lock",
            daemon=daemon,
        )
        held_s = SQLITE_BUSY_TIMEOUT_MS / 1000 + 2
        time.sleep(max(0.0, held_s - (time.monotonic() - locked_at)))
        assert daemon.returncode is None, "the daemon must keep running"
        other.execute("ROLLBACK")
        other.close()
        wait_until(has_all(url, offered), 30, "the stored entries after the lock", daemon=daemon)
        status, _, log = daemon.stop(30)

    assert status == 0, log
    assert_clean_log(log)
    assert "database unavailable, retrying" in log and "database is locked" in log, log
    assert_each_stored_once(url, offered)


# --------------------------------------------------------------------------------------
# PostgreSQL


def named(pg_url: str) -> tuple[str, str]:
    """Return `pg_url` with a unique application_name, and that name."""
    name = f"nw-daemon-{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).update_query_dict({"application_name": name})
    return url.render_as_string(hide_password=False), name


def test_the_daemon_survives_its_postgresql_backends_being_ended(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    daemon_url, name = named(pg_url)
    offered = dispatches(feed_server, "bulk", 0, 600)  # three store batches
    feed_server.set_feed("/bulk.xml", offered)
    config = write_config(tmp_path, feed_server, [FeedSpec("bulk", "/bulk.xml")])
    ended = 0
    with running(
        config, tmp_path / "daemon.log", env={"NEWSWATCH_DATABASE_URL": daemon_url}
    ) as daemon:
        wait_until(
            lambda: feed_server.count("/bulk.xml") >= 1, START_TIMEOUT, "a poll", daemon=daemon
        )
        # End every backend of the daemon, over and over, for three seconds: idle ones in
        # the pool and ones in the middle of a transaction alike. The feed grows meanwhile.
        until = time.monotonic() + 3
        n = 600
        while time.monotonic() < until:
            ended += terminate(pg_url, name)
            offered += dispatches(feed_server, "bulk", n, 5)
            n += 5
            feed_server.set_feed("/bulk.xml", offered)
            time.sleep(0.1)
        wait_until(has_all(pg_url, offered), 60, "every entry after the storm", daemon=daemon)
        status, _, log = daemon.stop(30)

    assert ended > 0
    assert status == 0, log
    assert "Traceback" not in log, log
    assert_each_stored_once(pg_url, offered)
    # Every source ended up healthy again.
    assert all(s.error_count == 0 for s in snapshot(pg_url).sources.values())


def source_error(url: str, name: str) -> str | None:
    shot = try_snapshot(url)
    return None if shot is None or name not in shot.sources else shot.sources[name].last_error


def test_the_daemon_rides_out_postgresql_outages_behind_a_proxy(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    pg = make_url(pg_url)
    offered = dispatches(feed_server, "wire", 0, 50)
    feed_server.set_feed("/wire.xml", offered)
    config = write_config(tmp_path, feed_server, [FeedSpec("wire", "/wire.xml")])
    with contextlib.closing(TcpProxy(pg.port or 5432).start()) as proxy:
        daemon_url = pg.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {"NEWSWATCH_DATABASE_URL": daemon_url}
        with running(config, tmp_path / "daemon.log", env=env) as daemon:
            wait_until(has_all(pg_url, offered), START_TIMEOUT, "the first poll", daemon=daemon)
            # A short "restart": every connection is reset, none accepted for three
            # seconds, while the feed gets new entries and the ticks keep coming. The
            # retries ride it out.
            proxy.outage()
            offered += dispatches(feed_server, "wire", 50, 10)
            feed_server.set_feed("/wire.xml", offered)
            time.sleep(3)
            proxy.restore()
            wait_until(has_all(pg_url, offered), 30, "the entries after it", daemon=daemon)
            assert source_error(pg_url, "wire") is None

            # A long one, past the retries, while a poll is under way: the poll fails,
            # the failure is recorded on the feed once the server is back, and the
            # next poll stores the entries.
            feed_server.set_fault("/wire.xml", "hang", delay=1.0, times=1)
            offered += dispatches(feed_server, "wire", 60, 10)
            feed_server.set_feed("/wire.xml", offered)
            seen = feed_server.count("/wire.xml")
            wait_until(lambda: feed_server.count("/wire.xml") > seen, 10, "the poll", daemon=daemon)
            proxy.outage()
            time.sleep(RETRY_BUDGET_S + 4)  # the retries give up; the recording retries on
            proxy.restore()
            wait_until(
                lambda: (source_error(pg_url, "wire") or "").startswith("storage: "),
                30,
                "the failure to be recorded on the feed",
                daemon=daemon,
            )
            wait_until(has_all(pg_url, offered), 30, "the entries after it", daemon=daemon)
            status, _, log = daemon.stop(30)

    assert proxy.dropped > 0
    assert status == 0, log
    assert "Traceback" not in log, log
    assert "database unavailable, retrying" in log, log
    assert_each_stored_once(pg_url, offered)
    assert snapshot(pg_url).sources["wire"].error_count == 0
