"""Rungs 4 and 5 of the dedupe ladder: near duplicates and updates, on realistic text."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler.fingerprints import content_hash
from crawler.urls import canonical_url
from storage import minhash
from storage.articles import store_articles
from storage.db import Database
from storage.export_rows import export_rows
from storage.fingerprints import fingerprint
from storage.models import Article, ArticleBand, Sighting
from storage.near_duplicates import rebuild
from storage.records import ArticleRecord, DedupeSettings, SourceSpec, StoreStats
from storage.sources import due_sources, sync_sources
from tests.test_storage_articles import run_together

DATA = Path(__file__).parent / "data" / "dedupe"
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
WIRE = (DATA / "wire_story.txt").read_text(encoding="utf-8")
PARAGRAPHS = [p for p in WIRE.split("\n\n") if p.strip()]
# The client's two seed articles: the same event, two outlets, their own wording.
SEED_MAGAZINE = (DATA / "seed_magazine.txt").read_text(encoding="utf-8")
SEED_BLOG = (DATA / "seed_blog.txt").read_text(encoding="utf-8")

HEADER_A = "By Reuters staff\nPublished 22 October 2024, 06:14 GMT\nListen to this article"
FOOTER_A = (
    "Sign up for our World News newsletter and get the day's biggest stories in your inbox "
    "every morning. Reporting by Hyonhee Shin; editing by Ed Davies.\nShare this article"
)
HEADER_B = "World | Asia-Pacific\n3 min read"
FOOTER_B = (
    "Read more: Ukraine war latest. Related: Kim Jong Un inspects missile launch. "
    "Copyright 2024 The Daily Courier. All rights reserved. Comments (12)"
)


@pytest.fixture
def sources(database: Database) -> dict[str, int]:
    specs = [SourceSpec(name, "feed", f"http://{name}.test/feed.xml") for name in "abc"]
    sync_sources(database, specs, 900, NOW)
    return {state.name: state.id for state in due_sources(database, NOW)}


def record(
    source_id: int, key: str, url: str, text: str, title: str = "Troops", **fields: Any
) -> ArticleRecord:
    return ArticleRecord(
        source_id=source_id,
        entry_key=key,
        url=url,
        canonical_url=url,
        content_hash=content_hash(title, text),
        title=title,
        text=text,
        **fields,
    )


def articles(db: Database) -> list[tuple[int, int | None, int]]:
    """Return (id, duplicate_of, revision) of every stored article."""
    with db.session() as session:
        rows = session.execute(
            select(Article.id, Article.duplicate_of, Article.revision).order_by(Article.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def store_pair(db: Database, sources: dict[str, int], first: str, second: str) -> StoreStats:
    store_articles(db, [record(sources["a"], "1", "http://a.test/story", first)], NOW)
    later = record(sources["b"], "2", "http://b.test/story", second, title="Other headline")
    return store_articles(db, [later], NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(f"{HEADER_B}\n{WIRE}\n{FOOTER_B}", id="other-boilerplate"),
        pytest.param("\n\n".join(PARAGRAPHS[:6] + PARAGRAPHS[7:]), id="paragraph-removed"),
        pytest.param(
            "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[2], PARAGRAPHS[1], *PARAGRAPHS[3:]]),
            id="paragraphs-reordered",
        ),
        pytest.param(WIRE.replace("Tuesday", "Wednesday").upper(), id="case-and-a-word"),
    ],
)
def test_near_duplicate_is_linked_to_the_first_article(
    database: Database, sources: dict[str, int], variant: str
) -> None:
    first = f"{HEADER_A}\n{WIRE}\n{FOOTER_A}"
    assert store_pair(database, sources, first, variant) == StoreStats(near_duplicates=1)
    assert articles(database) == [(1, None, 1), (2, 1, 1)]
    # The duplicate keeps its own sighting; exports leave it out and list its source.
    (row,) = export_rows(database)
    assert (row.id, row.source, row.sources) == (1, "a", ("a", "b"))
    rows = list(export_rows(database, include_duplicates=True))
    assert [(r.id, r.duplicate_of, r.sources) for r in rows] == [
        (1, None, ("a", "b")),
        (2, 1, ("b",)),
    ]


def test_a_tracking_url_is_the_same_article(database: Database, sources: dict[str, int]) -> None:
    link = "https://a.test/world/story"
    tracked = f"{link}?utm_source=rss&utm_medium=feed&fbclid=IwAR0x"
    store_articles(database, [record(sources["a"], "1", canonical_url(link), WIRE)], NOW)
    again = dataclasses.replace(
        record(sources["b"], "2", canonical_url(tracked), WIRE),
        url=tracked,
    )
    assert store_articles(database, [again], NOW) == StoreStats(duplicates=1)
    (row,) = export_rows(database)
    assert (row.url, row.sources) == (link, ("a", "b"))


def test_two_stories_on_the_same_event_are_not_duplicates(
    database: Database, sources: dict[str, int]
) -> None:
    assert store_pair(database, sources, SEED_MAGAZINE, SEED_BLOG) == StoreStats(new=1)
    assert store_articles(
        database, [record(sources["c"], "3", "http://c.test/wire", WIRE)], NOW
    ) == StoreStats(new=1)
    assert articles(database) == [(1, None, 1), (2, None, 1), (3, None, 1)]


def test_short_texts_are_never_near_duplicates(database: Database, sources: dict[str, int]) -> None:
    summary = "North Korea has sent about 1,500 special forces troops to Russia, Seoul says."
    again = "North Korea has sent about 1,500 special forces troops to Russia, Seoul said."
    assert store_pair(database, sources, summary, again) == StoreStats(new=1)


def test_near_duplicates_within_one_batch_and_third_copy(
    database: Database, sources: dict[str, int]
) -> None:
    a, b, c = sources["a"], sources["b"], sources["c"]
    batch = [
        record(a, "1", "http://a.test/1", f"{HEADER_A}\n{WIRE}\n{FOOTER_A}"),
        record(b, "1", "http://b.test/1", f"{HEADER_B}\n{WIRE}\n{FOOTER_B}"),
        record(c, "1", "http://c.test/1", SEED_BLOG),
    ]
    assert store_articles(database, batch, NOW) == StoreStats(new=2, near_duplicates=1)
    third = record(c, "2", "http://c.test/2", "\n\n".join(PARAGRAPHS[1:]))
    assert store_articles(database, [third], NOW) == StoreStats(near_duplicates=1)
    links = {article_id: original for article_id, original, _ in articles(database)}
    originals = {original for original in links.values() if original is not None}
    assert len(originals) == 1 and links[originals.pop()] is None
    with database.session() as session:
        indexed = set(session.scalars(select(ArticleBand.article_id)))
        stored = {
            text: signature
            for text, signature in session.execute(select(Article.text, Article.signature))
        }
    assert indexed == {i for i, original in links.items() if original is None}
    # Every article keeps its signature, near duplicates too: the screen of later
    # candidates and `dedupe rebuild` of pruned articles read it.
    for text, signature in stored.items():
        found = fingerprint(text, DedupeSettings())
        assert found is not None and signature == minhash.pack(found.signature)


def test_a_corrected_article_is_an_update(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    store_articles(database, [record(a, "1", "http://a.test/1", WIRE)], NOW)
    corrected = WIRE.replace("about 1,500", "about 1,800") + (
        "\n\nThis story has been corrected to say 1,800 troops, not 1,500, in paragraph 1."
    )
    later = NOW + timedelta(hours=2)
    assert store_articles(
        database, [record(a, "1", "http://a.test/1", corrected)], later
    ) == StoreStats(updated=1)
    assert articles(database) == [(1, None, 2)]
    # The same canonical URL from another source with new text is an update too.
    again = corrected + "\n\nUpdated with the Kremlin's comment."
    assert store_articles(
        database, [record(b, "9", "http://a.test/1", again)], later
    ) == StoreStats(updated=1)
    assert articles(database) == [(1, None, 3)]
    with database.session() as session:
        stored = session.execute(select(Article.text, Article.updated_at)).one()
        sightings = session.scalar(select(func.count(Sighting.id)))
    assert tuple(stored) == (again, later)
    assert sightings == 2
    # A re-poll with the stored text is only known.
    assert store_articles(
        database, [record(b, "9", "http://a.test/1", again)], later
    ) == StoreStats(known=1)
    # Exports: the revision shows when asked for updates since it happened.
    assert [r.id for r in export_rows(database, since=later)] == []
    assert [r.id for r in export_rows(database, since=later, include_updates=True)] == [1]


def test_an_update_to_another_articles_text_does_not_break_the_batch(
    database: Database, sources: dict[str, int]
) -> None:
    a = sources["a"]
    store_articles(
        database,
        [record(a, "1", "http://a.test/1", WIRE), record(a, "2", "http://a.test/2", SEED_BLOG)],
        NOW,
    )
    batch = [
        record(a, "1", "http://a.test/1", SEED_BLOG),  # now the text of article 2
        record(a, "3", "http://a.test/3", SEED_MAGAZINE),
    ]
    assert store_articles(database, batch, NOW) == StoreStats(new=1, known=1)
    assert articles(database) == [(1, None, 1), (2, None, 1), (3, None, 1)]


def test_racing_writers_link_near_duplicates(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    first = [record(a, "1", "http://a.test/1", f"{HEADER_A}\n{WIRE}\n{FOOTER_A}")]
    second = [record(b, "1", "http://b.test/1", f"{HEADER_B}\n{WIRE}\n{FOOTER_B}")]
    results = run_together(
        lambda: store_articles(database, first, NOW),
        lambda: store_articles(database, second, NOW),
    )
    total = StoreStats()
    for result in results:
        total.add(result)
    assert total == StoreStats(new=1, near_duplicates=1)
    assert sorted(original is None for _, original, _ in articles(database)) == [False, True]


def test_rebuild_follows_a_new_threshold(database: Database, sources: dict[str, int]) -> None:
    a, b = sources["a"], sources["b"]
    removed = "\n\n".join(PARAGRAPHS[:6] + PARAGRAPHS[7:])
    store_articles(database, [record(a, "1", "http://a.test/1", WIRE)], NOW)
    store_articles(database, [record(b, "1", "http://b.test/1", removed)], NOW)
    store_articles(database, [record(b, "2", "http://b.test/2", SEED_BLOG)], NOW)
    assert articles(database) == [(1, None, 1), (2, 1, 1), (3, None, 1)]
    seen: list[tuple[int, int]] = []
    strict = DedupeSettings(threshold=0.99)
    assert rebuild(database, strict, lambda done, total: seen.append((done, total))) == (3, 0)
    assert seen == [(3, 3)]
    assert articles(database) == [(1, None, 1), (2, None, 1), (3, None, 1)]
    assert rebuild(database, DedupeSettings()) == (3, 1)
    assert articles(database) == [(1, None, 1), (2, 1, 1), (3, None, 1)]


def test_another_sources_shorter_copy_does_not_replace_the_text(
    database: Database, sources: dict[str, int]
) -> None:
    a, b = sources["a"], sources["b"]
    store_articles(database, [record(a, "1", "http://a.test/1", WIRE)], NOW)
    # A second feed links the same page but only gives its first paragraph.
    summary = record(b, "7", "http://a.test/1", PARAGRAPHS[0])
    assert store_articles(database, [summary], NOW) == StoreStats(duplicates=1)
    with database.session() as session:
        text, revision = session.execute(select(Article.text, Article.revision)).one()
        carried = session.scalar(select(func.count(Sighting.id)))
    assert (text, revision, carried) == (WIRE, 1, 2)


def _boilerplate_story(number: int, words: int = 45) -> str:
    """A story of its own words, ending in the paragraph every item of its feed carries."""
    rng = random.Random(number)
    own = " ".join(rng.choice(VOCABULARY) for _ in range(words))
    return f"{own}.\n{BOILERPLATE}"


VOCABULARY = sorted(set(WIRE.casefold().split()))
BOILERPLATE = (
    "This article was brought to you by the Daily Courier newsroom. Subscribe to our "
    "newsletter for the biggest stories of the day, follow us on social media, and send "
    "your tips to the news desk at any hour of the day or night. All rights reserved."
)


def test_a_copy_is_found_behind_a_crowd_of_shared_boilerplate(
    database: Database, sources: dict[str, int]
) -> None:
    a, b = sources["a"], sources["b"]
    original = _boilerplate_story(0)
    store_articles(database, [record(a, "0", "http://a.test/0", original)], NOW)
    # Many later stories share the boilerplate's buckets, and none is a near duplicate.
    crowd = [record(a, str(n), f"http://a.test/{n}", _boilerplate_story(n)) for n in range(1, 80)]
    assert store_articles(database, crowd, NOW) == StoreStats(new=79)
    copy = original.replace("Daily Courier", "Evening Courier", 1)
    stats = store_articles(database, [record(b, "0", "http://b.test/0", copy)], NOW)
    assert stats == StoreStats(near_duplicates=1)
    assert articles(database)[-1] == (81, 1, 1)
