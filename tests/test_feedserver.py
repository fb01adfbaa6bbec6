"""The local test server behaves as documented, and its test data is what it claims."""

from __future__ import annotations

import calendar
import gzip
import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import brotli
import feedparser
import pytest

from tests import feedserver
from tests.feedserver import (
    FEEDS_DIR,
    PAGES_DIR,
    SAMPLE_ARTICLES,
    Entry,
    FeedServer,
    load_feed,
    render_atom,
    render_rss,
    strong_etag,
)

feed_server = feedserver.feed_server

WHEN = datetime(2024, 10, 15, 13, 30, tzinfo=UTC)
SEEDS_DIR = Path("/work/shared/seeds")


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def get(
    server: FeedServer,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    timeout: float = 5.0,
) -> Reply:
    """One request over a fresh connection; no redirects followed, no decoding."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def rich_entries() -> list[Entry]:
    return [
        Entry(
            guid="urn:nw:1",
            title='Pyongyang & Moscow: "<allies>"',
            link="https://news.example/a?x=1&y=2",
            summary="North Korean troops fight <alongside> Russia & co.",
            published=WHEN,
            content_html="<p>Full <b>text</b> &amp; more, naïve café</p>",
            author="Jane Doe",
        ),
        Entry(
            guid="urn:nw:2",
            title="Second — with ünïcödé",
            link="https://news.example/b",
            summary="Plain summary",
            published=WHEN - timedelta(days=1),
            updated=WHEN - timedelta(hours=3),
        ),
    ]


def utc(parsed: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def fetch_with_urllib(url: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers; header names lower-cased, as feedparser's response_headers wants."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


# --------------------------------------------------------------------------------------
# Rendering


def test_rss_round_trips_through_feedparser(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/rss.xml", rich_entries(), title="World & more", ttl=45)
    body, headers = fetch_with_urllib(feed_server.url("/rss.xml"))
    assert body == resource.body
    assert headers["content-type"].startswith("application/rss+xml")
    assert headers["etag"] == strong_etag(body) and not headers["etag"].startswith("W/")
    assert parsedate_to_datetime(headers["last-modified"]) == resource.last_modified

    parsed = feedparser.parse(body, response_headers=headers)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.title == "World & more"
    assert parsed.feed.ttl == "45"
    first, second = parsed.entries
    assert first.id == "urn:nw:1"
    assert first.title == 'Pyongyang & Moscow: "<allies>"'
    assert first.link == "https://news.example/a?x=1&y=2"
    assert "North Korean troops fight" in first.summary
    assert first.author == "Jane Doe"
    assert first.content[0].value == "<p>Full <b>text</b> &amp; more, naïve café</p>"
    assert utc(first.published_parsed) == WHEN
    assert second.title == "Second — with ünïcödé"
    assert "author" not in second and "content" not in second


def test_atom_round_trips_through_feedparser(feed_server: FeedServer) -> None:
    feed_server.set_feed("/atom.xml", rich_entries(), kind="atom", title="Atom & co")
    body, headers = fetch_with_urllib(feed_server.url("/atom.xml"))
    assert headers["content-type"].startswith("application/atom+xml")

    parsed = feedparser.parse(body, response_headers=headers)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Atom & co"
    first, second = parsed.entries
    assert first.id == "urn:nw:1"
    assert first.title == 'Pyongyang & Moscow: "<allies>"'
    assert first.link == "https://news.example/a?x=1&y=2"
    assert first.summary == "North Korean troops fight <alongside> Russia & co."
    assert first.author == "Jane Doe"
    assert first.content[0].value == "<p>Full <b>text</b> &amp; more, naïve café</p>"
    assert utc(first.published_parsed) == WHEN
    assert utc(second.updated_parsed) == WHEN - timedelta(hours=3)
    # RFC 4287: the feed needs an author when an entry has none.
    assert parsed.feed.author == "Atom & co"


def test_rendering_is_deterministic_well_formed_and_drops_illegal_characters() -> None:
    entries = [Entry("g\x00", "bell\x07 & <tag>", None, "form\x0cfeed", None)]
    for render in (
        lambda: render_rss(entries, "T", "https://x.example/", ttl=5),
        lambda: render_atom(entries, "T", "https://x.example/"),
    ):
        body = render()
        assert body == render()
        assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(body)
        text = "".join(root.itertext())
        assert "bell & <tag>" in text and "formfeed" in text and "\x00" not in text


def test_entries_without_guid_link_or_date_render() -> None:
    entries = [Entry(None, "No keys", None, "Only a title and a summary", None)]
    for body in (render_rss(entries, "T", "https://x.example/"), render_atom(entries, "T", "h")):
        parsed = feedparser.parse(body)
        (entry,) = parsed.entries
        assert entry.title == "No keys" and "link" not in entry
        assert "published" not in entry


# --------------------------------------------------------------------------------------
# Conditional requests


def test_matching_etag_gets_304(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    assert resource.etag is not None
    first = get(feed_server, "/f.xml")
    assert first.status == 200 and first.headers["ETag"] == resource.etag

    again = get(feed_server, "/f.xml", {"If-None-Match": resource.etag})
    assert again.status == 304 and again.body == b""
    assert again.headers["ETag"] == resource.etag
    weak = get(feed_server, "/f.xml", {"If-None-Match": f'"other", W/{resource.etag}'})
    assert weak.status == 304
    assert get(feed_server, "/f.xml", {"If-None-Match": "*"}).status == 304
    assert get(feed_server, "/f.xml", {"If-None-Match": '"stale"'}).status == 200

    assert feed_server.responses("/f.xml") == [200, 304, 304, 304, 200]
    assert feed_server.count("/f.xml") == 5
    assert len(feed_server.conditional_requests("/f.xml")) == 4


def test_if_modified_since(feed_server: FeedServer) -> None:
    modified = datetime(2024, 10, 15, 12, 0, tzinfo=UTC)
    resource = feed_server.set_feed("/f.xml", rich_entries(), last_modified=modified)
    assert resource.last_modified == modified
    same = format_datetime(modified, usegmt=True)
    older = format_datetime(modified - timedelta(hours=1), usegmt=True)
    assert get(feed_server, "/f.xml", {"If-Modified-Since": same}).status == 304
    assert get(feed_server, "/f.xml", {"If-Modified-Since": older}).status == 200
    assert get(feed_server, "/f.xml", {"If-Modified-Since": "garbage"}).status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": same}
    assert get(feed_server, "/f.xml", both).status == 200


def test_changed_feed_gets_new_etag_and_later_last_modified(feed_server: FeedServer) -> None:
    entries = rich_entries()
    old = feed_server.set_feed("/f.xml", entries[:1])
    assert feed_server.set_feed("/f.xml", entries[:1]) == old  # unchanged body: same validators
    new = feed_server.set_feed("/f.xml", entries)
    assert new.etag != old.etag
    assert new.last_modified is not None and old.last_modified is not None
    assert new.last_modified > old.last_modified
    stale = {
        "If-None-Match": str(old.etag),
        "If-Modified-Since": format_datetime(old.last_modified, usegmt=True),
    }
    reply = get(feed_server, "/f.xml", stale)
    assert reply.status == 200 and reply.body == new.body
    only_date = {"If-Modified-Since": format_datetime(old.last_modified, usegmt=True)}
    assert get(feed_server, "/f.xml", only_date).status == 200


# --------------------------------------------------------------------------------------
# Pages and routing


def test_pages_statuses_headers_head_and_404(feed_server: FeedServer) -> None:
    feed_server.set_page("/a.html", "<p>ünï</p>", headers={"Cache-Control": "max-age=60"})
    feed_server.set_page("/gone.html", "gone", status=410)
    reply = get(feed_server, "/a.html")
    assert reply.status == 200 and reply.body == "<p>ünï</p>".encode()
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "max-age=60"
    assert "ETag" not in reply.headers

    head = get(feed_server, "/a.html", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(reply.body))
    assert get(feed_server, "/gone.html").status == 410
    assert get(feed_server, "/nowhere").status == 404
    feed_server.remove("/a.html")
    assert get(feed_server, "/a.html").status == 404
    assert feed_server.responses("/a.html") == [200, 200, 404]


def test_query_strings_route_and_record(feed_server: FeedServer) -> None:
    feed_server.set_page("/p", "plain")
    feed_server.set_page("/p?id=2", "second")
    assert get(feed_server, "/p?id=1").body == b"plain"
    assert get(feed_server, "/p?id=2").body == b"second"
    assert feed_server.count("/p") == 2
    assert feed_server.count("/p?id=2") == 1
    assert [r.query for r in feed_server.requests("/p")] == ["id=1", "id=2"]


def test_request_log_records_method_headers_and_time(feed_server: FeedServer) -> None:
    feed_server.set_page("/x", "x")
    before = time.time()
    get(feed_server, "/x", {"User-Agent": "newswatch-test (+mailto:t@example.org)", "X-A": "1"})
    get(feed_server, "/x", method="HEAD")
    first, second = feed_server.requests("/x")
    assert first.method == "GET" and second.method == "HEAD"
    assert first.path == "/x"
    assert first.headers["user-agent"] == "newswatch-test (+mailto:t@example.org)"
    assert first.header("X-A") == "1" and first.header("x-a") == "1"
    assert first.header("If-None-Match") is None and not first.conditional
    assert before <= first.time <= second.time <= time.time()
    assert [r.path for r in feed_server.requests()] == ["/x", "/x"]
    feed_server.clear_log()
    assert feed_server.count() == 0 and feed_server.responses() == []


def test_add_sample_articles_serves_pages_for_a_feed(feed_server: FeedServer) -> None:
    entries = feed_server.add_sample_articles()
    assert [e.published for e in entries] == sorted(
        (e.published for e in entries if e.published), reverse=True
    )
    feed_server.set_feed("/samples.xml", entries)
    parsed = feedparser.parse(get(feed_server, "/samples.xml").body)
    assert len(parsed.entries) == len(SAMPLE_ARTICLES)
    for entry in parsed.entries:
        page = get(feed_server, entry.link.removeprefix(feed_server.base_url))
        assert page.status == 200 and b"application/ld+json" in page.body


# --------------------------------------------------------------------------------------
# Faults


@pytest.mark.parametrize("kind", ["404", "410", "429", "500", "502", "503"])
def test_status_faults(feed_server: FeedServer, kind: feedserver.FaultKind) -> None:
    feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", kind)
    reply = get(feed_server, "/f.xml")
    assert reply.status == int(kind)
    assert "Retry-After" not in reply.headers
    assert feed_server.responses("/f.xml") == [int(kind)]


def test_503_with_retry_after_then_recovery(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "503", retry_after=120, times=2)
    for _ in range(2):
        reply = get(feed_server, "/f.xml")
        assert reply.status == 503 and reply.headers["Retry-After"] == "120"
    reply = get(feed_server, "/f.xml")
    assert reply.status == 200 and reply.body == resource.body
    feed_server.set_fault("/f.xml", "429", retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    assert get(feed_server, "/f.xml").headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    feed_server.clear_fault("/f.xml")
    assert feed_server.responses("/f.xml") == [503, 503, 200, 429]
    assert get(feed_server, "/f.xml").status == 200


def test_malformed_is_200_with_broken_xml(feed_server: FeedServer) -> None:
    feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "malformed")
    feed_server.set_fault("/empty.xml", "malformed")
    for path in ("/f.xml", "/empty.xml"):
        reply = get(feed_server, path)
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("application/rss+xml")
        with pytest.raises(ET.ParseError):
            ET.fromstring(reply.body)
        assert feedparser.parse(reply.body).bozo


def test_notfeed_is_an_html_page(feed_server: FeedServer) -> None:
    feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "notfeed")
    reply = get(feed_server, "/f.xml")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    parsed = feedparser.parse(reply.body)
    assert parsed.entries == [] and parsed.bozo


@pytest.mark.parametrize("kind", ["reset", "truncated"])
def test_reset_and_truncated_close_mid_body(
    feed_server: FeedServer, kind: feedserver.FaultKind
) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", kind)
    conn = http.client.HTTPConnection("127.0.0.1", feed_server.port, timeout=5)
    try:
        conn.request("GET", "/f.xml")
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(resource.body))
        with pytest.raises((http.client.IncompleteRead, ConnectionResetError)) as raised:
            response.read()
    finally:
        conn.close()
    assert feed_server.responses("/f.xml") == [200]
    if kind == "truncated":  # an orderly close: the half that was sent arrives
        assert isinstance(raised.value, http.client.IncompleteRead)
        assert raised.value.partial == resource.body[: len(resource.body) // 2]
    assert feed_server.errors == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect(feed_server: FeedServer, status: int) -> None:
    resource = feed_server.set_feed("/new.xml", rich_entries())
    feed_server.set_fault("/old.xml", "redirect", to="/new.xml", status=status)
    reply = get(feed_server, "/old.xml")
    assert reply.status == status
    assert reply.headers["Location"] == feed_server.url("/new.xml")
    if status in (301, 302, 307):  # urllib follows these on every supported Python
        body, _ = fetch_with_urllib(feed_server.url("/old.xml"))
        assert body == resource.body
        assert feed_server.count("/new.xml") == 1


def test_redirect_to_absolute_url_and_validation(feed_server: FeedServer) -> None:
    feed_server.set_fault("/away", "redirect", to="https://elsewhere.example/feed")
    assert get(feed_server, "/away").headers["Location"] == "https://elsewhere.example/feed"
    with pytest.raises(ValueError):
        feed_server.set_fault("/x", "redirect")
    with pytest.raises(ValueError):
        feed_server.set_fault("/x", "redirect", to="/y", status=200)
    with pytest.raises(ValueError):
        feed_server.set_fault("/x", "teapot")  # type: ignore[arg-type]


def test_gzip_encodes_the_normal_body(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "gzip")
    reply = get(feed_server, "/f.xml")
    assert reply.status == 200 and reply.headers["Content-Encoding"] == "gzip"
    assert reply.headers["ETag"] == resource.etag
    assert gzip.decompress(reply.body) == resource.body
    assert get(feed_server, "/f.xml", {"If-None-Match": str(resource.etag)}).status == 304


def test_gzip_with_size_is_a_decompression_bomb(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    size = 8 * 1024 * 1024
    feed_server.set_fault("/f.xml", "gzip", size=size)
    reply = get(feed_server, "/f.xml")
    assert len(reply.body) < size // 100
    inflated = gzip.decompress(reply.body)
    assert len(inflated) == size and inflated.startswith(resource.body)
    assert not feedparser.parse(inflated).bozo


def test_brotli_with_size_is_a_decompression_bomb(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    size = 8 * 1024 * 1024
    feed_server.set_fault("/f.xml", "brotli", size=size)
    reply = get(feed_server, "/f.xml")
    assert reply.headers["Content-Encoding"] == "br"
    assert len(reply.body) < size // 1000
    inflated = brotli.decompress(reply.body)
    assert len(inflated) == size and inflated.startswith(resource.body)


def test_trickle_sends_a_byte_per_delay(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", [])
    feed_server.set_fault("/f.xml", "trickle", delay=0.05)
    conn = http.client.HTTPConnection("127.0.0.1", feed_server.port, timeout=5)
    try:
        conn.request("GET", "/f.xml")
        response = conn.getresponse()
        assert response.headers["Content-Length"] == str(len(resource.body))
        start = time.monotonic()
        first = response.read(10)
        took = time.monotonic() - start
    finally:
        conn.close()
    assert first == resource.body[:10]
    assert took >= 0.4  # ten reads, each one delay apart
    assert feed_server.errors == []


def test_huge_serves_size_bytes(feed_server: FeedServer) -> None:
    feed_server.set_fault("/huge.xml", "huge", size=2 * 1024 * 1024)
    reply = get(feed_server, "/huge.xml")
    assert reply.status == 200 and len(reply.body) == 2 * 1024 * 1024
    assert reply.headers["Content-Length"] == str(2 * 1024 * 1024)
    ET.fromstring(reply.body)


def test_unannounced_sends_no_length_and_ends_the_body_by_closing(
    feed_server: FeedServer,
) -> None:
    feed_server.set_fault("/big.xml", "unannounced", size=256 * 1024)
    reply = get(feed_server, "/big.xml")
    assert reply.status == 200 and len(reply.body) == 256 * 1024
    assert "Content-Length" not in reply.headers
    assert reply.headers["Connection"] == "close"
    ET.fromstring(reply.body)


def test_client_abandoning_a_huge_body_is_harmless(feed_server: FeedServer) -> None:
    feed_server.set_fault("/huge.xml", "huge", size=32 * 1024 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", feed_server.port, timeout=5)
    try:
        conn.request("GET", "/huge.xml")
        response = conn.getresponse()
        assert len(response.read(1024)) == 1024
    finally:
        conn.close()
    feed_server.set_page("/ok", "ok")
    assert get(feed_server, "/ok").body == b"ok"
    assert feed_server.errors == []


def test_hang_times_the_client_out_and_is_recorded(feed_server: FeedServer) -> None:
    feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "hang")
    with pytest.raises(TimeoutError):
        get(feed_server, "/f.xml", timeout=0.3)
    assert feed_server.count("/f.xml") == 1
    assert feed_server.responses("/f.xml") == []
    assert feed_server.errors == []


def test_hang_with_delay_answers_late(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    feed_server.set_fault("/f.xml", "hang", delay=0.3)
    started = time.monotonic()
    reply = get(feed_server, "/f.xml")
    assert time.monotonic() - started >= 0.3
    assert reply.status == 200 and reply.body == resource.body


def test_hang_does_not_block_stop() -> None:
    server = FeedServer().start()
    server.set_fault("/hang", "hang")
    errors: list[BaseException] = []

    def client() -> None:
        try:
            get(server, "/hang", timeout=10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    server.wait_for_requests("/hang", 3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    for thread in threads:
        thread.join(5)
    assert not server.running
    assert len(errors) == 3 and all(isinstance(e, ConnectionError) for e in errors)
    assert server.errors == []


def test_idle_keep_alive_connection_does_not_block_stop() -> None:
    server = FeedServer().start()
    server.set_page("/p", "p")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/p")
        response = conn.getresponse()
        assert response.read() == b"p"
        conn.request("GET", "/p")  # same connection: HTTP/1.1 keep-alive
        assert conn.getresponse().read() == b"p"
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
    finally:
        conn.close()
    assert server.count("/p") == 2


# --------------------------------------------------------------------------------------
# Lifecycle, threads, other processes


def test_lifecycle() -> None:
    server = FeedServer()
    assert not server.running
    with pytest.raises(RuntimeError):
        _ = server.port
    with server:
        assert server.running
        assert server.url("x") == f"http://127.0.0.1:{server.port}/x"
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        with pytest.raises(RuntimeError):
            server.start()
    assert not server.running
    server.stop()  # idempotent
    with FeedServer() as one, FeedServer() as two:
        assert one.port != two.port


def test_restart_comes_back_on_the_same_port() -> None:
    with FeedServer() as server:
        server.set_page("/p", "p")
        url = server.url("/p")
        assert get(server, "/p").status == 200
        port = server.port
        server.stop()
        with pytest.raises(ConnectionRefusedError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/p")
            finally:
                conn.close()
        server.start()
        assert server.url("/p") == url
        assert get(server, "/p").body == b"p"
        assert server.count("/p") == 2


def test_wait_for_requests(feed_server: FeedServer) -> None:
    feed_server.set_page("/p", "p")
    timer = threading.Timer(0.1, lambda: get(feed_server, "/p"))
    timer.start()
    try:
        (request,) = feed_server.wait_for_requests("/p", 1, timeout=5)
    finally:
        timer.join()
    assert request.path == "/p"
    with pytest.raises(TimeoutError):
        feed_server.wait_for_requests("/p", 2, timeout=0.1)


def test_concurrent_requests_while_the_feed_changes(feed_server: FeedServer) -> None:
    feed_server.set_feed("/f.xml", rich_entries())
    done = threading.Event()

    def writer() -> None:
        n = 0
        while not done.is_set():
            n += 1
            entries = [Entry(f"g{i}", f"t{i}", None, "s", WHEN) for i in range(n % 7 + 1)]
            feed_server.set_feed("/f.xml", entries, kind="atom" if n % 2 else "rss")
            time.sleep(0.005)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(lambda _: get(feed_server, "/f.xml"), range(40)))
    finally:
        done.set()
        thread.join()
    for reply in replies:
        assert reply.status == 200
        assert reply.headers["ETag"] == strong_etag(reply.body)
        ET.fromstring(reply.body)
    assert feed_server.count("/f.xml") == 40


def test_a_client_in_another_process(feed_server: FeedServer) -> None:
    resource = feed_server.set_feed("/f.xml", rich_entries())
    code = (
        "import sys, urllib.request\n"
        "req = urllib.request.Request(sys.argv[1], headers={'If-None-Match': sys.argv[2]})\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=5)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code); e.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, feed_server.url("/f.xml"), str(resource.etag)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "304"
    (request,) = feed_server.conditional_requests("/f.xml")
    assert request.header("If-None-Match") == resource.etag


# --------------------------------------------------------------------------------------
# Test data


class _Text(HTMLParser):
    """Visible text of a page, scripts and styles left out, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        parser.close()
        return _squash("".join(parser.parts))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _paragraphs(text: str) -> list[str]:
    return [_squash(p) for p in text.split("\n\n") if p.strip()]


