"""store_articles and known_entry_keys: the first three rungs of the dedupe ladder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import storage.articles
from storage.articles import store_articles
from storage.db import Database
from storage.models import Article, ArticleTopic, Sighting, Topic
from storage.records import ArticleRecord, SourceSpec, StoreStats, TopicSpec
from storage.sightings import known_entry_keys
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def sources(database: Database) -> dict[str, int]:
    """Create sources a, b and c; return their ids by name."""
    specs = [SourceSpec(name, "feed", f"http://{name}.test/feed.xml") for name in "abc"]
    sync_sources(database, specs, 900, NOW)
    return {state.name: state.id for state in due_sources(database, NOW)}


def article(
    source_id: int, key: str, url: str, content_hash: str = "", **fields: Any
) -> ArticleRecord:
    return ArticleRecord(
        source_id=source_id,
        entry_key=key,
        url=url,
        canonical_url=url,
        content_hash=content_hash or f"hash-of-{url}",
        **fields,
    )


def count(db: Database, column: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(column))) or 0)


def stats(new: int = 0, duplicates: int = 0, known: int = 0) -> StoreStats:
    return StoreStats(new=new, duplicates=duplicates, known=known)


def test_new_duplicate_and_known(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    first = [article(a, "1", "http://x.test/1"), article(a, "2", "http://x.test/2")]
    assert store_articles(database, first, NOW) == stats(new=2)
    later = [
        article(a, "1", "http://x.test/1"),  # re-poll of the same entry
        article(b, "b-9", "http://x.test/1"),  # same URL and text elsewhere
        article(b, "b-10", "http://mirror.test/2", content_hash="hash-of-http://x.test/2"),
        article(b, "b-11", "http://x.test/3"),
    ]
    assert store_articles(database, later, NOW) == stats(new=1, duplicates=2, known=1)
    assert count(database, Article.id) == 3
    assert count(database, Sighting.id) == 5


def test_rerunning_a_batch_stores_nothing_twice(
    database: Database, sources: dict[str, int]
) -> None:
    batch = [article(sources["a"], str(n), f"http://x.test/{n}") for n in range(50)]
    assert store_articles(database, batch, NOW) == stats(new=50)
    assert store_articles(database, batch, NOW + timedelta(hours=1)) == stats(known=50)
    assert count(database, Article.id) == 50
    assert count(database, Sighting.id) == 50


def test_duplicates_within_one_batch(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    batch = [
        article(a, "1", "http://x.test/1", content_hash="h1"),
        article(b, "1", "http://x.test/1", content_hash="h2"),  # same URL, other source
        article(a, "3", "http://mirror.test/1", content_hash="h1"),  # same text, other URL
        article(a, "1", "http://x.test/1", content_hash="h1"),  # same entry twice in the feed
    ]
    assert store_articles(database, batch, NOW) == stats(new=1, duplicates=2, known=1)
    with database.session() as session:
        article_ids = set(session.scalars(select(Sighting.article_id)))
    assert len(article_ids) == 1
    assert count(database, Sighting.id) == 3


def test_failed_batch_leaves_nothing_and_can_be_rerun(
    database: Database, sources: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [article(sources["a"], str(n), f"http://x.test/{n}") for n in range(5)]

    def crash(*_args: object) -> None:
        raise RuntimeError("crash while storing topics")

    with monkeypatch.context() as patch:
        patch.setattr(storage.articles, "_insert_matches", crash)
        with pytest.raises(RuntimeError):
            store_articles(database, batch, NOW)
    assert count(database, Article.id) == 0
    assert store_articles(database, batch, NOW) == stats(new=5)


def test_topic_matches_are_stored_with_terms(database: Database, sources: dict[str, int]) -> None:
    sync_topics(
        database,
        [TopicSpec("dprk", "DPRK OR Pyongyang"), TopicSpec("kursk", "Kursk")],
        NOW,
    )
    first = article(
        sources["a"], "1", "http://x.test/1", matches={"dprk": ("DPRK",), "gone": ("x",)}
    )
    again = article(
        sources["b"],
        "1",
        "http://x.test/1",
        matches={"dprk": ("Pyongyang",), "kursk": ("Kursk",)},
    )
    store_articles(database, [first], NOW)
    assert store_articles(database, [again], NOW) == stats(duplicates=1)
    with database.session() as session:
        rows = session.execute(
            select(Topic.name, ArticleTopic.terms)
            .join(Topic, Topic.id == ArticleTopic.topic_id)
            .order_by(Topic.name)
        ).all()
    # The duplicate adds its new topic; the first match's terms stay.
    assert [tuple(row) for row in rows] == [("dprk", ["DPRK"]), ("kursk", ["Kursk"])]


def test_sync_topics_updates_queries(database: Database) -> None:
    sync_topics(database, [TopicSpec("t", "old")], NOW)
    sync_topics(database, [TopicSpec("t", "new"), TopicSpec("u", "u")], NOW + timedelta(days=1))
    with database.session() as session:
        rows = session.execute(select(Topic.name, Topic.query, Topic.updated_at)).all()
    assert sorted(tuple(row) for row in rows) == [
        ("t", "new", NOW + timedelta(days=1)),
        ("u", "u", NOW + timedelta(days=1)),
    ]


def test_text_is_stored_whole_without_nul(database: Database, sources: dict[str, int]) -> None:
    text = "Line one\nLine two \u2028 \u00e9t\u00e9 \x00end"
    published = datetime(2024, 10, 14, 23, 30, tzinfo=UTC)
    record = article(
        sources["a"],
        "1",
        "http://x.test/1",
        title="T\x00",
        text=text,
        authors=("Ann", "Bo"),
        language="fr",
        guid="urn:1",
        published_at=published,
    )
    store_articles(database, [record], NOW)
    with database.session() as session:
        row = session.scalars(select(Article)).one()
        assert (row.title, row.text) == ("T", text.replace("\x00", ""))
        assert (row.authors, row.language, row.guid) == (["Ann", "Bo"], "fr", "urn:1")
        assert (row.published_at, row.first_seen_at, row.revision) == (published, NOW, 1)


def test_huge_keys_and_naive_dates_do_not_break_a_batch(
    database: Database, sources: dict[str, int]
) -> None:
    a, b = sources["a"], sources["b"]
    huge_url = "http://x.test/?q=" + "\u00e9x" * 3000  # 9 kB: over PostgreSQL's index limit
    huge_key = "urn:" + "k" * 10_000
    naive = datetime(2024, 10, 14, 12, 0)
    first = [
        article(a, huge_key, huge_url, published_at=naive),
        article(a, "bad\ud800key", "http://x.test/2", title="lone \udc80 surrogate"),
    ]
    assert store_articles(database, first, NOW) == stats(new=2)
    assert store_articles(database, first, NOW) == stats(known=2)
    assert store_articles(database, [article(b, "9", huge_url)], NOW) == stats(duplicates=1)
    assert known_entry_keys(database, a, [huge_key, "other"]) == {huge_key}
    with database.session() as session:
        published = session.scalars(
            select(Article.published_at).where(Article.published_at.is_not(None))
        ).one()
    assert published == naive.replace(tzinfo=UTC)


def test_known_entry_keys(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    batch = [article(a, f"key-{n}", f"http://x.test/{n}") for n in range(0, 1200, 2)]
    store_articles(database, batch, NOW)
    asked = [f"key-{n}" for n in range(1200)]
    assert known_entry_keys(database, a, asked) == {f"key-{n}" for n in range(0, 1200, 2)}
    assert known_entry_keys(database, b, asked) == set()
    assert known_entry_keys(database, a, []) == set()


def run_together(*jobs: Callable[[], StoreStats]) -> list[StoreStats]:
    """Run the jobs in threads released at the same moment."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], StoreStats]) -> StoreStats:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_racing_writers_store_each_article_once(
    database: Database, sources: dict[str, int]
) -> None:
    a, b = sources["a"], sources["b"]
    same = [article(a, str(n), f"http://x.test/{n}") for n in range(300)]
    other_source = [article(b, str(n), f"http://x.test/{n}") for n in range(300)]
    results = run_together(
        lambda: store_articles(database, same, NOW),
        lambda: store_articles(database, list(reversed(same)), NOW),
        lambda: store_articles(database, other_source, NOW),
    )
    total = StoreStats()
    for result in results:
        total.add(result)
    assert total == stats(new=300, duplicates=300, known=300)
    assert count(database, Article.id) == 300
    assert count(database, Sighting.id) == 600
