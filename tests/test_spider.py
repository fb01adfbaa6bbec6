"""FeedSpider's choices that need no network: which text an item keeps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from crawler.extraction import ExtractedPage
from crawler.feeds import FeedEntry
from crawler.preparation import feed_item
from storage.records import SourceState

SOURCE = SourceState(1, "world", "feed", "https://world.example/rss", None, None, 1800, 0)
FEED_TEXT = "North Korean troops were seen near Kursk, Ukraine's intelligence service said. " * 5


def entry(content: str = FEED_TEXT) -> FeedEntry:
    return FeedEntry(
        key="guid:1",
        guid="1",
        link="https://world.example/a",
        title="Troops near Kursk",
        summary="",
        content=content,
        authors=(),
        published_at=datetime(2024, 10, 14, tzinfo=UTC),
    )


def page(text: str) -> ExtractedPage:
    return ExtractedPage(
        title="Troops near Kursk | World",
        text=text,
        authors=("Jane Doe",),
        published_at=None,
        language="en",
        canonical_url="https://world.example/a-canonical",
        image=None,
    )


def test_the_page_text_replaces_the_feed_summary() -> None:
    body = FEED_TEXT * 3
    item = feed_item(SOURCE, entry(content="A short summary."), "en", page(body))
    assert item.text == body and item.text_from == "page"
    assert item.canonical_url == "https://world.example/a-canonical"
    assert item.authors == ("Jane Doe",)


def test_a_page_that_yields_less_than_the_feed_keeps_the_feed_text() -> None:
    item = feed_item(SOURCE, entry(), "en", page("Home\nNews\nSport"))
    assert item.text == FEED_TEXT.strip() or item.text == FEED_TEXT
    assert item.text_from == "feed"
    # Metadata from the page is still used.
    assert item.canonical_url == "https://world.example/a-canonical"


def test_no_page_keeps_the_feed_content() -> None:
    item = feed_item(SOURCE, entry(), None, None)
    assert item.text == FEED_TEXT and item.text_from == "feed"
    assert item.title == "Troops near Kursk"


def test_the_date_is_kept_with_where_it_came_from() -> None:
    item = feed_item(SOURCE, entry(), "en", page(FEED_TEXT * 3))
    assert (item.published_at, item.published_from) == (datetime(2024, 10, 14, tzinfo=UTC), "feed")
    dated_page = dataclasses.replace(
        page(FEED_TEXT * 3),
        published_at=datetime(2024, 10, 13, 9, tzinfo=UTC),
        published_from="json-ld",
    )
    undated = dataclasses.replace(entry(), published_at=None)
    item = feed_item(SOURCE, undated, "en", dated_page)
    assert (item.published_at, item.published_from) == (
        datetime(2024, 10, 13, 9, tzinfo=UTC),
        "json-ld",
    )
