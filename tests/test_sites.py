"""Site spiders end to end: `newswatch crawl` and `scrapy crawl` against a local news site.

The site (tests/newssite.py) has a sitemap index with a Google News sitemap and a
gzipped sitemap, listing pages two deep, article pages in UTF-8, windows-1251 (declared
in the header, and not at all) and windows-1252 (declared in a meta tag), pages to ignore,
and a robots.txt that disallows /private/. A second site is crawled by the custom
spider `json_listing` (crawler/spiders/example_json.py) from a JSON listing.

A module fixture runs `newswatch crawl` twice (a new article appears in between) and
`scrapy crawl json_listing` once; the tests check what those runs did.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feedserver import FeedServer, Request
from tests.newssite import BOILERPLATE, NewsSite, article_page, story

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER_AGENT = "newswatch-tests (+mailto:tests@example.org)"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    requests: list[Request]

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@dataclass(frozen=True)
class Runs:
    site: NewsSite
    database: Path
    first: Run
    second: Run
    scrapy: Run
    late_path: str


def run(server: FeedServer, argv: list[str], cwd: Path | None = None) -> Run:
    server.clear_log()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=env, cwd=cwd or ROOT
    )
    return Run(done.returncode, done.stdout, done.stderr, server.requests())


def rows(database: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    connection = sqlite3.connect(database)
    try:
        connection.row_factory = sqlite3.Row
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def summary(run: Run) -> dict[str, int]:
    line = run.stdout.strip().splitlines()[-1]
    return {k: int(v) for k, v in (part.split(": ") for part in line.split("  "))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    tmp = tmp_path_factory.mktemp("sites")
    database = tmp / "newswatch.db"
    with FeedServer() as server:
        site = NewsSite(server)
        site.build()
        api_article = story(
            "/api-only/quay-repairs", "Quay repairs approved", "the quay", "Kilbay", site.now
        )
        server.set_page(api_article.path, article_page(api_article, server.base_url))
        server.set_resource(
            "/api/latest.json",
            json.dumps({"articles": [{"url": api_article.path}]}).encode(),
            "application/json",
        )
        config = tmp / "config.toml"
        config.write_text(
            f"""
[storage]
url = "sqlite:///{database}"

[daemon]
user_agent = "{USER_AGENT}"

[network]
allow_private = true

[[sites]]
name = "herald"
sitemap = "{server.url("/sitemap_index.xml")}"
start_urls = ["{server.url("/world/")}"]
allow = ["/news/"]
deny = ["/tag/", "/about"]
max_depth = 2
max_age = "30d"
interval = "1h"

