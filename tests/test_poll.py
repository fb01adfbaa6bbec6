"""Tests for `newswatch poll`, run for real: the console script in a subprocess, polling
feeds and pages served by tests.feedserver on 127.0.0.1 into a SQLite file.

A `newswatch` process takes seconds to start (Scrapy, the worker pool), so a module
fixture polls one set of feeds three times, and most tests check what those polls did:

1. `poll`: every feed is new;
2. `poll`: nothing changed, so the feeds with an ETag answer 304;
3. `poll world`: one new entry on `world`, which is the only feed polled.

The feeds: `world` (RSS, full text: the three sample pages and one page that answers
500), `wire` (Atom, the magazine's story again), `ru` (windows-1251, declared only in
the Content-Type header, keep_unmatched) and `broken` (an HTML page).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.feedserver import SAMPLE_ARTICLES, Entry, FeedServer, Request

NEWSWATCH = Path(sys.executable).parent / "newswatch"
USER_AGENT = "newswatch-tests (+mailto:tests@example.org)"
SUMMARY_KEYS = (
    "feeds",
    "fetched",
    "not modified",
    "failed",
    "new articles",
    "duplicates",
    "off-topic",
    "near-duplicates",
    "updated",
)

MAGAZINE, BLOG, FOOTBALL = (
    next(s for s in SAMPLE_ARTICLES if s.page == page)
    for page in ("magazine_dprk.html", "blog_dprk.html", "local_football.html")
)
GONE_CONTENT = "Full feed text: DPRK artillery shells were used by Russia near Kursk."
NEW_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><title>Pyongyang and Moscow sign a pact</title>"
    "</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
    "<h1>Pyongyang and Moscow sign a pact</h1>"
    + "<p>North Korea and Russia signed a mutual defence pact on Tuesday, officials said, "
    "deepening a partnership that has alarmed Ukraine and its allies.</p>"
    * 6
    + "</article><footer>All rights reserved</footer></body></html>"
)
CYRILLIC_TITLE = "Северная Корея и Россия"


@dataclass(frozen=True)
class Poll:
    """What one `newswatch poll` run did, seen from outside."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    requests: list[Request]  # what the server received during the run

    def paths(self) -> list[str]:
        return sorted(r.path for r in self.requests)

    def summary(self) -> dict[str, int]:
        line = self.stdout.strip().splitlines()[-1]
        fields = dict(part.split(": ") for part in line.split("  "))
        assert tuple(fields) == SUMMARY_KEYS, line
        return {key: int(value) for key, value in fields.items()}


@dataclass(frozen=True)
class Polls:
    server: FeedServer
    config: Path
    database: Path
    first: Poll
    second: Poll
    third: Poll
    articles_after: tuple[int, int, int]
    first_world_etag: str | None


