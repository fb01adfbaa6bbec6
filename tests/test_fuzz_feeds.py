"""Fuzzing the feed path: random and mutated feed bytes, from parsing to the stored row.

Hypothesis starts from the valid and hostile samples in tests/data/feeds and mutates
them (truncates, flips bytes, inserts entities, NULs, invalid UTF-8, huge attributes,
dates out of range, wrong or changed encodings), or makes up bytes of its own. Each
body goes through the real functions, in-process: `crawler.feeds.parse_feed`, the
spider's item building, and the pipelines into a SQLite database. Parsing may refuse a
body only with FeedError, and no stored row is malformed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crawler.exceptions import FeedError
from crawler.feeds import ParsedFeed, parse_feed
from crawler.options import FeedOptions
from crawler.preparation import feed_item
from storage.db import Database
from storage.models import Article
from storage.records import SourceSpec, SourceState
from storage.sightings import known_entry_keys
from storage.sources import due_sources, sync_sources
from tests.feedserver import FEEDS_DIR
from tests.test_pipelines import run_chain

FEED_URL = "https://fuzz.example/feed.xml"
SAMPLES = sorted(path.read_bytes() for path in FEEDS_DIR.iterdir() if path.suffix != ".md")
INSERTS = [
    b"\x00",
    b"&amp;",
    b"&#0;",
    b"&#x0;",
    b"&#xD800;",
    b"&#xFFFE;",
    b"&#x1F600;",
    b"&nbsp;",
    b"&undefined;",
    b"&lt;script&gt;alert(1)&lt;/script&gt;",
    b"<![CDATA[<b>cdata</b> \x00]]>",
    b"\xff\xfe\xc3\x28\xa0\xa1",  # invalid UTF-8
    b"\xef\xbb\xbf",  # a BOM in the middle
    b"\r\n\x0b\x0c\x1b\x7f\xc2\x85\xe2\x80\xa8",  # control characters and odd line breaks
    b'<img src=x onerror="alert(1)" title="' + b"A" * 100_000 + b'"/>',  # a huge attribute
    b"<title>" + b"T" * 50_000 + b"</title>",
    b"<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate>",  # far future
    b"<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>",  # far past
    b"<updated>2999-01-01T00:00:00Z</updated>",
    b"<pubDate>yesterday-ish, around noon</pubDate>",
    b"<link>javascript:alert(1)</link>",
    b"<link>https://[broken.example/x</link>",  # not a URL: urljoin raises
    b"<link></link><guid></guid>",
    b"<item><title>x</title></item>",
    b"</channel></rss>",
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>',
]
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "shift_jis", "koi8-r", "bogus"]
CONTENT_TYPES = [
    "application/rss+xml; charset=utf-8",
    "application/atom+xml",
    "text/xml; charset=iso-8859-1",
    "text/html; charset=utf-16",
    "application/octet-stream",
    "text/plain; charset=bogus",
]
_ENCODING_DECL = re.compile(rb'encoding=["\'][^"\']*["\']')


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Return a sample feed changed by a few random mutations."""
    body = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.sampled_from(["cut", "flip", "insert", "declare", "transcode", "junk"]))
        if kind == "cut":
            body = body[:at]
        elif kind == "flip" and at < len(body):
            flipped = body[at] ^ draw(st.integers(1, 255))
            body = body[:at] + bytes([flipped]) + body[at + 1 :]
        elif kind == "insert":
            body = body[:at] + draw(st.sampled_from(INSERTS)) + body[at:]
        elif kind == "declare":  # declare an encoding the bytes are not in
            encoding = draw(st.sampled_from(ENCODINGS)).encode()
            body = _ENCODING_DECL.sub(b'encoding="' + encoding + b'"', body, count=1)
        elif kind == "transcode":  # re-encode the text, keeping the old declaration
            encoding = draw(st.sampled_from(ENCODINGS[:-1]))
            body = body.decode("utf-8", "replace").encode(encoding, "replace")
        elif kind == "junk":
            body = body[:at] + draw(st.binary(max_size=64)) + body[at:]
    return body


feed_bodies = st.one_of(mutated(), st.binary(max_size=2000))
headers = st.fixed_dictionaries({"content-type": st.sampled_from(CONTENT_TYPES)})


def parse(body: bytes, response_headers: dict[str, str]) -> ParsedFeed | None:
    """Parse as the spider does; None when the body is refused (FeedError)."""
    try:
        return parse_feed(body, response_headers, FEED_URL)
    except FeedError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


@given(body=feed_bodies, response_headers=headers)
@settings(max_examples=300, deadline=timedelta(seconds=5))
def test_parsing_any_bytes_gives_entries_or_a_feed_error(
    body: bytes, response_headers: dict[str, str]
) -> None:
    parsed = parse(body, response_headers)  # any other exception fails the test
    if parsed is not None:
        for entry in parsed.entries:
            assert entry.key and (entry.link or entry.title or entry.summary or entry.content)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, SourceState]]:
    """One SQLite database for every example, with the feed source they come from."""
    path = Path(tmp_path_factory.mktemp("fuzz")) / "newswatch.db"
    db = Database.open(f"sqlite:///{path}")
    db.upgrade()
    sync_sources(db, [SourceSpec("fuzz", "feed", FEED_URL)], 900, datetime.now(UTC))
    (source,) = due_sources(db, datetime.now(UTC))
    try:
        yield db, source
    finally:
        db.dispose()


def assert_well_formed(article: Article, now: datetime) -> None:
    assert article.canonical_url.strip(), article.url
    for name in ("canonical_url", "url", "title", "summary", "text", "language", "guid"):
        value = getattr(article, name)
        if value is not None:
            assert "\x00" not in value, name
            value.encode("utf-8")  # no lone surrogates: valid UTF-8 in any export
    assert all("\x00" not in author for author in article.authors)
    for name in ("first_seen_at", "updated_at", "published_at"):
        when = getattr(article, name)
        if when is not None:
            assert when.tzinfo is not None and when.utcoffset() == timedelta(0), name
    if article.published_at is not None:
        assert article.published_at <= now + timedelta(days=1)


@given(body=feed_bodies, response_headers=headers)
@settings(
    max_examples=120,
    deadline=timedelta(seconds=5),
    # One database for all examples, on purpose: every row in it must be well formed.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_no_malformed_row_is_ever_stored(
    fuzz_store: tuple[Database, SourceState], body: bytes, response_headers: dict[str, str]
) -> None:
    db, source = fuzz_store
    parsed = parse(body, response_headers)
    if parsed is None:
        return
    items = [feed_item(source, entry, parsed.language, None) for entry in parsed.entries]
    # No topics configured: every entry is kept, so every entry reaches the store.
    kept, _ = run_chain(db, items, (), {"fuzz": FeedOptions()})
    # Each kept entry was written (a failed write is logged and leaves no sighting).
    keys = {item.entry_key for item in kept}
    assert known_entry_keys(db, source.id, sorted(keys)) == keys
    now = datetime.now(UTC)
    with db.session() as session:
        for article in session.scalars(select(Article)):
            assert_well_formed(article, now)
