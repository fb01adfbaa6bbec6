"""Tests for the item pipelines (crawler/pipelines.py), driven directly, item by item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.fingerprints import content_hash
from crawler.items import ArticleItem
from crawler.options import FeedOptions, TopicRule
from crawler.pipelines import (
    DedupePipeline,
    NormalisePipeline,
    StorePipeline,
    TopicsPipeline,
)
from crawler.preparation import MAX_TITLE_CHARS
from crawler.topics import parse_query
from crawler.workers import WorkerPool
from storage.db import Database
from storage.export_rows import export_rows
from storage.records import SourceSpec, TopicSpec
from storage.sightings import known_entry_keys
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

DPRK = TopicRule("dprk", parse_query('("North Korea" OR DPRK) AND (Russia OR Ukraine)'))
SPORT = TopicRule("sport", parse_query("football OR goal*"))
ON_TOPIC = "North Korea sends troops to Russia"
OFF_TOPIC = "Millbrook Rovers snatch a late winner"


def item(
    title: str = ON_TOPIC,
    *,
    source: str = "world",
    source_id: int = 1,
    key: str = "guid:1",
    url: str = "https://news.example/a",
    language: str | None = "en",
    text: str = "",
) -> ArticleItem:
    return ArticleItem(
        source_id=source_id,
        source_name=source,
        entry_key=key,
        url=url,
        title=title,
        text=text,
        language=language,
    )


# --- normalise -----------------------------------------------------------------------------


def test_normalise_gives_the_canonical_url_of_the_link() -> None:
    normal = NormalisePipeline().process_item(
        item(url="HTTPS://News.EXAMPLE:443/a?utm_source=rss&id=2#top")
    )
    assert normal.canonical_url == "https://news.example/a?id=2"
    assert normal.url == "HTTPS://News.EXAMPLE:443/a?utm_source=rss&id=2#top"


def test_normalise_prefers_the_page_canonical_url() -> None:
    extracted = item(url="http://127.0.0.1:8000/articles/1")
    extracted.canonical_url = "https://www.paper.example/story/?utm_medium=feed"
    assert NormalisePipeline().process_item(extracted).canonical_url == (
        "https://www.paper.example/story/"
    )


def test_normalise_tidies_text_and_language() -> None:
    messy = item(title="  North\u00a0Korea \x00", language="EN", text="a  \n\n\n\nb ")
    messy.summary = " s "
    normal = NormalisePipeline().process_item(messy)
    assert (normal.title, normal.summary, normal.text) == ("North Korea", "s", "a\n\nb")
    assert normal.language == "en"


def test_normalise_cuts_a_huge_title_at_a_word_and_counts_it() -> None:
    stats = get_crawler().stats
    assert stats is not None
    huge = item(title="Pyongyang " * 100_000)  # 1 MB
    normal = NormalisePipeline(stats).process_item(huge)
    assert len(normal.title) <= MAX_TITLE_CHARS
    assert normal.title.endswith("Pyongyang…")
    assert stats.get_value("newswatch/titles_truncated") == 1
    short = NormalisePipeline(stats).process_item(item(title="A headline"))
    assert short.title == "A headline"


def test_normalise_drops_impossible_future_dates_only() -> None:
    now = datetime.now(UTC)
    far, near = item(key="a"), item(key="b")
    far.published_at = now + timedelta(days=30)
    near.published_at = now + timedelta(hours=3)  # a clock a little ahead is fine
    assert NormalisePipeline().process_item(far).published_at is None
    assert NormalisePipeline().process_item(near).published_at == near.published_at


# --- topics --------------------------------------------------------------------------------


def topics(
    rules: Sequence[TopicRule], feeds: Mapping[str, FeedOptions] | None = None
) -> TopicsPipeline:
    return TopicsPipeline(rules, feeds or {})


def test_matching_topics_are_recorded_with_their_terms() -> None:
    matched = topics([DPRK, SPORT]).process_item(item())
    assert matched.matches == {"dprk": ('"North Korea"', "Russia")}


def test_title_summary_and_text_all_count() -> None:
    article = item(title="Troops in Kursk", text="Officials in Kyiv said DPRK units fought.")
    article.summary = "Russia denies it."
    assert topics([DPRK]).process_item(article).matches == {"dprk": ("DPRK", "Russia")}


def test_an_article_matching_nothing_has_no_matches() -> None:
    assert topics([DPRK]).process_item(item(OFF_TOPIC)).matches == {}


def test_feed_topics_limit_which_topics_apply() -> None:
    both = "North Korea and Russia: football diplomacy"
    feeds = {"sport-desk": FeedOptions(topics=("sport",))}
    pipeline = topics([DPRK, SPORT], feeds)
    assert pipeline.process_item(item(both, source="sport-desk")).matches.keys() == {"sport"}
    # Other feeds still get every topic.
    assert pipeline.process_item(item(both, source="world")).matches.keys() == {"dprk", "sport"}


def test_topic_sources_limit_where_a_topic_applies() -> None:
    only_wire = TopicRule(DPRK.name, DPRK.query, sources=("wire",))
    pipeline = topics([only_wire])
    assert pipeline.process_item(item(source="world")).matches == {}
    assert pipeline.process_item(item(source="wire")).matches.keys() == {"dprk"}


def test_topic_languages_limit_which_articles_it_sees() -> None:
    german_only = TopicRule(DPRK.name, DPRK.query, languages=("de",))
    pipeline = topics([german_only])
    assert pipeline.process_item(item(language="en")).matches == {}
    assert pipeline.process_item(item(language="de")).matches.keys() == {"dprk"}
    # An article whose language nobody gave is not excluded.
    assert pipeline.process_item(item(language=None)).matches.keys() == {"dprk"}


def test_regional_topic_language_matches_the_language_feeds_report() -> None:
    # Feeds and pages report "pt"; the config accepts "pt-br".
    brazil = TopicRule("coreia", parse_query("Coreia AND Rússia"), languages=("pt-br",))
    pipeline = topics([brazil])
    noticia = "Coreia do Norte envia tropas à Rússia"
    assert pipeline.process_item(item(noticia, language="pt")).matches.keys() == {"coreia"}
    assert pipeline.process_item(item(noticia, language="es")).matches == {}


def test_no_topics_means_no_matches() -> None:
    assert topics([]).process_item(item()).matches == {}


# --- dedupe --------------------------------------------------------------------------------


def test_dedupe_hashes_the_content() -> None:
    hashed = DedupePipeline().process_item(item(text="Body text"))
    assert hashed.content_hash == content_hash(ON_TOPIC, "Body text")


def test_dedupe_hashes_the_summary_when_there_is_no_text() -> None:
    summary_only = item()
    summary_only.summary = "Only a summary"
    hashed = DedupePipeline().process_item(summary_only)
    assert hashed.content_hash == content_hash(ON_TOPIC, "Only a summary")


def test_dedupe_drops_an_entry_repeated_within_a_crawl() -> None:
    pipeline = DedupePipeline()
    pipeline.process_item(item(key="guid:1"))
    with pytest.raises(DropItem):
        pipeline.process_item(item(key="guid:1", title="Edited title"))
    # The same key from another source, and another key, are not repeats.
    pipeline.process_item(item(key="guid:1", source="wire", source_id=2))
    pipeline.process_item(item(key="guid:2"))


# --- the whole chain, into storage ---------------------------------------------------------


def run_chain(
    database: Database,
    items: Sequence[ArticleItem],
    rules: Sequence[TopicRule],
    feeds: Mapping[str, FeedOptions],
) -> tuple[list[ArticleItem], dict[str, int]]:
    """Push items through normalise, topics, dedupe and store; return kept items and stats."""
    crawler = get_crawler()
    assert crawler.stats is not None
    stages: list[Callable[[ArticleItem], ArticleItem]] = [
        NormalisePipeline().process_item,
        TopicsPipeline(rules, feeds).process_item,
        DedupePipeline().process_item,
    ]
    store = StorePipeline(database, 100, bool(rules), feeds, crawler.stats, crawler.signals)
    kept: list[ArticleItem] = []

    async def chain() -> None:
        for one in items:
            try:
                for stage in stages:
                    one = stage(one)
                kept.append(await store.process_item(one))
            except DropItem:
                pass
        await store.close_spider()

    asyncio.run(chain())
    stats = {k.removeprefix("newswatch/"): int(v) for k, v in crawler.stats.get_stats().items()}
    return kept, stats


def test_items_arriving_together_are_all_written_before_the_close_returns(
    database: Database, source_ids: dict[str, int]
) -> None:
    # Scrapy hands the pipeline items of several responses at once. Every item must be
    # written, and counted, by the time close_spider returns: the spider then records
    # the feeds' checks, and validators saved before their articles could lose them.
    crawler = get_crawler()
    assert crawler.stats is not None
    pool = WorkerPool(4, processes=False)  # fingerprints in threads: writes overlap
    store = StorePipeline(database, 2, False, {}, crawler.stats, crawler.signals, pool=pool)
    items = [
        NormalisePipeline().process_item(
            item(
                f"Story {n} of the day",
                source_id=source_ids["world"],
                key=f"guid:{n}",
                url=f"https://news.example/{n}",
            )
        )
        for n in range(40)
    ]
    for one in items:
        DedupePipeline().process_item(one)

    async def together() -> int:
        await asyncio.gather(*(store.process_item(one) for one in items))
        await store.close_spider()
        return int(crawler.stats.get_value("newswatch/articles_new", 0))  # type: ignore[union-attr]

    try:
        assert asyncio.run(together()) == 40
    finally:
        pool.close()
    assert len(list(export_rows(database))) == 40


@pytest.fixture
def source_ids(database: Database) -> dict[str, int]:
    now = datetime.now(UTC)
    specs = [SourceSpec(name, "feed", f"https://{name}.example/rss") for name in ("world", "wire")]
    sync_sources(database, specs, 1800, now)
    sync_topics(database, [TopicSpec("dprk", DPRK.query.source)], now)
    return {s.name: s.id for s in due_sources(database, now, ("feed",), ["world", "wire"])}


def test_off_topic_entries_are_not_stored_but_remembered(
    database: Database, source_ids: dict[str, int]
) -> None:
    world = source_ids["world"]
    items = [
        item(ON_TOPIC, source_id=world, key="guid:on", url="https://news.example/on"),
        item(OFF_TOPIC, source_id=world, key="guid:off", url="https://news.example/off"),
    ]
    kept, stats = run_chain(database, items, [DPRK], {})
    assert [k.entry_key for k in kept] == ["guid:on"]
    assert stats["articles_new"] == 1
    assert stats["entries_off_topic"] == 1
    rows = list(export_rows(database))
    assert [r.title for r in rows] == [ON_TOPIC]
    assert rows[0].matches == {"dprk": ('"North Korea"', "Russia")}
    # Both entries are known now: the next poll skips them before fetching anything.
    assert known_entry_keys(database, world, ["guid:on", "guid:off"]) == {"guid:on", "guid:off"}


def test_keep_unmatched_stores_off_topic_entries_of_that_feed(
    database: Database, source_ids: dict[str, int]
) -> None:
    items = [
        item(OFF_TOPIC, source="world", source_id=source_ids["world"], key="k1"),
        item(OFF_TOPIC + " again", source="wire", source_id=source_ids["wire"], key="k2"),
    ]
    items[1].url = "https://wire.example/b"
    feeds = {"world": FeedOptions(keep_unmatched=True)}
    _, stats = run_chain(database, items, [DPRK], feeds)
    assert stats["articles_new"] == 1
    assert stats["entries_off_topic"] == 1
    (row,) = export_rows(database)
    assert row.source == "world"
    assert row.topics == ()


def test_without_topics_every_entry_is_stored(
    database: Database, source_ids: dict[str, int]
) -> None:
    world = source_ids["world"]
    items = [
        item(OFF_TOPIC, source_id=world, key="k1", url="https://news.example/1"),
        item("Weather", source_id=world, key="k2", url="https://news.example/2"),
    ]
    _, stats = run_chain(database, items, [], {})
    assert stats["articles_new"] == 2
    assert "entries_off_topic" not in stats


def test_one_story_from_two_feeds_is_one_article_with_two_sources(
    database: Database, source_ids: dict[str, int]
) -> None:
    story = "https://www.paper.example/story"
    items = [
        item(source="world", source_id=source_ids["world"], key="w1", url=story),
        item(source="wire", source_id=source_ids["wire"], key="x9", url=story + "?utm_source=wire"),
    ]
    _, stats = run_chain(database, items, [DPRK], {})
    assert (stats["articles_new"], stats["articles_duplicate"]) == (1, 1)
    (row,) = export_rows(database)
    assert row.canonical_url == story
    assert row.sources == ("wire", "world")


def test_a_repoll_stores_nothing_twice(database: Database, source_ids: dict[str, int]) -> None:
    world = source_ids["world"]
    run_chain(database, [item(source_id=world)], [DPRK], {})
    _, stats = run_chain(database, [item(source_id=world)], [DPRK], {})
    assert stats.get("articles_new", 0) == 0
    assert stats["articles_known"] == 1
    assert len(list(export_rows(database))) == 1