def run_poll(config: Path, server: FeedServer, *args: str) -> Poll:
    server.clear_log()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    done = subprocess.run(
        [str(NEWSWATCH), "--config", str(config), "poll", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return Poll(args, done.returncode, done.stdout, done.stderr, server.requests())


def etag(server: FeedServer, path: str) -> str | None:
    resource = server.resource(path)
    return resource.etag if resource is not None else None


def query(database: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    connection = sqlite3.connect(database)
    try:
        connection.row_factory = sqlite3.Row
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def article_count(database: Path) -> int:
    return int(query(database, "SELECT count(*) AS n FROM articles")[0]["n"])


def article(database: Path, canonical_url: str) -> sqlite3.Row:
    rows = query(database, "SELECT * FROM articles WHERE canonical_url = ?", canonical_url)
    assert len(rows) == 1, f"{canonical_url}: {len(rows)} articles"
    return rows[0]


def serve_feeds(server: FeedServer) -> list[Entry]:
    """Serve the four feeds of the first poll; return the entries of `world`."""
    samples = server.add_sample_articles()
    server.set_page("/articles/gone.html", "<html><body><p>never served</p></body></html>")
    server.set_fault("/articles/gone.html", "500")
    gone = Entry(
        "gone-1",
        "North Korean shells reach Kursk",
        server.url("/articles/gone.html"),
        "DPRK shells were used by Russia near Kursk.",
        datetime(2024, 10, 12, 9, 0, tzinfo=UTC),
        content_html=f"<p>{GONE_CONTENT}</p>",
    )
    world = [*samples, gone]
    server.set_feed("/world.xml", world, title="World")
    # The magazine's story again, linked straight to its canonical URL with tracking.
    wire = Entry(
        "wire-1",
        MAGAZINE.title,
        MAGAZINE.canonical_url + "?utm_source=wire&utm_medium=rss",
        MAGAZINE.summary,
        MAGAZINE.published,
    )
    server.set_feed("/wire.xml", [wire], kind="atom", title="Wire")
    # No encoding in the XML: only the Content-Type header says windows-1251.
    cyrillic = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Новости</title>'
        f"<item><title>{CYRILLIC_TITLE}</title><link>https://ru.example/1</link>"
        "<guid>ru-1</guid><description>Пхеньян</description></item></channel></rss>"
    ).encode("cp1251")
    server.set_resource("/ru.xml", cyrillic, "application/rss+xml; charset=windows-1251")
    server.set_fault("/broken.xml", "notfeed")
    return world


def write_config(folder: Path, server: FeedServer) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""\
[storage]
url = "sqlite:///newswatch.db"

[daemon]
user_agent = "{USER_AGENT}"
per_host = 8

[network]
allow_private = true
timeout = "10s"

[[topics]]
name = "dprk"
query = '("North Korea" OR "North Korean" OR DPRK) AND (Russia OR Ukraine)'

[[feeds]]
name = "world"
url = "{server.url("/world.xml")}"
full_text = true

[[feeds]]
name = "wire"
url = "{server.url("/wire.xml")}"

[[feeds]]
name = "ru"
url = "{server.url("/ru.xml")}"
keep_unmatched = true

[[feeds]]
name = "broken"
url = "{server.url("/broken.xml")}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def polls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polls]:
    folder = tmp_path_factory.mktemp("poll")
    with FeedServer() as server:
        world = serve_feeds(server)
        config = write_config(folder, server)
        database = folder / "newswatch.db"
        first = run_poll(config, server)
        first_world_etag = etag(server, "/world.xml")
        after_first = article_count(database)
        second = run_poll(config, server)
        after_second = article_count(database)
        new = Entry(
            "new-1",
            "Pyongyang and Moscow sign a pact",
            server.url("/articles/new.html"),
            "North Korea and Russia sign a defence pact.",
            datetime(2024, 10, 16, 8, 0, tzinfo=UTC),
        )
        server.set_page("/articles/new.html", NEW_PAGE)
        server.set_feed("/world.xml", [new, *world], title="World")
        third = run_poll(config, server, "world")
        counts = (after_first, after_second, article_count(database))
        yield Polls(server, config, database, first, second, third, counts, first_world_etag)


# --- the first poll ----------------------------------------------------------------------


def test_first_poll_stores_the_on_topic_entries_and_says_so(polls: Polls) -> None:
    first = polls.first
    assert first.returncode == 0, first.stderr
    assert first.summary() == {
        "feeds": 4,
        "fetched": 3,  # world, wire, ru; broken is not a feed
        "not modified": 0,
        "failed": 1,
        "new articles": 4,  # blog, magazine, gone, ru
        "duplicates": 1,  # the magazine's story again, from wire
        "off-topic": 1,  # football
        "near-duplicates": 0,
        "updated": 0,
    }
    assert polls.articles_after[0] == 4
    assert "Traceback" not in first.stderr


def test_first_poll_sends_the_configured_user_agent(polls: Polls) -> None:
    agents = {r.header("user-agent") for r in polls.first.requests}
    assert agents == {USER_AGENT}
    assert not any(r.conditional for r in polls.first.requests)


def test_full_text_stores_the_page_text_without_boilerplate(polls: Polls) -> None:
    assert "/articles/blog_dprk.html" in polls.first.paths()
    blog = article(polls.database, BLOG.canonical_url)
    for paragraph in (p.strip() for p in BLOG.text.splitlines() if p.strip()):
        assert paragraph in blog["text"]
    leaked = [phrase for phrase in BLOG.boilerplate if phrase in blog["text"]]
    assert leaked == []
    assert blog["title"] == BLOG.title
    assert blog["language"] == "en"
    # The page's rel=canonical wins over the local URL it was fetched from.
    assert blog["url"] == polls.server.url("/articles/blog_dprk.html")
    assert blog["canonical_url"] == BLOG.canonical_url


def test_a_page_that_fails_falls_back_to_the_feed_content(polls: Polls) -> None:
    gone_url = polls.server.url("/articles/gone.html")
    assert "/articles/gone.html" in polls.first.paths()
    gone = article(polls.database, gone_url)
    assert gone["text"] == GONE_CONTENT
    assert gone["title"] == "North Korean shells reach Kursk"


def test_one_story_from_two_feeds_is_one_article_with_two_sightings(polls: Polls) -> None:
    magazine = article(polls.database, MAGAZINE.canonical_url)
    sightings = query(
        polls.database,
        "SELECT src.name, s.entry_key FROM sightings s JOIN sources src ON src.id = s.source_id"
        " WHERE s.article_id = ? ORDER BY src.name",
        magazine["id"],
    )
    assert [(row["name"], row["entry_key"]) for row in sightings] == [
        ("wire", "guid:wire-1"),
        ("world", "guid:" + MAGAZINE.canonical_url),
    ]


def test_off_topic_entries_are_not_stored(polls: Polls) -> None:
    rows = query(
        polls.database,
        "SELECT count(*) AS n FROM articles WHERE canonical_url = ? OR title = ?",
        FOOTBALL.canonical_url,
        FOOTBALL.title,
    )
    assert rows[0]["n"] == 0
    # Its page had to be read once to know.
    assert "/articles/local_football.html" in polls.first.paths()


def test_charset_from_the_http_header_reaches_the_database(polls: Polls) -> None:
    ru = article(polls.database, "https://ru.example/1")
    assert ru["title"] == CYRILLIC_TITLE


def test_a_feed_that_fails_is_logged_and_recorded_with_its_reason(polls: Polls) -> None:
    url = polls.server.url("/broken.xml")
    assert f"feed failed source=broken url={url} error=not a feed" in polls.first.stderr
    (broken,) = query(polls.database, "SELECT * FROM sources WHERE name = 'broken'")
    assert broken["last_error"].startswith("not a feed")
    assert broken["error_count"] >= 1
    (world,) = query(polls.database, "SELECT * FROM sources WHERE name = 'world'")
    assert world["last_error"] is None
    assert world["error_count"] == 0
    assert world["etag"] == etag(polls.server, "/world.xml")  # as of the third poll


# --- the second poll: nothing changed ------------------------------------------------------


def test_second_poll_gets_304s_and_stores_nothing(polls: Polls) -> None:
    second = polls.second
    assert second.returncode == 0, second.stderr
    assert second.summary() == {
        "feeds": 4,
        # ru has no ETag or Last-Modified: fetched again, but its body is unchanged, so it
        # counts as not modified and is not parsed.
        "fetched": 0,
        "not modified": 3,
        "failed": 1,
        "new articles": 0,
        "duplicates": 0,
        "off-topic": 0,
        "near-duplicates": 0,
        "updated": 0,
    }
    assert polls.articles_after[1] == polls.articles_after[0]


def test_second_poll_sends_the_stored_etags(polls: Polls) -> None:
    by_path = {r.path: r for r in polls.second.requests}
    # wire.xml has not changed since; world.xml has, for the third poll.
    assert by_path["/wire.xml"].header("if-none-match") == etag(polls.server, "/wire.xml")
    assert by_path["/world.xml"].header("if-none-match") == polls.first_world_etag
    # No page is fetched again.
    assert not [p for p in polls.second.paths() if p.startswith("/articles/")]


# --- the third poll: `poll world` after world changed --------------------------------------


def test_poll_name_polls_only_that_feed(polls: Polls) -> None:
    third = polls.third
    assert third.returncode == 0, third.stderr
    assert third.summary()["feeds"] == 1
    assert not {"/wire.xml", "/ru.xml", "/broken.xml"} & set(third.paths())


def test_known_entries_are_not_fetched_again(polls: Polls) -> None:
    # The feed changed, so it is parsed again; only the new entry's page is fetched:
    # not the known on-topic pages, not the off-topic one, not the one that failed.
    assert polls.third.paths() == ["/articles/new.html", "/world.xml"]
    assert polls.third.summary() == {
        "feeds": 1,
        "fetched": 1,
        "not modified": 0,
        "failed": 0,
        "new articles": 1,
        "duplicates": 0,
        "off-topic": 0,
        "near-duplicates": 0,
        "updated": 0,
    }
    assert polls.articles_after[2] == polls.articles_after[1] + 1
    new = article(polls.database, polls.server.url("/articles/new.html"))
    assert "mutual defence pact" in new["text"]
    assert "All rights reserved" not in new["text"]


# --- mistakes ------------------------------------------------------------------------------


def test_poll_of_an_unknown_feed_is_one_line(polls: Polls) -> None:
    done = run_poll(polls.config, polls.server, "world", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"newswatch: no feed named nope in {polls.config}\n"
    assert done.requests == []


def test_poll_exits_1_when_every_feed_it_polls_fails(polls: Polls) -> None:
    done = run_poll(polls.config, polls.server, "broken")
    assert done.returncode == 1
    assert done.summary()["failed"] == done.summary()["feeds"] == 1
    assert [r.path for r in done.requests] == ["/broken.xml"]