@pytest.mark.parametrize("article", SAMPLE_ARTICLES, ids=lambda a: a.page)
def test_sample_pages_hold_their_text_metadata_and_chrome(
    article: feedserver.SampleArticle,
) -> None:
    html = article.html
    visible = _Text.of(html)
    for paragraph in _paragraphs(article.text):
        assert paragraph in visible
    for phrase in article.boilerplate:
        assert phrase in visible, phrase  # the chrome is really there to be dropped
        assert phrase not in article.text
    assert f"<title>{article.title} | {article.site_name}</title>" in html
    assert f'<link rel="canonical" href="{article.canonical_url}">' in html
    assert f'<meta property="og:url" content="{article.canonical_url}">' in html
    assert f'<meta property="og:title" content="{article.title}">' in html
    (ld_json,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ld = json.loads(ld_json)
    assert ld["@type"] == "NewsArticle" and ld["headline"] == article.title
    assert datetime.fromisoformat(ld["datePublished"]) == article.published
    authors = ld["author"] if isinstance(ld["author"], list) else [ld["author"]]
    assert [a["name"] for a in authors] == [article.author]
    for chrome in ('class="cookie', "<nav", "<footer", "Comments"):
        assert chrome in html
    assert f'<meta name="description" content="{article.summary}">' in html


def test_the_off_topic_page_never_mentions_the_topic() -> None:
    (article,) = [a for a in SAMPLE_ARTICLES if not a.on_topic]
    words = re.compile(r"kore|dprk|pyongyang|russi|ukrain|kursk|moscow|kremlin", re.I)
    assert not words.search(article.html)


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the shared seed documents are absent")
def test_sample_texts_are_verbatim_from_the_seeds() -> None:
    index = json.loads((PAGES_DIR / "index.json").read_text(encoding="utf-8"))
    for item in index:
        if item["seed"] is None:
            continue
        seed = (SEEDS_DIR / item["seed"]).read_text(encoding="utf-8")
        seed = _squash(re.sub(r"\[([^\]]*)\]\(#\)", r"\1", seed))
        for paragraph in _paragraphs((PAGES_DIR / item["text"]).read_text(encoding="utf-8")):
            assert paragraph in seed


def test_static_feeds_parse_as_documented() -> None:
    names = {p.name for p in FEEDS_DIR.iterdir() if p.suffix in (".xml", ".atom")}
    bozo = {"xxe.xml", "billion_laughs.xml", "truncated.xml"}
    assert bozo < names
    for name in sorted(names):
        parsed = feedparser.parse(load_feed(name))
        assert bool(parsed.bozo) == (name in bozo), name
        assert parsed.entries, name

    samples = feedparser.parse(load_feed("samples.rss.xml"))
    assert [e.link for e in samples.entries] == [a.canonical_url for a in SAMPLE_ARTICLES]
    keys = feedparser.parse(load_feed("entry_keys.xml")).entries
    assert [("id" in e, "link" in e) for e in keys] == [
        (True, True),
        (False, True),
        (False, False),
        (True, True),
    ]
    latin1 = feedparser.parse(load_feed("latin1.xml"))
    assert latin1.encoding == "iso-8859-1" and "Corée du Nord" in latin1.entries[0].title
    relative = feedparser.parse(load_feed("relative_links.atom")).entries
    assert relative[0].link == "https://relative.example/news/2024/10/first-story.html"


def test_entities_are_never_expanded() -> None:
    started = time.monotonic()
    xxe = feedparser.parse(load_feed("xxe.xml"))
    laughs = feedparser.parse(load_feed("billion_laughs.xml"))
    assert time.monotonic() - started < 2.0
    dumped = json.dumps([xxe.entries, laughs.entries], default=str)
    assert "root:" not in dumped and "lollol" not in dumped
