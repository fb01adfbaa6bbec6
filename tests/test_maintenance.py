"""Maintenance: old articles lose their text but stay recognised; the database is tidied."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from scheduler.commands.dedupe_cmd import REBUILD_LOCK
from scheduler.config import ConfigError, config_from_text
from scheduler.maintenance import LOCK_NAME, run_maintenance
from storage.articles import store_articles
from storage.db import Database
from storage.locks import singleton
from storage.maintenance import optimise, prune_texts
from storage.models import Article, ArticleBand, Sighting
from storage.near_duplicates import rebuild
from storage.records import DEFAULT_DEDUPE, SourceSpec, StoreStats
from storage.sources import due_sources, sync_sources
from tests.daemon_helpers import run_command
from tests.test_near_duplicates import FOOTER_B, HEADER_B, NOW, WIRE, record, sources

__all__ = ["sources"]  # the fixture, imported for these tests

OLD = NOW - timedelta(days=200)


def article_row(db: Database, article_id: int) -> Article:
    with db.session() as session:
        row = session.get(Article, article_id)
        assert row is not None
        session.expunge(row)
        return row


def bands(db: Database, article_id: int) -> int:
    with db.session() as session:
        stmt = select(func.count()).where(ArticleBand.article_id == article_id)
        return int(session.scalar(stmt) or 0)


def test_pruned_articles_keep_their_identity(database: Database, sources: dict[str, int]) -> None:
    old = record(sources["a"], "1", "http://a.test/story", WIRE, summary="The summary.")
    store_articles(database, [old], OLD)
    fresh = record(sources["a"], "2", "http://a.test/fresh", "Fresh news. " * 60)
    store_articles(database, [fresh], NOW)
    before = article_row(database, 1)
    assert prune_texts(database, NOW - timedelta(days=180), NOW) == 1
    assert prune_texts(database, NOW - timedelta(days=180), NOW) == 0  # already pruned
    pruned = article_row(database, 1)
    assert (pruned.text, pruned.summary, pruned.pruned_at) == ("", "", NOW)
    assert (pruned.title, pruned.canonical_url, pruned.content_hash) == (
        before.title,
        before.canonical_url,
        before.content_hash,
    )
    assert pruned.signature == before.signature and bands(database, 1) == bands(database, 1) > 0
    assert article_row(database, 2).text.startswith("Fresh news.")
    assert article_row(database, 2).pruned_at is None
    # The same entry, the same page from another feed, and a rewrite of the story: all
    # still known, none is new again.
    assert store_articles(database, [old], NOW) == StoreStats(known=1)
    again = record(sources["b"], "9", "http://a.test/story", WIRE)
    assert store_articles(database, [again], NOW) == StoreStats(duplicates=1)
    rewrite = record(sources["c"], "7", "http://c.test/copy", f"{HEADER_B}\n{WIRE}\n{FOOTER_B}")
    assert store_articles(database, [rewrite], NOW) == StoreStats(near_duplicates=1)
    assert article_row(database, 3).duplicate_of == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Sighting)) == 4


def test_dedupe_rebuild_keeps_a_pruned_article_in_the_index(
    database: Database, sources: dict[str, int]
) -> None:
    store_articles(database, [record(sources["a"], "1", "http://a.test/story", WIRE)], OLD)
    prune_texts(database, NOW - timedelta(days=180), NOW)
    rewrite = record(sources["b"], "2", "http://b.test/copy", f"{HEADER_B}\n{WIRE}\n{FOOTER_B}")
    store_articles(database, [rewrite], NOW)
    signature = article_row(database, 1).signature
    assert rebuild(database, DEFAULT_DEDUPE) == (2, 1)
    assert article_row(database, 1).signature == signature and bands(database, 1) > 0
    assert article_row(database, 2).duplicate_of == 1


def pages(db: Database) -> int:
    """Return the SQLite database's size in pages (the file lags behind, in WAL mode)."""
    with db.session() as session:
        return int(session.execute(text("PRAGMA page_count")).scalar_one())


def test_sqlite_is_vacuumed_when_much_of_it_is_free(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    db.upgrade()
    try:
        sync_sources(db, [SourceSpec("a", "feed", "http://a.test/")], 900, OLD)
        (source,) = due_sources(db, OLD)
        big = [
            record(source.id, str(n), f"http://a.test/{n}", f"Story {n}. " + "word " * 4000)
            for n in range(40)
        ]
        store_articles(db, big, OLD)
        assert optimise(db) == ("ANALYZE",)  # nothing to reclaim
        size = pages(db)
        assert prune_texts(db, NOW, NOW) == 40
        assert optimise(db) == ("ANALYZE", "VACUUM")
        assert pages(db) < size / 2
    finally:
        db.dispose()


CONFIG = """
[storage]
url = "{url}"
keep = "180d"
"""


def test_maintenance_runs_once_under_its_lock(pg_url: str, tmp_path: Path) -> None:
    config = config_from_text(CONFIG.format(url=pg_url), tmp_path / "config.toml")
    db = Database.open(pg_url)
    db.upgrade()
    other = Database.open(pg_url)
    try:
        with singleton(other, LOCK_NAME) as held:
            assert held
            assert run_maintenance(config, db) is None  # another daemon is at it
        report = run_maintenance(config, db)
        assert report is not None and report.statements[0].startswith("ANALYZE ")
    finally:
        other.dispose()
        db.dispose()


def test_db_maintain_prunes_by_hand(
    tmp_path: Path, sources: dict[str, int], database: Database
) -> None:
    url = database.url.render_as_string(hide_password=False)
    store_articles(database, [record(sources["a"], "1", "http://a.test/story", WIRE)], OLD)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=url), encoding="utf-8")
    done = run_command(config, "db", "maintain")
    assert done.returncode == 0, done.stderr
    assert "pruned articles: 1" in done.stdout
    assert article_row(database, 1).text == ""


@pytest.mark.parametrize(
    ("keep", "message"),
    [('"soon"', "is not a duration"), ('"0s"', "longer than 0s"), ("true", "duration")],
)
def test_keep_must_be_a_duration(tmp_path: Path, keep: str, message: str) -> None:
    config = f'[storage]\nurl = "sqlite:///x.db"\nkeep = {keep}\n'
    with pytest.raises(ConfigError) as caught:
        config_from_text(config, tmp_path / "config.toml")
    (problem,) = caught.value.problems
    assert problem.key == "storage.keep" and problem.line == 3
    assert message in problem.message


def test_dedupe_rebuild_refuses_to_run_twice_at_once(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{pg_url}"\n', encoding="utf-8")
    db = Database.open(pg_url)
    db.upgrade()
    try:
        with singleton(db, REBUILD_LOCK) as held:
            assert held
            busy = run_command(config, "dedupe", "rebuild")
        done = run_command(config, "dedupe", "rebuild")
    finally:
        db.dispose()
    assert busy.returncode == 1
    assert "dedupe rebuild is already running" in busy.stderr
    assert "Traceback" not in busy.stderr
    assert done.returncode == 0, done.stderr
    assert "articles: 0" in done.stdout
