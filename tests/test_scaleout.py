"""Several real daemons on one PostgreSQL: each feed polled once per due time, none lost.

Bounded: 150 feeds on a local server, a one-second tick, a few seconds' intervals, and
at most three daemons for about twenty seconds.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from storage.models import Article, ExportRun, Sighting, Source
from tests import feedserver
from tests.daemon_helpers import (
    Daemon,
    FeedSpec,
    assert_clean_log,
    opened,
    running,
    snapshot,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer
from tests.newssite import article_page, listing_page, story
from tests.test_daemon import at

pytestmark = pytest.mark.slow

feed_server = feedserver.feed_server

FEEDS = 150
INTERVAL_S = 4
START_TIMEOUT = 60
SITE_INTERVAL_S = 2


def serve_feeds(
    server: FeedServer, count: int, *, interval: str = f"{INTERVAL_S}s", full_text: bool = False
) -> list[FeedSpec]:
    """Serve `count` feeds of two entries each, plus one story that every feed carries."""
    shared = Entry(
        "shared",
        "North Korean troops reach Kursk",
        server.url("/shared"),
        "DPRK troops in Russia.",
        at(0),
    )
    specs = []
    for n in range(count):
        entries = [
            Entry(
                f"f{n}-{k}",
                f"Dispatch {n}.{k}: DPRK and Russia",
                server.url(f"/a/{n}/{k}"),
                f"North Korea and Russia, report {n}.{k}.",
                at(k),
            )
            for k in range(2)
        ]
        if not full_text:
            entries.append(shared)
        path = f"/feeds/{n}.xml"
        server.set_feed(path, entries, title=f"Feed {n}")
        specs.append(FeedSpec(f"feed-{n:03d}", path, interval=interval, full_text=full_text))
    return specs


def scale_config(
    tmp_path: Path, server: FeedServer, feeds: list[FeedSpec], lease: str, timeout: str = "5s"
) -> Path:
    config = write_config(tmp_path, server, feeds, timeout=timeout)
    text = config.read_text(encoding="utf-8")
    text = text.replace("per_host = 2", f'per_host = 8\nlease = "{lease}"')
    config.write_text(text, encoding="utf-8")
    return config


def checked(url: str) -> int:
    """Return how many feeds have a recorded check (0 while the schema is being made)."""
    try:
        with opened(url) as db, db.session() as session:
            stmt = select(func.count()).where(Source.last_checked_at.is_not(None))
            return int(session.scalar(stmt) or 0)
    except SQLAlchemyError:
        return 0


def test_three_daemons_poll_each_feed_once_per_due_time(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    feeds = serve_feeds(feed_server, FEEDS)
    config = scale_config(tmp_path, feed_server, feeds, lease="30s")
    # Due since midnight and never run: every daemon would run it at start.
    with config.open("a", encoding="utf-8") as out:
        out.write('\n[[exports]]\nname = "daily"\ndir = "out"\nat = "00:00"\n')
    env = {"NEWSWATCH_DATABASE_URL": pg_url}
    with ExitStack() as stack:
        daemons = [
            stack.enter_context(running(config, tmp_path / f"daemon-{n}.log", env))
            for n in range(3)
        ]
        wait_until(lambda: checked(pg_url) == FEEDS, START_TIMEOUT, "every feed checked once")
        time.sleep(3 * INTERVAL_S + 2)  # a few more due periods, all three daemons up
        outcomes = [daemon.stop(30) for daemon in daemons]
    for status, _, log in outcomes:
        assert status == 0, log
        assert_clean_log(log)
    # Several daemons took part (the log of each says what it polled).
    assert sum("poll done" in log for _, _, log in outcomes) >= 2

    for spec in feeds:
        times = sorted(r.time for r in feed_server.requests(spec.path))
        assert len(times) >= 3, (spec.name, times)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # A second poll for the same due time would come well inside the interval.
        assert min(gaps) >= INTERVAL_S - 0.5, (spec.name, gaps)

    stored = snapshot(pg_url)
    urls = Counter(article.canonical_url for article in stored.articles)
    assert len(stored.articles) == 2 * FEEDS + 1 and max(urls.values()) == 1
    keys = Counter((source, key) for source, key, _ in stored.sightings)
    assert len(keys) == 3 * FEEDS and max(keys.values()) == 1
    (shared,) = [a for a in stored.articles if a.canonical_url.endswith("/shared")]
    assert len(shared.sources) == FEEDS

    # The daily export was written once: one run, by one daemon; the others found it
    # running (its lock held) or done.
    assert sum("export written export=daily" in log for _, _, log in outcomes) == 1
    with opened(pg_url) as db, db.session() as session:
        runs = session.execute(select(ExportRun.day, ExportRun.status)).all()
    today = datetime.now(UTC).date().isoformat()
    assert runs == [(today, "done")]
    day = tmp_path / "out" / today
    lines = (day / "daily.jsonl").read_text(encoding="utf-8").splitlines()
    manifest = json.loads((day / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["count"] == len(lines) == len({json.loads(line)["id"] for line in lines})


def test_a_killed_daemons_feeds_are_taken_over_after_its_lease(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    count, lease_s = 24, 3
    feeds = serve_feeds(feed_server, count, interval="1h", full_text=True)  # one due time
    # The pages hang, so the victim is mid-crawl, holding leases, when it is killed.
    for n in range(count):
        for k in range(2):
            path = f"/a/{n}/{k}"
            feed_server.set_page(
                path, f"<html><body><p>Report {n}.{k}: DPRK, Russia.</p></body></html>"
            )
            feed_server.set_fault(path, "hang", delay=60)  # until the kill
    config = scale_config(tmp_path, feed_server, feeds, lease=f"{lease_s}s", timeout="60s")
    env = {"NEWSWATCH_DATABASE_URL": pg_url}
    victim = Daemon(config, tmp_path / "victim.log", env).start()
    try:
        with opened(pg_url) as db:

            def held_by_victim() -> list[tuple[str, datetime]]:
                stmt = select(Source.url, Source.claimed_until).where(
                    Source.claimed_by.like(f"%:{victim.pid}:%")
                )
                try:
                    with db.session() as session:
                        rows = session.execute(stmt).all()
                except SQLAlchemyError:  # the victim is still creating the schema
                    return []
                return [(url, until) for url, until in rows if until is not None]

            wait_until(
                lambda: (
                    bool(held_by_victim())
                    and any(r.path.startswith("/a/") for r in feed_server.requests())
                ),
                START_TIMEOUT,
                "the victim mid-crawl",
                daemon=victim,
                interval=0.2,
            )
            with running(config, tmp_path / "survivor.log", env) as survivor:
                wait_until(
                    lambda: "daemon started" in survivor.stderr(),
                    START_TIMEOUT,
                    "the survivor running beside the victim",
                    daemon=survivor,
                )
                time.sleep(1)  # a tick or so: it finds every due feed leased
                leased = held_by_victim()
                victim.send(signal.SIGKILL, group=True)
                killed_at = time.time()
                assert victim.wait(10) == -signal.SIGKILL
                for n in range(count):
                    for k in range(2):
                        feed_server.clear_fault(f"/a/{n}/{k}")
                wait_until(
                    lambda: checked(pg_url) == count,
                    START_TIMEOUT,
                    "every feed checked",
                    daemon=survivor,
                )
                status, _, log = survivor.stop(30)
    finally:
        victim.kill()
    assert status == 0, log
    assert_clean_log(log)
    assert leased
    for url, until in leased:
        path = url.removeprefix(feed_server.base_url)
        times = sorted(r.time for r in feed_server.requests(path))
        # Fetched by the victim, then again by the survivor, once the lease ran out.
        assert len(times) == 2, (path, times)
        assert times[0] < killed_at
        assert times[1] >= until.timestamp() - 0.5, (path, times, until)
    # Nothing lost, nothing twice: every entry is stored once, with its page's text.
    with opened(pg_url) as db, db.session() as session:
        articles = session.scalar(select(func.count()).select_from(Article))
        distinct = session.scalar(select(func.count(func.distinct(Article.canonical_url))))
        sightings = session.scalar(select(func.count()).select_from(Sighting))
    assert articles == distinct == 2 * count
    assert sightings == 2 * count
    assert datetime.now(UTC) > leased[0][1]


def test_two_daemons_crawl_a_site_once_per_run(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    article = story("/news/a", "Quay reopens", "the quay", "Kilbay", datetime.now(UTC))
    feed_server.set_page(article.path, article_page(article, feed_server.base_url))
    feed_server.set_page("/world/", listing_page("World", [(article.path, article.title)]))
    config = write_config(tmp_path, feed_server, [])
    with config.open("a", encoding="utf-8") as file:
        file.write(
            f'\n[[sites]]\nname = "kilbay"\nstart_urls = ["{feed_server.url("/world/")}"]\n'
            f'allow = ["/news/"]\ninterval = "{SITE_INTERVAL_S}s"\n'
        )
    env = {"NEWSWATCH_DATABASE_URL": pg_url}
    with ExitStack() as stack:
        daemons = [
            stack.enter_context(running(config, tmp_path / f"daemon-{n}.log", env))
            for n in range(2)
        ]
        # Each daemon's timer fires every interval, at its own moments.
        feed_server.wait_for_requests("/world/", n=4, timeout=START_TIMEOUT)
        outcomes = [daemon.stop(30) for daemon in daemons]
    for status, _, log in outcomes:
        assert status == 0, log
        assert_clean_log(log)
    starts = sorted(r.time for r in feed_server.requests("/world/"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Two daemons each running the site on its own timer would put two runs inside
    # some interval: their gaps would alternate d and interval - d, one of them at most
    # half an interval. A tick that runs late (a loaded machine) shortens the gap after
    # it by its delay, which the margin above one half allows for.
    assert min(gaps) >= 0.6 * SITE_INTERVAL_S, gaps
    assert any("another daemon has run it" in log for _, _, log in outcomes)
    assert feed_server.count(article.path) == 1
