"""export_rows: the export schema read back from the database, streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

import storage.export_rows
from storage.articles import store_articles
from storage.db import Database
from storage.export_rows import export_rows
from storage.models import Article
from storage.records import ArticleRecord, SourceSpec, TopicSpec
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def sources(database: Database) -> dict[str, int]:
    specs = [SourceSpec(name, "feed", f"http://{name}.test/") for name in ("zeta", "alpha")]
    sync_sources(database, specs, 900, NOW)
    sync_topics(database, [TopicSpec("dprk", "DPRK"), TopicSpec("kursk", "Kursk")], NOW)
    return {state.name: state.id for state in due_sources(database, NOW)}


def article(source_id: int, n: int, **fields: Any) -> ArticleRecord:
    url = f"http://x.test/{n}"
    return ArticleRecord(source_id, f"key-{n}", url, url, f"hash-{n}", title=f"T{n}", **fields)


def test_rows_carry_sources_topics_and_matches(database: Database, sources: dict[str, int]) -> None:
    published = datetime(2024, 10, 14, 22, 0, tzinfo=UTC)
    first = article(
        sources["zeta"],
        1,
        authors=("Ann",),
        language="en",
        published_at=published,
        matches={"kursk": ("Kursk",), "dprk": ("DPRK", "Pyongyang")},
    )
    store_articles(database, [first, article(sources["zeta"], 2)], NOW)
    # alpha carries article 1 later: zeta stays its first source.
    store_articles(database, [article(sources["alpha"], 1)], NOW + HOUR)

    rows = list(export_rows(database))
    assert [row.title for row in rows] == ["T1", "T2"]
    row = rows[0]
    assert (row.source, row.sources) == ("zeta", ("alpha", "zeta"))
    assert row.topics == ("dprk", "kursk")
    assert row.matches == {"dprk": ("DPRK", "Pyongyang"), "kursk": ("Kursk",)}
    assert (row.authors, row.language, row.published_at) == (("Ann",), "en", published)
    assert (row.first_seen_at, row.updated_at) == (NOW, NOW)
    assert (row.url, row.canonical_url, row.content_hash) == (
        "http://x.test/1",
        "http://x.test/1",
        "hash-1",
    )
    assert (rows[1].topics, rows[1].matches, rows[1].duplicate_of) == ((), {}, None)


def test_window_topic_and_duplicates(database: Database, sources: dict[str, int]) -> None:
    zeta = sources["zeta"]
    store_articles(database, [article(zeta, 1, matches={"dprk": ("DPRK",)})], NOW)
    store_articles(database, [article(zeta, 2)], NOW + HOUR)
    store_articles(database, [article(zeta, 3, matches={"dprk": ("DPRK",)})], NOW + 2 * HOUR)
    with database.session() as session:
        session.execute(
            update(Article).where(Article.content_hash == "hash-3").values(duplicate_of=1)
        )

    def titles(**filters: Any) -> list[str]:
        return [row.title for row in export_rows(database, **filters)]

    assert titles() == ["T1", "T2"]
    assert titles(include_duplicates=True) == ["T1", "T2", "T3"]
    assert titles(since=NOW + HOUR, include_duplicates=True) == ["T2", "T3"]
    assert titles(since=NOW, until=NOW + HOUR) == ["T1"]  # until is exclusive
    assert titles(topic="dprk", include_duplicates=True) == ["T1", "T3"]
    assert titles(topic="kursk") == []


def test_rows_stream_in_chunks_without_a_query_per_row(
    database: Database, sources: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.export_rows, "EXPORT_CHUNK", 7)
    batch = [article(sources["zeta"], n, matches={"dprk": ("DPRK",)}) for n in range(50)]
    store_articles(database, batch, NOW)
    statements: list[str] = []

    def count_select(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count_select)
    try:
        rows = export_rows(database)
        assert isinstance(rows, Iterator)
        exported = list(rows)
    finally:
        event.remove(database.engine, "before_cursor_execute", count_select)
    assert sorted(row.title for row in exported) == sorted(f"T{n}" for n in range(50))
    assert [row.id for row in exported] == sorted(row.id for row in exported)
    # One streamed SELECT, then sightings, near duplicates' sightings and topics once per
    # chunk of 7 (PostgreSQL fetches a server-side cursor with extra statements, which
    # are not SELECTs).
    assert len(statements) <= 1 + 3 * 8


def test_closing_the_stream_early_ends_its_transaction(
    database: Database, sources: dict[str, int]
) -> None:
    store_articles(database, [article(sources["zeta"], n) for n in range(3)], NOW)
    rows = export_rows(database)
    assert next(rows).title == "T0"
    rows.close()
    store_articles(database, [article(sources["zeta"], 9)], NOW)
    assert [row.title for row in export_rows(database)] == ["T0", "T1", "T2", "T9"]
