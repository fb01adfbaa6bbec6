"""End-to-end: the real `newswatch run` daemon against a local feed server.

Each test starts the console script in a subprocess with a config in tmp_path (tick 1s,
feed intervals of 1s, a SQLite file or a PostgreSQL schema), drives the feeds from a
FeedServer on 127.0.0.1 in this process, signals the daemon, and then reads the database
(and `newswatch export`) once the daemon has gone.
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.fingerprints import entry_key
from tests import feedserver
from tests.daemon_helpers import (
    TOPIC_NAME,
    Daemon,
    FeedSpec,
    Snapshot,
    assert_clean_log,
    export_lines,
    running,
    sighting_count,
    snapshot,
    sqlite_url,
    try_snapshot,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer

feed_server = feedserver.feed_server

pytestmark = pytest.mark.slow

# Generous bounds for things that take a second or two; a wait ends as soon as its
# condition holds, so they cost nothing when all is well.
START_TIMEOUT = 30.0  # the first tick spawns the parsing workers
STEP_TIMEOUT = 20.0

T0 = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def key(entry: Entry) -> str:
    """The entry key the crawler gives this entry (GUID, else link, else a hash)."""
    return entry_key(entry.guid, entry.link, entry.title, entry.summary)


# --------------------------------------------------------------------------------------
# 1. Several feeds changing between ticks, a clean stop, and the export


@dataclass(frozen=True)
class Scenario:
    """The feeds of test 1, and what the database must hold afterwards."""

    world_v1: list[Entry]
    world_v2: list[Entry]
    asia_v1: list[Entry]
    asia_v2: list[Entry]
    static: list[Entry]
    on_topic: dict[str, list[Entry]]  # feed name -> its on-topic entries, all versions
    off_topic: dict[str, list[Entry]]
    # One set of acceptable titles per expected article, with the feeds that carried it.
    articles: list[tuple[frozenset[str], tuple[str, ...]]]


def scenario(server: FeedServer) -> Scenario:
    u = server.url
    troops = Entry(
        "world-1",
        "North Korean troops deployed to Russia",
        u("/news/dprk-troops"),
        "Thousands of North Korean soldiers arrived in Russia for training, officials said.",
        at(0),
    )
    derby = Entry("world-2", "Local derby ends in a draw", u("/sport/derby"), "A late goal.", at(1))
    shells = Entry(
        "world-3",
        "DPRK shells reach the Ukraine front",
        u("/news/dprk-shells?utm_source=rss&utm_medium=feed"),
        "Artillery shells made in the DPRK are being fired in Ukraine, analysts say.",
        at(2),
    )
    # RSS items may have a GUID and no link at all.
    brief_1 = Entry(
        "urn:world:brief-1",
        "Brief: envoy in Moscow",
        None,
        "North Korea's foreign minister met her counterpart in Russia on Monday.",
        at(3),
    )
    brief_2 = Entry(
        "urn:world:brief-2",
        "Brief: workers in the Far East",
        None,
        "More North Korean workers were seen arriving in Russia's Far East.",
        at(3),
    )
    kursk = Entry(
        "world-4",
        "North Korean unit spotted near Kursk",
        u("/news/kursk"),
        "Ukraine's intelligence says a North Korean unit is fighting for Russia near Kursk.",
        at(4),
    )
    congress = Entry(
        "world-5",
        "North Korea holds party congress",
        u("/news/congress"),
        "Delegates gathered in Pyongyang for a week of speeches.",
        at(4),
    )
    # The same story in another feed: same link under another GUID and title...
    troops_asia = Entry(
        "tag:asia.example,2024:1",
        "Pyongyang sends troops to Russia",
        u("/news/dprk-troops"),
        "North Korea has sent troops to Russia, according to Seoul.",
        at(0),
    )
    # ...and the same text at another URL (a syndicated copy).
    shells_mirror = Entry(
        "tag:asia.example,2024:2",
        shells.title,
        u("/mirror/dprk-shells"),
        shells.summary,
        at(2),
    )
    typhoon = Entry(
        "tag:asia.example,2024:3",
        "Typhoon nears Okinawa",
        u("/news/typhoon"),
        "Flights were cancelled as the storm approached.",
        at(1),
    )
    kharkiv = Entry(
        "tag:asia.example,2024:4",
        "Ukraine says DPRK missiles hit Kharkiv",
        u("/news/kharkiv"),
        "Ukraine said missiles supplied by the DPRK to Russia struck Kharkiv overnight.",
        at(5),
    )
    statement = Entry(
        "static-1",
        "UN panel reports on DPRK arms for Russia",
        u("/news/un-panel"),
        "A UN panel found North Korean arms in use by Russia in Ukraine.",
        at(0),
    )
    return Scenario(
        world_v1=[troops, derby, shells, brief_1, brief_2],
        # troops rolls off the feed; two entries arrive.
        world_v2=[kursk, congress, derby, shells, brief_1, brief_2],
        asia_v1=[troops_asia, shells_mirror, typhoon],
        asia_v2=[kharkiv, troops_asia, shells_mirror, typhoon],
        static=[statement],
        on_topic={
            "world": [troops, shells, brief_1, brief_2, kursk],
            "asia": [troops_asia, shells_mirror, kharkiv],
            "static": [statement],
        },
        off_topic={"world": [derby, congress], "asia": [typhoon]},
        articles=[
            (frozenset({troops.title, troops_asia.title}), ("asia", "world")),
            (frozenset({shells.title}), ("asia", "world")),
            (frozenset({brief_1.title}), ("world",)),
            (frozenset({brief_2.title}), ("world",)),
            (frozenset({kursk.title}), ("world",)),
            (frozenset({kharkiv.title}), ("asia",)),
            (frozenset({statement.title}), ("static",)),
        ],
    )


FEEDS_1 = [
    FeedSpec("world", "/world/rss.xml"),
    FeedSpec("asia", "/asia/atom.xml"),
    FeedSpec("static", "/static/rss.xml"),
]
TIMEOUT_1_S = 5


def run_changing_feeds(
    server: FeedServer, tmp_path: Path, database_url: str, env: dict[str, str] | None = None
) -> None:
    """Run test 1 against `database_url`; `env` may point the daemon elsewhere."""
    plan = scenario(server)
    server.set_feed("/world/rss.xml", plan.world_v1, kind="rss", title="World")
    server.set_feed("/asia/atom.xml", plan.asia_v1, kind="atom", title="Asia")
    server.set_feed("/static/rss.xml", plan.static, kind="rss", title="Static")
    # The config always names a SQLite file; NEWSWATCH_DATABASE_URL in `env` overrides it.
    config = write_config(tmp_path, server, FEEDS_1, timeout=f"{TIMEOUT_1_S}s")

    with running(config, tmp_path / "daemon.log", env) as daemon:
        wait_until(
            lambda: all(server.count(f.path) >= 1 for f in FEEDS_1),
            START_TIMEOUT,
            "the first poll",
            daemon=daemon,
        )
        # New entries arrive in two feeds (and one rolls off); the third stays as it was.
        server.set_feed("/world/rss.xml", plan.world_v2, kind="rss", title="World")
        server.set_feed("/asia/atom.xml", plan.asia_v2, kind="atom", title="Asia")
        entries = sum(map(len, (*plan.on_topic.values(), *plan.off_topic.values())))
        wait_until(
            lambda: (
                server.count("/world/rss.xml") >= 2
                and server.count("/asia/atom.xml") >= 2
                and sighting_count(database_url) >= entries
            ),
            STEP_TIMEOUT,
            "the changed feeds to be stored",
            daemon=daemon,
        )
        # One more tick after everything is stored: every feed answers 304.
        polls = {f.path: server.count(f.path) for f in FEEDS_1}
        wait_until(
            lambda: all(server.count(path) > n for path, n in polls.items()),
            STEP_TIMEOUT,
            "one more tick",
            daemon=daemon,
        )
        status, took, log = daemon.stop(TIMEOUT_1_S + 10)

    assert status == 0, log
    assert took <= TIMEOUT_1_S, f"stopping took {took:.1f}s\n{log}"
    assert_clean_log(log)
    assert "daemon stopped" in log

    # The unchanged feed was asked with its validators the second time, and got a 304.
    static = server.requests("/static/rss.xml")
    served = server.resource("/static/rss.xml")
    assert served is not None and served.etag is not None
    assert "if-none-match" not in static[0].headers
    assert static[1].header("If-None-Match") == served.etag
    assert static[1].header("If-Modified-Since") is not None
    assert server.responses("/static/rss.xml")[:2] == [200, 304]
    # A changed feed is fetched in full, then answers 304 again.
    for path in ("/world/rss.xml", "/asia/atom.xml"):
        assert server.conditional_requests(path), path
        responses = server.responses(path)
        assert responses[:2] == [200, 200] and 304 in responses[2:], (path, responses)

    stored = snapshot(database_url)
    check_stored(stored, plan)
    check_export(config, stored, env)


def check_stored(stored: Snapshot, plan: Scenario) -> None:
    # Every on-topic entry has exactly one sighting, and it points to an article...
    sightings: dict[tuple[str, str], list[int | None]] = {}
    for source_name, entry_key_, article_id in stored.sightings:
        sightings.setdefault((source_name, entry_key_), []).append(article_id)
    assert all(len(ids) == 1 for ids in sightings.values()), sightings
    for feed, entries in plan.on_topic.items():
        for entry in entries:
            seen = sightings.get((feed, key(entry)))
            assert seen is not None and seen[0] is not None, (feed, entry.title)
    # ...and no off-topic entry has one that does (it is remembered without an article).
    for feed, entries in plan.off_topic.items():
        for entry in entries:
            assert sightings.get((feed, key(entry))) == [None], (feed, entry.title)
    off_titles = {e.title for entries in plan.off_topic.values() for e in entries}
    assert not off_titles & set(stored.titles())

    # One article per story, however many feeds carried it, and nothing else.
    assert len(stored.articles) == len(plan.articles), stored.titles()
    assert len({a.canonical_url for a in stored.articles}) == len(stored.articles)
    for titles, sources in plan.articles:
        found = [a for a in stored.articles if a.title in titles]
        assert len(found) == 1, (titles, stored.titles())
        assert found[0].sources == sources, (found[0].title, found[0].sources)
        assert found[0].topics.get(TOPIC_NAME), found[0]
    # The tracking parameters are gone from the canonical URL.
    assert not any("utm_" in a.canonical_url for a in stored.articles)
    # Every feed's last check succeeded and kept its validators.
    for name in ("world", "asia", "static"):
        row = stored.sources[name]
        assert row.error_count == 0 and row.last_error is None, row
        assert row.last_status in (200, 304) and row.etag, row


def check_export(config: Path, stored: Snapshot, env: dict[str, str] | None) -> None:
    # One line per stored article, each with where it came from and why it was kept.
    lines = export_lines(config, env)
    assert sorted(line["id"] for line in lines) == sorted(a.id for a in stored.articles)
    for line in lines:
        article = next(a for a in stored.articles if a.id == line["id"])
        assert line["sources"] == list(article.sources), line
        assert line["source"] in line["sources"], line
        assert line["topics"] == [TOPIC_NAME], line
        assert line["matches"][TOPIC_NAME] == list(article.topics[TOPIC_NAME]), line
    # Both shared stories list both feeds.
    shared = [line for line in lines if len(line["sources"]) > 1]
    assert len(shared) == 2 and all(line["sources"] == ["asia", "world"] for line in shared)


def test_feeds_change_between_ticks_and_stop_cleanly(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    run_changing_feeds(feed_server, tmp_path, sqlite_url(tmp_path / "config.toml"))


def test_feeds_change_between_ticks_on_postgresql(
    feed_server: FeedServer, tmp_path: Path, pg_url: str
) -> None:
    # pg_url (tests/conftest.py) is a fresh schema, skipped without a server. The config
    # names a SQLite file; the environment wins, as it does in production.
    env = {"NEWSWATCH_DATABASE_URL": pg_url}
    run_changing_feeds(feed_server, tmp_path, pg_url, env)
    assert not (tmp_path / "newswatch.db").exists()


# --------------------------------------------------------------------------------------
# 2. Failing feeds are recorded on their sources; the others and the daemon carry on

_POLL_DONE = re.compile(
    r"poll done feeds=(\d+) fetched=(\d+) not_modified=\d+ failed=(\d+) new=(\d+)"
)


def test_failing_feeds_are_recorded_and_the_rest_keep_working(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    server = feed_server
    u = server.url
    first = Entry(
        "good-1",
        "North Korea ships missiles to Russia",
        u("/news/missiles"),
        "North Korea shipped ballistic missiles to Russia, Ukraine's intelligence said.",
        at(0),
    )
    later = Entry(
        "good-2",
        "DPRK troops train in Russia",
        u("/news/training"),
        "Satellite images show North Korean troops training in Russia before Ukraine.",
        at(1),
    )
    server.set_feed("/good.xml", [first])
    server.set_feed("/error.xml", [later])
    server.set_fault("/error.xml", "500")
    server.set_fault("/hang.xml", "hang")  # no answer at all, until the server stops
    # A feed cut off in the middle of an item; its first entries are whole.
    filler = [
        Entry(f"bad-{n}", f"Weather report {n}", u(f"/weather/{n}"), "Sunny.", at(n))
        for n in range(6)
    ]
    server.set_feed("/bad.xml", filler)
    server.set_fault("/bad.xml", "malformed")
    feeds = [
        FeedSpec("good", "/good.xml"),
        FeedSpec("error", "/error.xml"),
        FeedSpec("hang", "/hang.xml"),
        FeedSpec("bad", "/bad.xml"),
    ]
    timeout_s = 2
    config = write_config(tmp_path, server, feeds, timeout=f"{timeout_s}s")
    url = sqlite_url(config)

    def failed_once(state: Snapshot | None) -> bool:
        if state is None or len(state.sources) < len(feeds):
            return False
        return all(state.sources[name].error_count > 0 for name in ("error", "hang", "bad"))

    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: failed_once(try_snapshot(url)),
            START_TIMEOUT,
            "the three failures to be recorded",
            daemon=daemon,
        )
        # The daemon is still polling: a new entry in the good feed is stored.
        server.set_feed("/good.xml", [later, first])
        wait_until(
            lambda: any(a.title == later.title for a in snapshot(url).articles),
            STEP_TIMEOUT,
            "a later tick to store the new entry",
            daemon=daemon,
        )
        status, took, log = daemon.stop(timeout_s + 15)

    assert status == 0, log
    # A hanging feed may be in flight: the stop waits for it at most the timeout.
    assert took <= timeout_s + 2, f"stopping took {took:.1f}s\n{log}"
    assert_clean_log(log)

    # The first tick polled all four feeds: three failed, the good one stored its entry.
    polls = [tuple(map(int, found)) for found in _POLL_DONE.findall(log)]
    assert polls and polls[0][0] == 4, log
    assert polls[0][2] == 3 and polls[0][3] == 1, log

    stored = snapshot(url)
    assert stored.titles() == sorted([first.title, later.title])
    assert {a.sources for a in stored.articles} == {("good",)}
    good = stored.sources["good"]
    assert good.error_count == 0 and good.last_error is None and good.last_status == 200
    error, hang, bad = (stored.sources[name] for name in ("error", "hang", "bad"))
    assert error.last_status == 500 and error.last_error == "HTTP 500", error
    assert hang.last_status is None and hang.last_error == "timed out", hang
    assert bad.last_status == 200, bad
    assert bad.last_error is not None and bad.last_error.startswith("malformed feed: line "), bad
    for source in (error, hang, bad):
        assert source.error_count > 0 and source.etag is None, source
        assert source.last_error is not None and "\n" not in source.last_error, source
        assert len(source.last_error) < 200, source
    # The whole entries before the cut were still read (and, off-topic, not kept).
    assert any(name == "bad" for name, _, _ in stored.sightings)


# --------------------------------------------------------------------------------------
# 3. SIGKILL in the middle of a poll, then a restart: nothing lost, nothing twice

BULK = 230  # more than one store batch (200): part of the poll is committed before the kill
SLOW = 6


def page_html(title: str, body: str) -> str:
    paragraphs = "".join(f"<p>{body} Paragraph {n} of the report.</p>" for n in range(6))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def test_sigkill_mid_poll_then_restart_loses_nothing_and_stores_nothing_twice(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    server = feed_server
    u = server.url
    bulk: list[Entry] = []
    for n in range(BULK):
        if n % 3 == 2:
            bulk.append(Entry(f"bulk-{n}", f"Harvest report {n}", u(f"/farm/{n}"), "Rain.", at(0)))
        else:
            bulk.append(
                Entry(
                    f"bulk-{n}",
                    f"Dispatch {n}: North Korean shells in Ukraine",
                    u(f"/bulk/{n}"),
                    f"Report {n}: shells from the DPRK were fired by Russia near the front.",
                    at(0),
                )
            )
    slow: list[Entry] = []
    for n in range(SLOW):
        title = f"Analysis {n}: what Pyongyang gets from Russia"
        path = f"/analysis/{n}"
        server.set_page(
            path,
            page_html(title, f"Analysis {n}. North Korea sends troops; Russia pays in oil."),
        )
        server.set_fault(path, "hang", delay=30)  # far slower than the kill
        slow.append(Entry(f"slow-{n}", title, u(path), f"Analysis {n} of the DPRK deal.", at(0)))
    server.set_feed("/bulk.xml", bulk, title="Bulk")
    server.set_feed("/slow.xml", slow, title="Slow")
    feeds = [FeedSpec("bulk", "/bulk.xml"), FeedSpec("slow", "/slow.xml", full_text=True)]
    config = write_config(tmp_path, server, feeds, timeout="20s")
    url = sqlite_url(config)

    with running(config, tmp_path / "first.log") as first:
        wait_until(
            lambda: (
                any(server.count(f"/analysis/{n}") for n in range(SLOW))
                and sighting_count(url) >= 200
            ),
            START_TIMEOUT,
            "a committed batch while the pages are still being fetched",
            daemon=first,
        )
        first.send(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        # Its worker processes do not linger on.
        wait_until(lambda: not first.group_alive(), 5, "the orphaned workers to exit")
        killed = snapshot(url)
    # The kill really came mid-poll: a batch was committed, the pages were still out,
    # and no check was recorded.
    assert 200 <= len(killed.sightings) < BULK
    assert not any(name == "slow" for name, _, _ in killed.sightings)
    assert not any(source.checked for source in killed.sources.values())

    for n in range(SLOW):
        server.clear_fault(f"/analysis/{n}")
    bulk_on_topic = [e for e in bulk if "North Korean" in e.title]
    with running(config, tmp_path / "second.log") as second:
        wait_until(
            lambda: (
                sighting_count(url) >= BULK + SLOW
                and all(s.checked for s in snapshot(url).sources.values())
            ),
            START_TIMEOUT,
            "the restarted daemon to finish the poll",
            daemon=second,
        )
        second.send(signal.SIGTERM)
        assert second.wait(30) == 0, second.stderr()
        assert_clean_log(second.stderr())

    stored = snapshot(url)
    # Every on-topic entry the server offered is stored, once; nothing else is.
    assert stored.titles() == sorted(e.title for e in bulk_on_topic + slow)
    assert len({a.canonical_url for a in stored.articles}) == len(stored.articles)
    assert all(len(a.sources) == 1 for a in stored.articles)
    # One sighting per entry: the kept ones with their article, the others without.
    keys = [(source, entry) for source, entry, _ in stored.sightings]
    assert len(keys) == len(set(keys)) == BULK + SLOW
    expected = {("bulk", key(e)) for e in bulk} | {("slow", key(e)) for e in slow}
    assert set(keys) == expected
    kept = {(source, entry) for source, entry, article in stored.sightings if article is not None}
    assert kept == {("bulk", key(e)) for e in bulk_on_topic} | {("slow", key(e)) for e in slow}
    # The slow pages were fetched in full after the restart, and their text used.
    articles = stored.by_title()
    for n, entry in enumerate(slow):
        assert 200 in server.responses(f"/analysis/{n}")
        assert "Russia pays in oil" in articles[entry.title].text, articles[entry.title]
    # A tick after the poll completed may have found the feed unchanged: 304, not 200.
    for source in stored.sources.values():
        assert source.error_count == 0 and source.last_status in (200, 304), source


# --------------------------------------------------------------------------------------
# 4. Stopping: one signal waits for the slow page, at most the timeout; two force it

STOP_TIMEOUT_S = 2


def start_with_a_slow_page(server: FeedServer, tmp_path: Path) -> tuple[Path, Entry]:
    """Serve one on-topic entry whose page never comes; return the config and the entry."""
    entry = Entry(
        "only-1",
        "North Korean engineers in Russia",
        server.url("/slow/page"),
        "North Korean engineers were seen in Russia, Ukraine said.",
        at(0),
    )
    server.set_page("/slow/page", page_html(entry.title, "Engineers from the DPRK in Russia."))
    server.set_fault("/slow/page", "hang", delay=60)
    server.set_feed("/feed.xml", [entry])
    feeds = [FeedSpec("feed", "/feed.xml", full_text=True)]
    return write_config(tmp_path, server, feeds, timeout=f"{STOP_TIMEOUT_S}s"), entry


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        # systemd's default KillMode signals every process of the service, workers too.
        pytest.param(signal.SIGTERM, True, id="systemd-SIGTERM-to-process-group"),
        pytest.param(signal.SIGINT, True, id="Ctrl-C-to-process-group"),
    ],
)
def test_one_signal_stops_cleanly_while_a_page_is_slow(
    feed_server: FeedServer, tmp_path: Path, signum: signal.Signals, group: bool
) -> None:
    config, entry = start_with_a_slow_page(feed_server, tmp_path)
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: feed_server.count("/slow/page") >= 1,
            START_TIMEOUT,
            "the slow page to be requested",
            daemon=daemon,
        )
        status, took, log = daemon.stop(STOP_TIMEOUT_S + 15, signum, group=group)
        # The parsing workers go with the daemon.
        wait_until(lambda: not daemon.group_alive(), 5, "the worker processes to exit")

    assert status == 0, log
    assert took <= STOP_TIMEOUT_S + 2.5, f"stopping took {took:.1f}s\n{log}"
    assert_clean_log(log)
    assert f"stopping signal={signum.name}" in log and "daemon stopped" in log, log
    # The entry was cut short, so the feed must be polled in full again: either the
    # entry is stored, or the source kept no validators and its check was not recorded.
    stored = snapshot(sqlite_url(config))
    feed = stored.sources["feed"]
    assert stored.titles() == [entry.title] or (feed.etag is None and not feed.checked), stored


def test_a_signal_while_the_first_crawl_starts_stops_cleanly(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # The first tick starts a crawl at once; a stop that came while Scrapy was still
    # starting it used to be forgotten, and the daemon then waited for it forever.
    feed_server.set_feed("/feed.xml", [])
    config = write_config(tmp_path, feed_server, [FeedSpec("feed", "/feed.xml")])
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: "daemon started" in daemon.stderr(), START_TIMEOUT, "the start", daemon=daemon
        )
        # Into the first crawl's start-up, which takes a few hundred milliseconds.
        time.sleep(0.1)
        daemon.send(signal.SIGTERM)
        status = daemon.wait(STOP_TIMEOUT_S + 10)
        log = daemon.stderr()

    assert status == 0, log
    assert_clean_log(log)
    assert "daemon stopped" in log, log


def test_a_second_signal_forces_the_exit(feed_server: FeedServer, tmp_path: Path) -> None:
    config, _ = start_with_a_slow_page(feed_server, tmp_path)
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: feed_server.count("/slow/page") >= 1,
            START_TIMEOUT,
            "the slow page to be requested",
            daemon=daemon,
        )
        daemon.send(signal.SIGTERM)
        wait_until(
            lambda: "stopping signal=SIGTERM" in daemon.stderr(),
            5,
            "the stop to begin",
            daemon=daemon,
        )
        # Either signal forces the exit; the clean stop would wait for the slow page.
        daemon.send(signal.SIGINT)
        forced_at = time.monotonic()
        status = daemon.wait(10)
        took = time.monotonic() - forced_at
        log = daemon.stderr()
        # Nothing is left behind: the worker processes exit with the daemon.
        wait_until(lambda: not daemon.group_alive(), 5, "the worker processes to exit")

    assert status != 0, log
    assert took < STOP_TIMEOUT_S, f"the forced exit took {took:.1f}s\n{log}"
    assert "second signal, exiting now signal=SIGINT" in log, log
    assert "Traceback" not in log, log


# --------------------------------------------------------------------------------------
# 5. One daemon per SQLite file


def test_a_second_daemon_on_the_same_sqlite_file_refuses_to_start(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.set_feed("/feed.xml", [])
    config = write_config(tmp_path, feed_server, [FeedSpec("feed", "/feed.xml")])
    with running(config, tmp_path / "first.log") as first:
        wait_until(
            lambda: feed_server.count("/feed.xml") >= 1, START_TIMEOUT, "a poll", daemon=first
        )
        second = Daemon(config, tmp_path / "second.log").start()
        try:
            status = second.wait(30)
        finally:
            second.kill()
        assert first.returncode is None, "the first daemon must keep running"
        first.send(signal.SIGTERM)
        assert first.wait(15) == 0, first.stderr()

    assert status != 0
    lines = second.stderr().splitlines()
    assert len(lines) == 1, lines
    message = lines[0]
    assert "another newswatch daemon is already running" in message, message
    assert str(tmp_path / "newswatch.db") in message and f"pid {first.pid}" in message, message
    assert "Traceback" not in message
    # The refused daemon changed nothing: the first one's log shows no interference.
    assert_clean_log(first.stderr())
