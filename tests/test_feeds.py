"""Tests for feed parsing (crawler/feeds.py): bytes and headers in, plain entries out.

Header names are given in lower case, as the spider passes them: feedparser ignores
`Content-Type` spelt any other way.
"""

from __future__ import annotations

import pickle
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.exceptions import FeedError
from crawler.feeds import FeedEntry, ParsedFeed, parse_feed
from tests import feedserver
from tests.feedserver import SAMPLE_ARTICLES, FeedServer, load_feed

feed_server = feedserver.feed_server

FEED_URL = "https://feeds.example/news/feed.xml"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}
ATOM = {"content-type": "application/atom+xml; charset=utf-8"}


def parse(body: bytes, headers: dict[str, str] | None = None, url: str = FEED_URL) -> ParsedFeed:
    return parse_feed(body, headers if headers is not None else RSS, url)


def all_text(entry: FeedEntry) -> str:
    return " ".join([entry.title, entry.summary, entry.content, *entry.authors])


# --- formats ---------------------------------------------------------------------------


def test_rss_feed_gives_its_entries_in_order_with_metadata() -> None:
    feed = parse(load_feed("samples.rss.xml"))
    assert feed.title == "Sample news"
    assert feed.language == "en"
    assert feed.ttl_s == 60 * 60
    assert feed.warning is None
    assert [e.title for e in feed.entries] == [a.title for a in SAMPLE_ARTICLES]
    first = feed.entries[0]
    sample = SAMPLE_ARTICLES[0]
    assert first.guid == sample.canonical_url
    assert first.link == sample.canonical_url
    assert first.key == "guid:" + sample.canonical_url
    assert first.summary == sample.summary
    assert first.authors == (sample.author,)
    assert first.published_at == sample.published


def test_atom_feed_gives_the_same_entries_as_its_rss_twin() -> None:
    rss = parse(load_feed("samples.rss.xml"))
    atom = parse(load_feed("samples.atom.xml"), ATOM)
    assert atom.title == "Sample news"
    assert atom.language == "en"
    assert atom.ttl_s is None
    assert atom.entries == rss.entries


def test_rdf_rss_1_0_feed() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/">
    <title>RDF news</title><link>https://rdf.example/</link><description>d</description>
    <dc:language>de-DE</dc:language>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example/a">
    <title>Pyongyang und Moskau</title>
    <link>https://rdf.example/a</link>
    <description>Truppen &lt;b&gt;in Kursk&lt;/b&gt;</description>
    <dc:date>2024-10-14T09:00:00+02:00</dc:date>
    <dc:creator>Anna Schmidt</dc:creator>
  </item>
</rdf:RDF>"""
    feed = parse(body, {"content-type": "application/rdf+xml"})
    assert feed.title == "RDF news"
    assert feed.language == "de"
    (entry,) = feed.entries
    assert entry.key == "guid:https://rdf.example/a"
    assert entry.title == "Pyongyang und Moskau"
    assert entry.summary == "Truppen in Kursk"
    assert entry.authors == ("Anna Schmidt",)
    assert entry.published_at == datetime(2024, 10, 14, 7, 0, tzinfo=UTC)


def test_a_valid_feed_without_entries_is_not_an_error() -> None:
    feed = parse(b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>")
    assert feed.title == "Quiet"
    assert feed.entries == ()


def test_parsed_feeds_cross_process_boundaries() -> None:
    # parse_feed runs in a worker process: its result must pickle.
    feed = parse(load_feed("entry_keys.xml"))
    assert pickle.loads(pickle.dumps(feed)) == feed


# --- entry keys --------------------------------------------------------------------------


def test_entry_key_is_guid_then_link_then_hash() -> None:
    feed = parse(load_feed("entry_keys.xml"))
    keys = [e.key for e in feed.entries]
    assert keys[0] == "guid:urn:uuid:6f1c9a52-3c6e-4d8e-9b1d-2f0a1e4c7b10"
    # The link as the feed gave it: one spelling per entry, so the key never shifts.
    assert keys[1] == "link:https://keys.example/articles/link-only?utm_source=rss&utm_medium=feed"
    assert re.fullmatch(r"hash:[0-9a-f]{64}", keys[2])
    assert keys[3] == "guid:https://keys.example/articles/undated"
    assert feed.entries[2].link is None
    assert feed.entries[3].published_at is None


def test_hash_key_is_stable_across_polls_and_changes_with_the_text() -> None:
    body = load_feed("entry_keys.xml")
    again = parse(body).entries[2].key
    assert parse(body).entries[2].key == again
    edited = body.replace(b"this summary.", b"this edited summary.")
    assert parse(edited).entries[2].key != again


# --- links ---------------------------------------------------------------------------------


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Root-relative</title><link>/world/a.html</link></item>
<item><title>Path-relative</title><link>b.html</link></item>
</channel></rss>"""
    links = [e.link for e in parse(body, url="https://feeds.example/news/feed.xml").entries]
    assert links == ["https://feeds.example/world/a.html", "https://feeds.example/news/b.html"]


