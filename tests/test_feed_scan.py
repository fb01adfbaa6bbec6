"""Tests for known entries left unparsed (crawler/feed_scan.py, parse_feed's `known`).

A feed polled again mostly repeats entries already stored; those are cut down to their
ids and dates before feedparser runs. What a user would notice if this went wrong: a
new entry missing or stored without its text, or the feed's rhythm (and so its next
check) changing. Each test compares with a plain parse of the same body.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from crawler.feed_scan import entry_ids, strip_known
from crawler.feeds import ParsedFeed, parse_feed
from tests.feedserver import Entry, load_feed, render_atom, render_rss

URL = "https://feeds.example/news/feed.xml"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}
ATOM = {"content-type": "application/atom+xml; charset=utf-8"}
START = datetime(2026, 11, 1, tzinfo=UTC)


def entries(newest: int, count: int = 10) -> list[Entry]:
    return [
        Entry(
            guid=f"https://feeds.example/story/{n}",
            title=f"Story {n} about the harbour",
            link=f"https://feeds.example/story/{n}",
            summary=f"<p>Paragraph <b>{n}</b> of the harbour story, with an "
            f'<a href="https://feeds.example/story/{n}">link</a>.</p>',
            published=START + timedelta(hours=n),
            author=f"Reporter {n}",
        )
        for n in range(newest, newest - count, -1)
    ]


def known_keys(feed: ParsedFeed) -> frozenset[str]:
    return frozenset(entry.key for entry in feed.entries)


@pytest.mark.parametrize(
    ("render", "headers"),
    [
        (lambda e: render_rss(e, "News", "https://feeds.example/"), RSS),
        (lambda e: render_atom(e, "News", "https://feeds.example/"), ATOM),
    ],
    ids=["rss", "atom"],
)
def test_new_entries_come_whole_and_known_ones_keep_keys_and_dates(
    render: Callable[[list[Entry]], bytes], headers: dict[str, str]
) -> None:
    before = parse_feed(render(entries(9)), headers, URL)
    body = render(entries(11))  # two new entries on top, two old ones gone
    plain = parse_feed(body, headers, URL)

    cut = parse_feed(body, headers, URL, known_keys(before))

    assert [e.key for e in cut.entries] == [e.key for e in plain.entries]
    assert [e.published_at for e in cut.entries] == [e.published_at for e in plain.entries]
    assert cut.entries[:2] == plain.entries[:2]  # the new ones, text, authors and all
    assert all(not e.summary for e in cut.entries[2:])  # the known ones were not parsed
    assert (cut.title, cut.language, cut.ttl_s) == (plain.title, plain.language, plain.ttl_s)


def test_ids_are_the_keys_parse_feed_gives() -> None:
    body = render_rss(entries(9), "News", "https://feeds.example/")
    assert entry_ids(body, RSS) == tuple(e.key for e in parse_feed(body, RSS, URL).entries)


def test_entries_keyed_by_link_or_hash_are_parsed_whole() -> None:
    # entry_keys.xml has a guid entry, a link-only one and one with neither.
    body = load_feed("entry_keys.xml")
    plain = parse_feed(body, RSS, URL)
    cut = parse_feed(body, RSS, URL, known_keys(plain))
    by_key = {e.key: e for e in cut.entries}
    for entry in plain.entries:
        if not entry.key.startswith("guid:"):
            assert by_key[entry.key] == entry
    assert [e.key for e in cut.entries] == [e.key for e in plain.entries]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (load_feed("latin1.xml"), {"content-type": "application/rss+xml"}),
        (load_feed("truncated.xml"), RSS),
        (load_feed("xxe.xml"), RSS),
        (
            render_rss(entries(9), "News", "https://feeds.example/"),
            {"content-type": "text/xml; charset=iso-8859-1"},
        ),
    ],
    ids=["latin1", "truncated", "doctype", "header-charset"],
)
def test_anything_but_plain_utf8_rss_or_atom_is_left_as_it_is(
    body: bytes, headers: dict[str, str]
) -> None:
    assert strip_known(body, headers, frozenset({"guid:anything"})) is None


def test_a_feed_with_nothing_known_is_parsed_as_ever() -> None:
    body = render_rss(entries(9), "News", "https://feeds.example/")
    assert strip_known(body, RSS, frozenset({"guid:elsewhere"})) is None
    assert parse_feed(body, RSS, URL, frozenset({"guid:elsewhere"})) == parse_feed(body, RSS, URL)


def test_a_known_entry_without_link_or_permalink_keeps_its_title() -> None:
    # A guid that is no permalink gives feedparser no link: without a title too, the
    # entry would count as empty and vanish from the feed's rhythm.
    body = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Kept</title><guid isPermaLink="false">id-1</guid>
<pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate><description>Long text</description></item>
<item><title>New</title><guid isPermaLink="false">id-2</guid><description>Fresh</description></item>
</channel></rss>"""
    plain = parse_feed(body, RSS, URL)
    cut = parse_feed(body, RSS, URL, frozenset({"guid:id-1"}))
    assert [e.key for e in cut.entries] == ["guid:id-1", "guid:id-2"]
    assert cut.entries[0].published_at == plain.entries[0].published_at
    assert cut.entries[1] == plain.entries[1]


@pytest.mark.parametrize("permalink", ['isPermaLink="True"', 'ISPERMALINK="false"'])
def test_a_guid_feedparser_may_not_take_for_a_link_keeps_the_link(permalink: str) -> None:
    # An entry that is left neither link nor title counts as empty, and is lost.
    body = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Kept</title><link>https://feeds.example/1</link><guid {permalink}>id-1</guid>
<pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate><description>Long text</description>
<itunes:summary xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">x</itunes:summary>
</item></channel></rss>""".encode()
    plain = parse_feed(body, RSS, URL)
    cut = parse_feed(body, RSS, URL, frozenset({"guid:id-1"}))
    assert [(e.key, e.published_at) for e in cut.entries] == [
        (e.key, e.published_at) for e in plain.entries
    ]
