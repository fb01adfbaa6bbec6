"""Tests for items prepared in the worker pool (crawler/preparation.py).

A feed entry's item is normalised, matched, hashed and fingerprinted by `read_feed` in
a worker; the pipelines then skip those steps. Whichever way an item goes, it must come
out the same.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler import options
from crawler.items import ArticleItem
from crawler.options import FeedOptions
from crawler.pipelines import DedupePipeline, NormalisePipeline, StorePipeline, TopicsPipeline
from crawler.preparation import MAX_TITLE_CHARS, Plan, prepare, read_feed, record
from crawler.signals import entries_rejected
from storage.articles import fingerprints
from storage.db import Database
from storage.records import SeenEntry, SourceSpec, SourceState
from storage.sightings import known_entry_keys
from storage.sources import due_sources, sync_sources
from tests.test_pipelines import DPRK, ON_TOPIC, SPORT, item

LONG_TEXT = " ".join(f"word{n} North Korea Russia troops" for n in range(40))
FEEDS = {"world": FeedOptions(topics=("dprk",)), "keeper": FeedOptions(keep_unmatched=True)}


def samples() -> list[ArticleItem]:
    """Items that exercise every step: URLs, text, titles, dates, topics, fingerprints."""
    return [
        item(url="https://News.Example/a?utm_source=x&b=2&a=1#top", text=LONG_TEXT),
        item("Football: a late goal", source="wire", key="guid:2", language="EN-GB"),
        item("Nothing to see", key="guid:3", source="keeper"),
        item("Off topic  \u0000 weather\r\n\r\n\r\nreport", key="guid:4"),
        item("x " * MAX_TITLE_CHARS, key="guid:5"),
        ArticleItem(
            source_id=1,
            source_name="world",
            entry_key="guid:6",
            url="https://news.example/future",
            title=ON_TOPIC,
            summary="<p>North Korea</p> and Russia",
            published_at=datetime.now(UTC) + timedelta(days=30),
        ),
    ]


def through_pipelines(one: ArticleItem) -> ArticleItem:
    one = NormalisePipeline().process_item(one)
    one = TopicsPipeline([DPRK, SPORT], FEEDS).process_item(one)
    return DedupePipeline().process_item(one)


@pytest.mark.parametrize("index", range(len(samples())))
def test_a_prepared_item_is_what_the_pipelines_make(index: int) -> None:
    piped = through_pipelines(samples()[index])
    prepared = samples()[index]
    opts = FEEDS.get(prepared.source_name, options.DEFAULT_FEED_OPTIONS)
    prepare(prepared, Plan((DPRK, SPORT), opts, topics_configured=True))

    assert prepared.prepared and not piped.prepared
    kept = bool(piped.matches) or opts.keep_unmatched
    if kept:
        assert record(prepared) == record(piped)
        assert prepared.fingerprint == fingerprints([record(piped)])[0]
    else:
        # What the store keeps of an entry not kept: its key and URL. Its canonical URL,
        # content hash and fingerprint, of use to stored articles only, are not made.
        assert (prepared.entry_key, prepared.url, prepared.matches) == (
            piped.entry_key,
            piped.url,
            piped.matches,
        )
        assert (prepared.canonical_url, prepared.content_hash) == ("", "")
        assert prepared.fingerprint is None


def test_the_samples_are_worth_comparing() -> None:
    """Each sample changes under preparation, and some match while others do not."""
    piped = [through_pipelines(one) for one in samples()]
    assert piped[0].canonical_url == "https://news.example/a?a=1&b=2"
    assert piped[0].matches and piped[1].matches and not piped[3].matches
    assert len(piped[4].title) <= MAX_TITLE_CHARS
    assert piped[5].published_at is None
    assert fingerprints([record(piped[0])])[0] is not None


def test_the_pipelines_leave_a_prepared_item_alone() -> None:
    one = item(url="https://News.Example/a?utm_source=x")
    one.prepared = True
    one.content_hash = "kept as it was"

    out = through_pipelines(one)

    assert out.canonical_url == "" and not out.matches and out.content_hash == "kept as it was"


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World</title><link>https://news.example/</link>
<item><guid>g1</guid><title>North Korea and Russia</title><link>https://news.example/1</link>
<description>North Korea sends troops to Russia</description></item>
<item><guid>g2</guid><title>Weather</title><link>https://news.example/2</link>
<description>Rain</description></item>
<item><guid>g3</guid><title>Football</title><link>https://news.example/3</link>
<description>A goal</description></item>
</channel></rss>"""
SOURCE = SourceState(1, "world", "feed", "https://news.example/rss", None, None, 1800, 0)
HEADERS = {"content-type": "application/rss+xml"}


def test_read_feed_prepares_the_new_entries_up_to_the_limit() -> None:
    plan = Plan((DPRK,), topics_configured=True)

    read = read_feed(RSS, HEADERS, SOURCE.url, frozenset(), SOURCE, plan, 2)

    assert [e.key for e in read.parsed.entries] == ["guid:g1", "guid:g2", "guid:g3"]
    # g1 is kept, g2 matches no topic, and the limit stops before g3.
    assert list(read.items) == ["guid:g1"] and read.items["guid:g1"].prepared
    assert read.items["guid:g1"].canonical_url == "https://news.example/1"
    assert read.rejected == {"guid:g2": "https://news.example/2"}
    # A kept entry's text travels in its item only, a rejected one's not at all; the
    # entry past the limit keeps its text for the pipelines.
    assert [e.title for e in read.parsed.entries] == ["", "", "Football"]

    later = read_feed(RSS, HEADERS, SOURCE.url, frozenset({"guid:g1"}), SOURCE, plan, 1)
    assert later.items == {} and list(later.rejected) == ["guid:g2"]
    assert [e.title for e in later.parsed.entries] == ["", "", "Football"]  # g1: not read


def test_read_feed_prepares_nothing_without_a_plan() -> None:
    read = read_feed(RSS, HEADERS, SOURCE.url, frozenset(), SOURCE, None, 10)

    assert len(read.parsed.entries) == 3 and read.items == {}


def test_the_store_records_entries_the_spider_rejected(database: Database) -> None:
    """The spider sends prepared off-topic entries by signal: remembered, not stored."""
    now = datetime.now(UTC)
    sync_sources(database, [SourceSpec("world", "feed", SOURCE.url)], 1800, now)
    source = due_sources(database, now)[0]
    crawler = get_crawler(
        settings_dict={options.DATABASE: database, options.TOPICS: (DPRK,), "LOG_LEVEL": "INFO"}
    )
    assert crawler.stats is not None
    crawler.stats.open_spider()
    store = StorePipeline.from_crawler(crawler)
    plan = Plan((DPRK,), topics_configured=True)
    read = read_feed(RSS, HEADERS, source.url, frozenset(), source, plan, 10)
    entries = [SeenEntry(source.id, key, url) for key, url in read.rejected.items()]

    async def run() -> None:
        await crawler.signals.send_catch_log_async(entries_rejected, entries=entries)
        with pytest.raises(DropItem):  # an unprepared off-topic item takes the other way
            await store.process_item(item("Nothing", key="guid:other", source_id=source.id))
        await store.close_spider()

    asyncio.run(run())

    keys = {"guid:g2", "guid:g3", "guid:other"}
    assert known_entry_keys(database, source.id, list(keys)) == keys
    assert crawler.stats.get_value("newswatch/entries_off_topic") == 3
    assert not crawler.stats.get_value("newswatch/articles_new")