def test_relative_links_resolve_through_xml_base() -> None:
    feed = parse(load_feed("relative_links.atom"), ATOM, url="https://elsewhere.example/f")
    assert [e.link for e in feed.entries] == [
        "https://relative.example/news/2024/10/first-story.html",
        "https://relative.example/world/second-story.html?utm_campaign=feed#top",
    ]


def test_only_web_links_are_kept() -> None:
    items = "".join(
        f"<item><title>t{n}</title><link>{link}</link></item>"
        for n, link in enumerate(
            [
                "javascript:alert(1)",
                " JavaScript:alert(document.cookie)",
                "data:text/html,x",
                "http://[::1",
                "HTTPS://ok.example/a",
                "ftp://files.example/a",
            ]
        )
    )
    body = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    entries = parse(body).entries
    assert [e.link for e in entries] == [None, None, None, None, "https://ok.example/a", None]
    # Identified by a hash of title and summary instead.
    assert entries[0].key.startswith("hash:")


# --- HTML in feeds ---------------------------------------------------------------------------


def test_html_in_summaries_and_content_becomes_safe_text() -> None:
    (entry,) = parse(load_feed("html_summary.xml")).entries
    assert entry.title == "Markup in the title"
    assert entry.summary == "Pyongyang sent troops to Russia."
    assert "North Korean units were seen near Kursk." in entry.content
    everything = all_text(entry)
    for leak in ("<", "script", "alert", "onerror", "onclick", "javascript:", "display:none"):
        assert leak not in everything, leak
    assert "tracker.example" not in everything


def test_summary_equal_to_content_is_not_kept_twice() -> None:
    body = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>t</title><item><title>x</title><link>https://x.example/1</link>
<description>&lt;p&gt;Same words&lt;/p&gt;</description>
<content:encoded><![CDATA[<p>Same words</p>]]></content:encoded></item></channel></rss>"""
    (entry,) = parse(body).entries
    assert entry.content == "Same words"
    assert entry.summary == ""


# --- dates and polling hints -------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "utc"),
    [
        ("Mon, 14 Oct 2024 07:30:00 +0200", datetime(2024, 10, 14, 5, 30, tzinfo=UTC)),
        ("Mon, 14 Oct 2024 23:30:00 -0500", datetime(2024, 10, 15, 4, 30, tzinfo=UTC)),
        ("Mon, 14 Oct 2024 12:00:00 GMT", datetime(2024, 10, 14, 12, 0, tzinfo=UTC)),
        ("2024-10-14T09:00:00+09:00", datetime(2024, 10, 14, 0, 0, tzinfo=UTC)),
    ],
)
def test_dates_become_utc(date: str, utc: datetime) -> None:
    body = f"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
<link>https://x.example/1</link><pubDate>{date}</pubDate></item></channel></rss>"""
    (entry,) = parse(body.encode()).entries
    assert entry.published_at == utc
    assert entry.published_at.tzinfo is UTC


def test_atom_entry_without_published_uses_updated() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title>x</title><id>urn:x</id><link href="https://x.example/1"/>
<updated>2024-10-14T09:00:00-03:00</updated></entry></feed>"""
    (entry,) = parse(body, ATOM).entries
    assert entry.published_at == datetime(2024, 10, 14, 12, 0, tzinfo=UTC)


def test_unreadable_date_is_none_not_an_error() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
<link>https://x.example/1</link><pubDate>sometime last week</pubDate></item></channel></rss>"""
    (entry,) = parse(body).entries
    assert entry.published_at is None


@pytest.mark.parametrize(
    ("ttl", "seconds"), [("15", 900), (" 60 ", 3600), ("0", None), ("soon", None)]
)
def test_ttl_is_read_in_minutes(ttl: str, seconds: int | None) -> None:
    body = f"<rss version='2.0'><channel><title>t</title><ttl>{ttl}</ttl></channel></rss>"
    assert parse(body.encode()).ttl_s == seconds


# --- encodings -----------------------------------------------------------------------------


def test_iso_8859_1_feed_decodes_its_accents() -> None:
    feed = parse(load_feed("latin1.xml"), {"content-type": "application/rss+xml"})
    assert feed.title == "Le Journal du Matin"
    assert feed.language == "fr"
    (entry,) = feed.entries
    assert entry.title == "La Corée du Nord envoie des soldats combattre aux côtés de la Russie"
    assert "nord-coréennes" in entry.summary
    assert "signé un accord de défense" in entry.summary
    assert entry.published_at == datetime(2024, 10, 14, 5, 30, tzinfo=UTC)