[[sites]]
name = "herald-api"
spider = "json_listing"
start_urls = ["{server.url("/api/latest.json")}"]
schedule = "*/30 * * * *"
""",
            encoding="utf-8",
        )
        newswatch = [str(BIN / "newswatch"), "--config", str(config), "crawl"]
        first = run(server, newswatch)
        late = story("/news/late-ferry", "Late ferry added", "the late ferry", "Ardmore", site.now)
        site.add_news(late)
        # The custom spider now lists an article the generic spider stored.
        server.set_resource(
            "/api/latest.json",
            json.dumps(
                {"articles": [{"url": api_article.path}, {"url": "/news/ferry-strike"}]}
            ).encode(),
            "application/json",
        )
        second = run(server, newswatch)
        script_article = story(
            "/api-only/script", "Crawled by scrapy crawl", "scripts", "Kilbay", site.now
        )
        server.set_page(script_article.path, article_page(script_article, server.base_url))
        server.set_resource(
            "/api/script.json",
            json.dumps({"articles": [{"url": script_article.path}]}).encode(),
            "application/json",
        )
        scrapy = run(
            server,
            [
                str(BIN / "scrapy"),
                "crawl",
                "json_listing",
                "-a",
                f"start_urls={server.url('/api/script.json')}",
                "-s",
                f"NEWSWATCH_DATABASE_URL=sqlite:///{database}",
                "-s",
                f"USER_AGENT={USER_AGENT}",
                "-s",
                "LOG_LEVEL=WARNING",
                "-s",
                "NEWSWATCH_ALLOW_PRIVATE=true",
            ],
        )
        yield Runs(site, database, first, second, scrapy, late.path)


def test_crawl_exits_zero_and_prints_a_summary(runs: Runs) -> None:
    assert runs.first.returncode == 0, runs.first.stderr
    first = summary(runs.first)
    assert first["sites"] == 2 and first["failed"] == 0
    # Every article of the site but the one published later, and the API's article.
    assert first["new articles"] == len(runs.site.stored) - 1 + 1


def test_only_the_intended_article_pages_are_stored_each_once(runs: Runs) -> None:
    paths = {
        row["url"].removeprefix(runs.site.server.base_url)
        for row in rows(runs.database, "SELECT url FROM articles")
    }
    expected = {*runs.site.stored, "/api-only/quay-repairs", "/api-only/script"}
    assert paths == expected
    counts = rows(runs.database, "SELECT canonical_url, count(*) AS n FROM articles GROUP BY 1")
    assert all(row["n"] == 1 for row in counts)


def test_each_article_page_is_requested_once_and_ignored_pages_never(runs: Runs) -> None:
    paths = runs.first.paths()
    for path in runs.site.stored:
        if path != runs.late_path:
            assert paths.count(path) == 1, path
    for path in runs.site.ignored:
        assert path not in paths, path
    assert "/robots.txt" in paths
    assert {"/sitemap_index.xml", "/sitemaps/news.xml", "/sitemaps/archive.xml.gz"} <= set(paths)
    assert "/world/page/2" in paths


def test_requests_carry_the_configured_user_agent(runs: Runs) -> None:
    assert {r.header("User-Agent") for r in runs.first.requests} == {USER_AGENT}


def test_text_is_clean_and_metadata_right(runs: Runs) -> None:
    by_url = {
        row["url"].removeprefix(runs.site.server.base_url): row
        for row in rows(runs.database, "SELECT * FROM articles")
    }
    for path, article in runs.site.stored.items():
        row = by_url[path]
        for paragraph in article.paragraphs:
            assert paragraph in row["text"], (path, paragraph)
        for phrase in BOILERPLATE:
            assert phrase not in row["text"], (path, phrase)
        assert row["title"] == article.title, path
        published = datetime.fromisoformat(row["published_at"]).replace(tzinfo=UTC)
        assert published == article.published, path
        assert row["published_from"] == "json-ld", path
        assert row["text_from"] == "page", path
        assert row["language"] == article.language, path
        assert row["canonical_url"] == runs.site.server.base_url + path


def test_pages_in_other_encodings_come_out_as_correct_text(runs: Runs) -> None:
    by_url = {
        row["url"].removeprefix(runs.site.server.base_url): row
        for row in rows(runs.database, "SELECT url, title, text FROM articles")
    }
    # windows-1251 in the header; windows-1252 in a meta tag; windows-1251 undeclared.
    assert "новый терминал" in by_url["/news/terminal-ru"]["title"]
    assert "Le marché du port célèbre" in by_url["/news/marche-centenaire"]["title"]
    assert "« C'est le cœur de la ville »" in by_url["/news/marche-centenaire"]["text"]
    assert "грузовики на набережной" in by_url["/news/terminal-ru-2"]["text"]


def test_a_second_run_fetches_no_stored_article_page(runs: Runs) -> None:
    assert runs.second.returncode == 0, runs.second.stderr
    article_paths = [p for p in runs.second.paths() if p.startswith(("/news/", "/api-only/"))]
    # Only the article published since; not even the one the custom spider now lists,
    # which the generic spider stored in the first run.
    assert article_paths == [runs.late_path]
    second = summary(runs.second)
    assert second["new articles"] == 1
    assert second["known"] >= len(runs.site.stored)


def test_the_custom_spider_stores_through_the_pipelines(runs: Runs) -> None:
    found = rows(
        runs.database,
        "SELECT a.title, a.text, s.name FROM articles a JOIN sightings g ON g.article_id = a.id "
        "JOIN sources s ON s.id = g.source_id WHERE a.url LIKE '%/api-only/quay-repairs'",
    )
    assert [(r["title"], r["name"]) for r in found] == [("Quay repairs approved", "herald-api")]
    assert BOILERPLATE[1] not in found[0]["text"]
    kinds = {r["name"]: r["kind"] for r in rows(runs.database, "SELECT name, kind FROM sources")}
    assert kinds["herald"] == "site" and kinds["herald-api"] == "site"


def test_scrapy_crawl_from_the_repository_root_stores_through_the_pipelines(runs: Runs) -> None:
    assert runs.scrapy.returncode == 0, runs.scrapy.stderr
    found = rows(
        runs.database,
        "SELECT a.title, s.name, s.kind FROM articles a JOIN sightings g ON g.article_id = a.id "
        "JOIN sources s ON s.id = g.source_id WHERE a.url LIKE '%/api-only/script'",
    )
    assert [tuple(r) for r in found] == [("Crawled by scrapy crawl", "json_listing", "site")]
    assert "/robots.txt" in runs.scrapy.paths()


def test_sites_record_their_runs(runs: Runs) -> None:
    found = {
        r["name"]: r
        for r in rows(
            runs.database, "SELECT name, last_status, last_error, last_checked_at FROM sources"
        )
    }
    assert found["herald"]["last_status"] == 200
    assert found["herald"]["last_error"] is None
    assert found["herald"]["last_checked_at"] is not None


def test_too_old_news_is_skipped_before_the_request(runs: Runs) -> None:
    assert "/news/old-regatta" not in runs.first.paths() + runs.second.paths()
    assert datetime.now(UTC) - runs.site.now < timedelta(hours=1)
