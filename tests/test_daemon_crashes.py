"""End-to-end: SIGKILL at random points of busy polls and site crawls, twenty times.

The real `newswatch run` in a subprocess, against tests.feedserver on 127.0.0.1. Each
round starts the daemon, lets it work for a random (seeded) moment while feeds, pages
and a site grow and answer slowly, and kills it, workers and all, with SIGKILL. A last
run then goes to completion. Nothing may be lost and nothing stored twice: by canonical
URL, by content hash, or by entry key. (tests/test_daemon.py kills once at a chosen
point; this test kills anywhere.)
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.fingerprints import entry_key
from storage.models import Article
from tests import feedserver
from tests.daemon_helpers import (
    Daemon,
    FeedSpec,
    assert_clean_log,
    opened,
    running,
    sighting_count,
    snapshot,
    sqlite_url,
    try_snapshot,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer
from tests.newssite import article_page, listing_page, story

feed_server = feedserver.feed_server

pytestmark = pytest.mark.slow

ROUNDS = 20
SEED = 20241015
JITTER_S = (0.0, 0.4)
MOMENT_TIMEOUT_S = 30.0  # with the jitter, this bounds a round
SLOW_S = 0.4  # every page and article answers this late, so kills find requests in flight
T0 = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)


class World:
    """Two feeds (one with full text) and a site, growing a little every round."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.bulk: list[Entry] = []
        self.pages: list[Entry] = []
        self.site: list[tuple[str, str]] = []  # (path, title) of every site article
        self.on_topic: set[str] = set()
        self.off_topic: set[str] = set()
        self.grow(bulk=300, pages=6, site=6)

    def grow(self, bulk: int, pages: int, site: int) -> None:
        u = self.server.url
        for _ in range(bulk):
            n = len(self.bulk)
            if n % 4 == 3:
                entry = Entry(f"bulk-{n}", f"Harvest report {n}", u(f"/farm/{n}"), "Rain.", T0)
                self.off_topic.add(entry.title)
            else:
                entry = Entry(
                    f"bulk-{n}",
                    f"Dispatch {n}: North Korean shells in Ukraine",
                    u(f"/bulk/{n}"),
                    f"Report {n}: shells from the DPRK were fired by Russia near the front.",
                    T0 + timedelta(seconds=n),
                )
                self.on_topic.add(entry.title)
            self.bulk.append(entry)
        for _ in range(pages):
            n = len(self.pages)
            path = f"/analysis/{n}"
            title = f"Analysis {n}: what Pyongyang gets from Russia"
            self.server.set_page(
                path,
                f"<html><body><article><h1>{title}</h1><p>Analysis {n}. North Korea "
                f"sends troops; Russia pays in oil, case {n}.</p></article></body></html>",
            )
            self.server.set_fault(path, "hang", delay=SLOW_S)
            self.pages.append(Entry(f"page-{n}", title, u(path), f"Analysis {n} of the deal.", T0))
            self.on_topic.add(title)
        for _ in range(site):
            n = len(self.site)
            path, title = f"/news/{n}", f"Harbour story {n}: the quay in week {n}"
            article = story(path, title, f"quay repair {n}", f"Kilbay {n}", T0)
            self.server.set_page(path, article_page(article, self.server.base_url))
            self.server.set_fault(path, "hang", delay=SLOW_S)
            self.site.append((path, title))
        self.server.set_feed("/bulk.xml", self.bulk, title="Bulk")
        self.server.set_feed("/pages.xml", self.pages, title="Pages")
        self.server.set_page("/world/", listing_page("World", self.site))

    def expected(self) -> set[str]:
        """Titles that must be stored: the on-topic feed entries and every site article."""
        return self.on_topic | {title for _, title in self.site}