def test_charset_from_the_http_header_decodes_the_feed() -> None:
    # No encoding declared in the XML: only the header says windows-1251.
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Новости</title>'
        "<item><title>Северная Корея и Россия</title><link>https://ru.example/1</link>"
        "</item></channel></rss>"
    ).encode("cp1251")
    feed = parse(body, {"content-type": "application/rss+xml; charset=windows-1251"})
    assert feed.title == "Новости"
    assert feed.entries[0].title == "Северная Корея и Россия"


# --- broken and hostile input ------------------------------------------------------------


def test_malformed_xml_names_line_and_column() -> None:
    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel><title>x</oops></channel></rss>'
    with pytest.raises(FeedError) as raised:
        parse(body)
    assert str(raised.value) == "malformed feed: line 3, column 19: mismatched tag"


def test_html_page_is_not_a_feed() -> None:
    body = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Moved.</p></body>"
    with pytest.raises(FeedError, match=r"^not a feed"):
        parse(body, {"content-type": "text/html; charset=utf-8"})


@pytest.mark.parametrize("body", [b"", b"  \n\t "])
def test_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError, match=r"^not a feed: the body is empty$"):
        parse(body)


def test_json_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match=r"^not a feed"):
        parse(b'{"version": "https://jsonfeed.org/version/1"}', {"content-type": "text/json"})


def test_feed_errors_are_one_line() -> None:
    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n<title>x\n</channel>'
    with pytest.raises(FeedError) as raised:
        parse(body)
    assert "\n" not in str(raised.value)


def test_truncated_feed_keeps_its_complete_entries() -> None:
    feed = parse(load_feed("truncated.xml"))
    assert feed.entries[0].key == "guid:truncated-1"
    assert feed.entries[0].title == "A complete item"
    assert "This item survived." in feed.entries[0].summary
    assert feed.warning is not None and feed.warning.startswith("line ")
    assert all(e.link or e.title for e in feed.entries)


def test_a_feed_cut_inside_an_entry_gives_no_fragment_of_it() -> None:
    # Cut after the second item's title: that fragment has no GUID or link, so it would be
    # keyed by its title alone and stored again, whole, under its GUID on the next poll.
    entries = [
        feedserver.Entry(f"cut-{n}", f"Story {n}", f"https://cut.example/{n}", "Text.", None)
        for n in range(2)
    ]
    whole = feedserver.render_rss(entries, "Cut", "https://cut.example/")
    cut = whole[: whole.index(b"Story 1</title>") + len(b"Story 1</title>")]
    assert [e.key for e in parse(cut).entries] == ["guid:cut-0"]
    assert [e.key for e in parse(whole).entries] == ["guid:cut-0", "guid:cut-1"]
    # A well-formed feed of entries without GUID or link keeps them.
    bare = [feedserver.Entry(None, "Only a title", None, "And a summary.", None)]
    assert len(parse(feedserver.render_rss(bare, "Bare", "https://bare.example/")).entries) == 1


def test_xxe_never_reads_a_local_file_or_fetches_a_url(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9c", encoding="utf-8")
    body = (
        load_feed("xxe.xml")
        .replace(b"file:///etc/passwd", secret.as_uri().encode())
        .replace(b"http://127.0.0.1:9/xxe-probe", feed_server.url("/xxe-probe").encode())
    )
    feed = parse(body)
    (entry,) = feed.entries
    assert "TOP-SECRET" not in all_text(entry) + feed.title
    assert "root:" not in all_text(entry)
    assert feed_server.count() == 0
    # The original sample too, with /etc/passwd.
    (original,) = parse(load_feed("xxe.xml")).entries
    assert "root:" not in all_text(original)


def test_billion_laughs_finishes_fast_without_expanding() -> None:
    start = time.perf_counter()
    feed = parse(load_feed("billion_laughs.xml"))
    assert time.perf_counter() - start < 2.0
    assert all(len(all_text(e)) < 1000 for e in feed.entries)
    assert "lollollol" not in " ".join(all_text(e) for e in feed.entries)


def test_a_url_as_body_is_parsed_never_fetched(feed_server: FeedServer) -> None:
    # feedparser fetches strings that look like URLs itself, with no timeout.
    feed_server.set_feed("/feed.xml", [])
    with pytest.raises(FeedError):
        parse(feed_server.url("/feed.xml").encode())
    assert feed_server.count() == 0