def config_with_a_site(tmp_path: Path, server: FeedServer) -> Path:
    feeds = [FeedSpec("bulk", "/bulk.xml"), FeedSpec("pages", "/pages.xml", full_text=True)]
    config = write_config(tmp_path, server, feeds, timeout="5s")
    site = {
        "name": "herald",
        "start_urls": [server.url("/world/")],
        "allow": ["/news/"],
        "interval": "1s",
        "keep_unmatched": True,
    }
    lines = ["", "[[sites]]", *(f"{key} = {json.dumps(value)}" for key, value in site.items())]
    with config.open("a", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return config


def in_flight(server: FeedServer) -> int:
    """Return how many requests the server has received but not answered yet."""
    return len(server.requests()) - len(server.responses())


# Where in a round the kill comes (then a random jitter): once the daemon has asked for
# a feed; or for the site's listing; while a page or a site article is being fetched; or
# once a batch is stored.
MOMENTS = ("feed", "site", "page", "stored")


def reached(
    moment: str, server: FeedServer, before: int, url: str, stored_before: int, daemon: Daemon
) -> None:
    """Wait until this round's daemon gets to `moment`, or gets no further within a while."""

    def requested(prefixes: tuple[str, ...]) -> bool:
        return any(r.path.startswith(prefixes) for r in server.requests()[before:])

    conditions = {
        "feed": lambda: requested(("/bulk.xml", "/pages.xml")),
        "site": lambda: requested(("/world/",)),
        "page": lambda: requested(("/analysis/", "/news/")) and in_flight(server) > 0,
        "stored": lambda: sighting_count(url) > stored_before,
    }
    with contextlib.suppress(AssertionError):  # nothing left to do there: kill anyway
        wait_until(conditions[moment], MOMENT_TIMEOUT_S, moment, daemon=daemon)


def test_twenty_sigkills_during_polls_and_crawls_lose_nothing_and_store_nothing_twice(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    server = feed_server
    world = World(server)
    config = config_with_a_site(tmp_path, server)
    url = sqlite_url(config)
    rng = random.Random(SEED)

    started = time.monotonic()
    cut_polls = cut_crawls = 0
    for round_ in range(ROUNDS):
        before, stored_before = len(server.requests()), sighting_count(url)
        moment = rng.choice(MOMENTS)
        daemon = Daemon(config, tmp_path / f"round-{round_}.log").start()
        try:
            reached(moment, server, before, url, stored_before, daemon)
            time.sleep(rng.uniform(*JITTER_S))
        finally:
            daemon.kill()  # SIGKILL to the daemon and its workers
        log = daemon.stderr()
        assert daemon.returncode is not None and daemon.returncode < 0, log
        assert "Traceback" not in log, log
        # Was a poll, or a crawl of the site, under way when the kill came?
        paths = [r.path for r in server.requests()[before:]]
        cut_polls += "/bulk.xml" in paths and "poll done" not in log
        cut_crawls += "/world/" in paths and "site crawled" not in log
        world.grow(bulk=10, pages=1, site=1)
    print(f"{ROUNDS} kills in {time.monotonic() - started:.0f}s")

    # Many kills cut a poll or a site crawl short, not only idle moments between them
    # (8 polls and more crawls with this seed; a poll of known entries is quick).
    assert cut_polls >= ROUNDS // 4, cut_polls
    assert cut_crawls >= ROUNDS // 4, cut_crawls
    killed = try_snapshot(url)
    assert killed is not None and 0 < len(killed.articles) < len(world.expected())

    expected = world.expected()

    def complete() -> bool:
        shot = try_snapshot(url)
        return (
            shot is not None
            and expected <= {a.title for a in shot.articles}
            and all(s.checked for s in shot.sources.values())
        )

    with running(config, tmp_path / "final.log") as final:
        wait_until(complete, 60, "the last run to store everything", daemon=final)
        status, _, log = final.stop(30)
    assert status == 0, log
    assert_clean_log(log)

    stored = snapshot(url)
    titles = Counter(a.title for a in stored.articles)
    assert set(titles) == expected, sorted(set(titles) ^ expected)[:10]
    assert max(titles.values()) == 1, titles.most_common(3)
    assert not world.off_topic & set(titles)
    assert len({a.canonical_url for a in stored.articles}) == len(stored.articles)
    with opened(url) as db, db.session() as session:
        hashes = list(session.scalars(select(Article.content_hash)))
    assert len(set(hashes)) == len(hashes), "one text stored twice"
    keys = [(source, key) for source, key, _ in stored.sightings]
    assert len(keys) == len(set(keys)), "one entry recorded twice"
    # Every entry of the feeds was recorded once, kept or not; each site article too.
    for name, entries in (("bulk", world.bulk), ("pages", world.pages)):
        assert {k for s, k in keys if s == name} == {
            entry_key(e.guid, e.link, e.title, e.summary) for e in entries
        }
    assert len([s for s, _ in keys if s == "herald"]) == len(world.site)
