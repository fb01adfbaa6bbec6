"""A programmable local HTTP server for feeds and article pages, for tests only.

No test may reach the internet. This module serves RSS 2.0 / Atom feeds and HTML pages on
``127.0.0.1`` from a background thread, injects faults per path, and records every request.
The server runs inside the test process; a daemon under test in a subprocess talks to it
over the loopback interface like any other HTTP client.

Typical use::

    from tests.feedserver import Entry, FeedServer

    with FeedServer() as server:
        server.set_feed("/feed.xml", [Entry("g1", "Title", server.url("/a"), "Sum", when)])
        server.set_page("/a", "<html>...</html>")
        server.set_fault("/slow.xml", "hang", delay=2.0)
        ...
        assert server.count("/feed.xml") == 1

The ``feed_server`` pytest fixture yields a started server and stops it afterwards. Use it
from a test module either through ``pytest_plugins = ["tests.feedserver"]`` in the root
``tests/conftest.py``, or with ``from tests import feedserver`` followed by
``feed_server = feedserver.feed_server`` at module level (a plain
``from tests.feedserver import feed_server`` trips ruff's F811 on every test argument).

``python -m tests.feedserver [--port N]`` serves the sample article pages and a feed of
them until interrupted, for poking at the daemon by hand.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

import brotli
import pytest

__all__ = [
    "DATA_DIR",
    "FEEDS_DIR",
    "PAGES_DIR",
    "SAMPLE_ARTICLES",
    "Entry",
    "FaultKind",
    "FeedServer",
    "InFlight",
    "Request",
    "Resource",
    "SampleArticle",
    "feed_server",
    "load_feed",
    "load_page",
    "render_atom",
    "render_rss",
    "strong_etag",
]

HOST = "127.0.0.1"
DATA_DIR = Path(__file__).resolve().parent / "data"
PAGES_DIR = DATA_DIR / "pages"
FEEDS_DIR = DATA_DIR / "feeds"

RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

FaultKind = Literal[
    "404",
    "410",
    "429",
    "500",
    "502",
    "503",
    "hang",
    "malformed",
    "reset",
    "redirect",
    "gzip",
    "brotli",
    "notfeed",
    "huge",
    "unannounced",
    "trickle",
    "truncated",
]
_STATUS_FAULTS: Mapping[str, int] = {
    "404": 404,
    "410": 410,
    "429": 429,
    "500": 500,
    "502": 502,
    "503": 503,
}
_FAULT_KINDS = frozenset(
    {
        *_STATUS_FAULTS,
        *("hang", "malformed", "reset", "redirect", "gzip", "brotli", "notfeed", "huge"),
        *("unannounced", "trickle", "truncated"),
    }
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_HUGE_SIZE = 20 * 1024 * 1024
_CHUNK = 64 * 1024


# --------------------------------------------------------------------------------------
# Feed rendering


@dataclass(frozen=True)
class Entry:
    """One feed entry. ``guid``, ``link`` and ``published`` may be None to test fallbacks.

    Naive datetimes are taken as UTC. ``summary`` is plain text; ``content_html`` is HTML
    and is rendered as ``content:encoded`` (RSS) or ``<content type="html">`` (Atom).
    """

    guid: str | None
    title: str
    link: str | None
    summary: str
    published: datetime | None
    content_html: str | None = None
    author: str | None = None
    updated: datetime | None = None


_NS_ATOM = "http://www.w3.org/2005/Atom"
_NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_NS_DC = "http://purl.org/dc/elements/1.1/"
# Characters that XML 1.0 cannot carry at all, even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _http_date(value: datetime) -> str:
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


def _iso(value: datetime) -> str:
    return _utc(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = _clean(text)
    return element


def _newest(entries: Sequence[Entry]) -> datetime:
    """The feed's own update time: the newest entry time, so equal input gives equal bytes."""
    times = [_utc(t) for e in entries for t in (e.published, e.updated) if t is not None]
    return max(times, default=_EPOCH)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode("utf-8") + b"\n"


def render_rss(
    entries: Sequence[Entry],
    title: str,
    link: str,
    ttl: int | None = None,
    *,
    description: str | None = None,
    self_url: str | None = None,
    language: str | None = "en",
) -> bytes:
    """Render a valid RSS 2.0 document (UTF-8). ``ttl`` is in minutes.

    Authors go in ``dc:creator`` (RSS's own ``<author>`` must be an e-mail address), HTML
    content in ``content:encoded``. The output depends only on the arguments.
    """
    ET.register_namespace("atom", _NS_ATOM)
    ET.register_namespace("content", _NS_CONTENT)
    ET.register_namespace("dc", _NS_DC)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", link)
    _sub(channel, "description", description if description is not None else title)
    if self_url is not None:
        _sub(
            channel,
            f"{{{_NS_ATOM}}}link",
            href=self_url,
            rel="self",
            type="application/rss+xml",
        )
    if language:
        _sub(channel, "language", language)
    _sub(channel, "lastBuildDate", _http_date(_newest(entries)))
    if ttl is not None:
        _sub(channel, "ttl", str(int(ttl)))
    for entry in entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        if entry.link is not None:
            _sub(item, "link", entry.link)
        if entry.guid is not None:
            permalink = "true" if entry.guid == entry.link else "false"
            _sub(item, "guid", entry.guid, isPermaLink=permalink)
        if entry.published is not None:
            _sub(item, "pubDate", _http_date(entry.published))
        if entry.author is not None:
            _sub(item, f"{{{_NS_DC}}}creator", entry.author)
        _sub(item, "description", entry.summary)
        if entry.content_html is not None:
            _sub(item, f"{{{_NS_CONTENT}}}encoded", entry.content_html)
    return _serialise(rss)


def render_atom(
    entries: Sequence[Entry],
    title: str,
    link: str,
    *,
    feed_id: str | None = None,
    self_url: str | None = None,
    subtitle: str | None = None,
    language: str | None = "en",
) -> bytes:
    """Render a valid Atom 1.0 document (UTF-8).

    ``summary`` is ``type="text"``, ``content_html`` is ``<content type="html">``. A
    feed-level author is added only when some entry has none, as RFC 4287 requires.
    """
    ET.register_namespace("", _NS_ATOM)

    def q(tag: str) -> str:
        return f"{{{_NS_ATOM}}}{tag}"

    feed = ET.Element(q("feed"))
    if language:
        feed.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    _sub(feed, q("title"), title)
    if subtitle is not None:
        _sub(feed, q("subtitle"), subtitle)
    _sub(feed, q("id"), feed_id if feed_id is not None else link)
    _sub(feed, q("updated"), _iso(_newest(entries)))
    _sub(feed, q("link"), rel="alternate", type="text/html", href=link)
    if self_url is not None:
        _sub(feed, q("link"), rel="self", type="application/atom+xml", href=self_url)
    if any(e.author is None for e in entries):
        _sub(_sub(feed, q("author")), q("name"), title)
    for entry in entries:
        element = _sub(feed, q("entry"))
        _sub(element, q("title"), entry.title)
        if entry.guid is not None:
            _sub(element, q("id"), entry.guid)
        if entry.link is not None:
            _sub(element, q("link"), rel="alternate", type="text/html", href=entry.link)
        if entry.published is not None:
            _sub(element, q("published"), _iso(entry.published))
        updated = entry.updated or entry.published
        _sub(element, q("updated"), _iso(updated if updated is not None else _EPOCH))
        if entry.author is not None:
            _sub(_sub(element, q("author")), q("name"), entry.author)
        _sub(element, q("summary"), entry.summary, type="text")
        if entry.content_html is not None:
            _sub(element, q("content"), entry.content_html, type="html")
    return _serialise(feed)


# --------------------------------------------------------------------------------------
# Test data


def load_page(name: str) -> str:
    """The text of ``tests/data/pages/<name>``."""
    return (PAGES_DIR / name).read_text(encoding="utf-8")


def load_feed(name: str) -> bytes:
    """The bytes of ``tests/data/feeds/<name>`` (some are deliberately not UTF-8)."""
    return (FEEDS_DIR / name).read_bytes()


@dataclass(frozen=True)
class SampleArticle:
    """One page in ``tests/data/pages/`` (described in its ``index.json``) and what an
    extractor should find in it: ``text_file`` holds the main text, ``boilerplate`` phrases
    of page chrome that must not end up in extracted text."""

    page: str
    text_file: str
    site_name: str
    title: str
    author: str
    published: datetime
    canonical_url: str
    language: str
    summary: str
    on_topic: bool
    boilerplate: tuple[str, ...]

    @property
    def html(self) -> str:
        return load_page(self.page)

    @property
    def text(self) -> str:
        return load_page(self.text_file)


def _load_samples() -> tuple[SampleArticle, ...]:
    raw = json.loads((PAGES_DIR / "index.json").read_text(encoding="utf-8"))
    return tuple(
        SampleArticle(
            page=item["page"],
            text_file=item["text"],
            site_name=item["site_name"],
            title=item["title"],
            author=item["author"],
            published=datetime.fromisoformat(item["published"]),
            canonical_url=item["canonical_url"],
            language=item["language"],
            summary=item["summary"],
            on_topic=bool(item["on_topic"]),
            boilerplate=tuple(item["boilerplate"]),
        )
        for item in raw
    )


SAMPLE_ARTICLES: tuple[SampleArticle, ...] = _load_samples()


# --------------------------------------------------------------------------------------
# The server


@dataclass(frozen=True)
class Request:
    """One request as received. ``headers`` keys are lower-case. ``time`` is ``time.time()``."""

    path: str
    method: str
    headers: dict[str, str]
    time: float
    query: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


@dataclass(frozen=True)
class Resource:
    """What a path serves when no fault is set. Feeds carry an ETag and a Last-Modified."""

    body: bytes
    content_type: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: datetime | None = None


@dataclass
class _Fault:
    kind: str
    retry_after: str | None = None
    delay: float | None = None
    to: str | None = None
    status: int = 302
    size: int | None = None
    remaining: int | None = None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


_NOT_FEED_HTML = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Welcome | Example Portal</title></head>\n<body><h1>Welcome</h1>"
    b"<p>This page moved. It is not a feed.</p></body></html>\n"
)
_MALFORMED_TAIL = b"\n<item><title>Broken & unterminated <b>entry</title>\n<link>http://"
_MALFORMED_DEFAULT = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Broken feed</title><item><title>Unclosed &amp; item</title>" + _MALFORMED_TAIL
)


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class InFlight:
    """Requests being answered at once, per host and in all, and the most ever seen.

    Share one between servers bound to different loopback addresses (127.0.0.1,
    127.0.0.2, ...: all loopback on Linux) to see a client's per-host and global limits.
    A request counts from the moment its request line is read until its answer starts
    to be written, so a slow ("hang" with ``delay``) answer keeps it in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: dict[str, int] = {}
        self._total = 0
        self.peak: dict[str, int] = {}  # host -> most requests in flight at once
        self.peak_total = 0

    @contextlib.contextmanager
    def serving(self, host: str) -> Iterator[Callable[[], None]]:
        """Count a request as in flight; call the yielded function when it is answered.

        The answer must leave the count before its bytes go out: once a client has read
        them it may send its next request, which must not be counted beside this one.
        """
        with self._lock:
            self._now[host] = self._now.get(host, 0) + 1
            self._total += 1
            self.peak[host] = max(self.peak.get(host, 0), self._now[host])
            self.peak_total = max(self.peak_total, self._total)
        left = False

        def leave() -> None:
            nonlocal left
            with self._lock:
                if not left:
                    left = True
                    self._now[host] -= 1
                    self._total -= 1

        try:
            yield leave
        finally:
            leave()


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with programmable feeds, pages and faults.

    All setters and recorders are thread-safe; change them between or during requests.
    Unknown paths answer 404. ``stop()`` never waits on a hanging request. ``host`` binds
    another loopback address; ``in_flight`` (shared between servers, or the server's
    own) records how many requests it answers at once.
    """

    def __init__(self, port: int = 0, host: str = HOST, in_flight: InFlight | None = None) -> None:
        self.host = host
        self.in_flight = in_flight if in_flight is not None else InFlight()
        self._requested_port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._resources: dict[str, Resource] = {}
        self._faults: dict[str, _Fault] = {}
        self._log: list[Request] = []
        self._responses: list[tuple[str, str, int]] = []
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self.errors: list[str] = []  # unexpected handler exceptions, for debugging

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Start serving. After a ``stop()`` this binds the same port again, so a test can
        take the server down and bring it back at the same URL; content, faults and the
        request log are kept."""
        if self._httpd is not None:
            raise RuntimeError("FeedServer already started")
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), _Handler, self)
        self._httpd = httpd
        self._requested_port = self.port
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"feedserver-{self.port}",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, release hanging requests, close every connection, join threads."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        httpd.shutdown()  # serve_forever returns; nothing new is accepted after this
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handlers blocked reading an idle keep-alive socket
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        httpd.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(max(0.0, deadline - time.monotonic()))
        self._httpd = None
        self._serve_thread = None
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"FeedServer handler threads did not finish: {alive}")

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FeedServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL for ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- content -----------------------------------------------------------------------

    def set_feed(
        self,
        path: str,
        entries: Sequence[Entry],
        kind: Literal["rss", "atom"] = "rss",
        title: str = "Test feed",
        ttl: int | None = None,
        *,
        link: str | None = None,
        description: str | None = None,
        last_modified: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Resource:
        """Serve a feed at ``path``, rendered now. Returns what will be served.

        The ETag is a strong hash of the body. Last-Modified is ``last_modified`` if given;
        otherwise it is kept while the body is unchanged and moves forward (by at least
        one second) whenever it changes, so If-Modified-Since stays truthful.
        """
        site = link if link is not None else self.url("/")
        if kind == "rss":
            body = render_rss(
                entries, title, site, ttl, description=description, self_url=self.url(path)
            )
            content_type = RSS_CONTENT_TYPE
        elif kind == "atom":
            body = render_atom(entries, title, site, self_url=self.url(path), subtitle=description)
            content_type = ATOM_CONTENT_TYPE
        else:
            raise ValueError(f"unknown feed kind {kind!r}")
        with self._lock:
            previous = self._resources.get(path)
            if last_modified is not None:
                modified = _utc(last_modified).replace(microsecond=0)
            elif (
                previous is not None
                and previous.body == body
                and previous.last_modified is not None
            ):
                modified = previous.last_modified
            else:
                modified = datetime.now(UTC).replace(microsecond=0)
                if previous is not None and previous.last_modified is not None:
                    modified = max(modified, previous.last_modified + timedelta(seconds=1))
            resource = Resource(
                body=body,
                content_type=content_type,
                headers=tuple((headers or {}).items()),
                etag=strong_etag(body),
                last_modified=modified,
            )
            self._resources[path] = resource
        return resource

    def set_page(
        self,
        path: str,
        html: str | bytes,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = HTML_CONTENT_TYPE,
    ) -> Resource:
        """Serve ``html`` at ``path`` (no ETag, no 304s)."""
        body = html.encode("utf-8") if isinstance(html, str) else html
        return self.set_resource(path, body, content_type, status=status, headers=headers)

    def set_resource(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Resource:
        """Serve arbitrary bytes at ``path``: sitemaps, robots.txt, a static feed file."""
        resource = Resource(body, content_type, status, tuple((headers or {}).items()))
        with self._lock:
            self._resources[path] = resource
        return resource

    def remove(self, path: str) -> None:
        """Forget the content at ``path``; it answers 404 again."""
        with self._lock:
            self._resources.pop(path, None)

    def resource(self, path: str) -> Resource | None:
        with self._lock:
            return self._resources.get(path)

    def add_sample_articles(self, prefix: str = "/articles") -> list[Entry]:
        """Serve the pages of ``SAMPLE_ARTICLES`` under ``prefix`` and return feed entries
        for them, newest first, ready for ``set_feed``."""
        entries = []
        for article in SAMPLE_ARTICLES:
            path = f"{prefix.rstrip('/')}/{article.page}"
            self.set_page(path, load_page(article.page))
            entries.append(
                Entry(
                    guid=article.canonical_url,
                    title=article.title,
                    link=self.url(path),
                    summary=article.summary,
                    published=article.published,
                    author=article.author,
                )
            )
        entries.sort(key=lambda e: e.published or _EPOCH, reverse=True)
        return entries

    # -- faults ------------------------------------------------------------------------

    def set_fault(
        self,
        path: str,
        kind: FaultKind,
        *,
        retry_after: int | str | None = None,
        delay: float | None = None,
        to: str | None = None,
        status: int = 302,
        size: int | None = None,
        times: int | None = None,
    ) -> None:
        """Make ``path`` misbehave. The fault wins over any content at the path.

        - ``"404" "410" "429" "500" "502" "503"``: that status with a short text body;
          ``retry_after`` (seconds or an HTTP date) adds ``Retry-After``.
        - ``"hang"``: read the request, then answer nothing until the server stops (the
          connection is then closed) or, with ``delay``, until ``delay`` seconds pass, after
          which the normal content is served: a slow endpoint.
        - ``"malformed"``: 200, the feed content type, broken XML (the path's body cut in
          half plus an unterminated item, or a stock broken feed).
        - ``"reset"``: 200 headers with the full Content-Length, half the body, then a TCP
          reset (SO_LINGER 0).
        - ``"redirect"``: ``status`` (301/302/303/307/308) to ``to``, a path on this server
          or an absolute URL.
        - ``"gzip"``: the normal response with a gzip-encoded body and
          ``Content-Encoding: gzip`` whatever the request's Accept-Encoding; with ``size``
          the body is first padded with spaces to ``size`` bytes (a decompression bomb).
        - ``"brotli"``: the same with brotli (``Content-Encoding: br``).
        - ``"notfeed"``: 200 with an HTML page.
        - ``"huge"``: 200, a valid RSS document of ``size`` bytes (default 20 MiB).
        - ``"unannounced"``: the same with no Content-Length: the body ends when the
          server closes the connection, so a client learns its size only as it reads.
        - ``"trickle"``: 200 headers with the full Content-Length, then the normal body
          one byte every ``delay`` seconds (default 1): a slow-loris server, whose every
          read arrives well within any per-read timeout.
        - ``"truncated"``: 200 headers announcing the full Content-Length, half the body,
          then an orderly close (FIN): a body shorter than announced.

        ``times`` limits the fault to the next N requests for the path; then the path
        serves its content again (for example, one 503 and then success).
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "redirect":
            if to is None:
                raise ValueError("a redirect fault needs to=")
            if status not in _REDIRECT_STATUSES:
                raise ValueError(f"redirect status must be one of {sorted(_REDIRECT_STATUSES)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        fault = _Fault(
            kind=kind,
            retry_after=None if retry_after is None else str(retry_after),
            delay=delay,
            to=to,
            status=status,
            size=size,
            remaining=times,
        )
        with self._lock:
            self._faults[path] = fault

    def clear_fault(self, path: str) -> None:
        with self._lock:
            self._faults.pop(path, None)

    def reset(self) -> None:
        """Forget all content, faults and recorded requests."""
        with self._lock:
            self._resources.clear()
            self._faults.clear()
            self._log.clear()
            self._responses.clear()

    # -- recording ---------------------------------------------------------------------

    @staticmethod
    def _matches(path: str, req_path: str, query: str) -> bool:
        if "?" in path:
            return path == f"{req_path}?{query}"
        return path == req_path

    def requests(self, path: str | None = None) -> list[Request]:
        """Requests received for ``path`` (all paths if None), oldest first. A path
        without ``?`` matches whatever the query string; one with ``?`` must match it."""
        with self._lock:
            if path is None:
                return list(self._log)
            return [r for r in self._log if self._matches(path, r.path, r.query)]

    def count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def conditional_requests(self, path: str | None = None) -> list[Request]:
        """Requests that carried If-None-Match or If-Modified-Since."""
        return [r for r in self.requests(path) if r.conditional]

    def responses(self, path: str | None = None) -> list[int]:
        """Statuses sent for ``path``, in order. Hung requests that never got an answer
        are absent; a reset counts as the 200 whose headers went out."""
        with self._lock:
            return [s for p, q, s in self._responses if path is None or self._matches(path, p, q)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._responses.clear()

    def wait_for_requests(self, path: str, n: int = 1, timeout: float = 10.0) -> list[Request]:
        """Block until ``path`` has received ``n`` requests; for subprocess-driven tests."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._log if self._matches(path, r.path, r.query)]
                if len(found) >= n:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{path}: {len(found)} of {n} requests after {timeout}s")
                self._changed.wait(remaining)

    # -- internals used by the handler -------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._changed:
            self._log.append(request)
            self._changed.notify_all()

    def _record_response(self, path: str, query: str, status: int) -> None:
        with self._lock:
            self._responses.append((path, query, status))

    def _route(self, path: str, query: str) -> tuple[Resource | None, _Fault | None]:
        full = f"{path}?{query}" if query else path
        with self._lock:
            resource = self._resources.get(full) or self._resources.get(path)
            key = full if full in self._faults else path
            fault = self._faults.get(key)
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[key]
        return resource, fault

    def _track(self, conn: socket.socket, thread: threading.Thread) -> None:
        with self._lock:
            self._connections.add(conn)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # never keeps the interpreter alive; stop() joins them instead
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs under concurrent clients (1 s stalls)

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: FeedServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"feedserver-conn-{client_address}",
            daemon=True,
        )
        self.owner._track(request, thread)
        thread.start()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        self.owner._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that give up (timeouts, aborted huge downloads) are routine here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        self.owner.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle + delayed-ACK stalls between writes
    server_version = "feedserver/1.0"
    # Replaced for each request by `_serve`: takes the request out of the in-flight count.
    _answered: Callable[[], None] = staticmethod(lambda: None)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet; the owner records requests itself

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    # -- dispatch ----------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        with owner.in_flight.serving(owner.host) as self._answered:
            self._answer(head)

    def _answer(self, head: bool) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        path, query = split.path or "/", split.query
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        owner._record(Request(path, self.command, headers, time.time(), query))
        resource, fault = owner._route(path, query)

        if fault is None:
            self._send(path, query, self._normal(resource), head)
            return
        kind = fault.kind
        if kind in _STATUS_FAULTS:
            status = _STATUS_FAULTS[kind]
            extra = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            body = f"{status} {self.responses.get(status, ('Error',))[0]}\n".encode()
            self._send(path, query, _Response(status, body, extra), head)
        elif kind == "hang":
            if owner._stopping.wait(fault.delay):
                self.close_connection = True  # the server is stopping: give up silently
                return
            self._send(path, query, self._normal(resource), head)
        elif kind == "malformed":
            body = resource.body[: len(resource.body) // 2] if resource else b""
            body = body + _MALFORMED_TAIL if body else _MALFORMED_DEFAULT
            response = _Response(200, body, [("Content-Type", RSS_CONTENT_TYPE)])
            self._send(path, query, response, head)
        elif kind == "notfeed":
            response = _Response(200, _NOT_FEED_HTML, [("Content-Type", HTML_CONTENT_TYPE)])
            self._send(path, query, response, head)
        elif kind == "redirect":
            target = fault.to or "/"
            location = owner.url(target) if target.startswith("/") else target
            body = f"Moved to {location}\n".encode()
            response = _Response(fault.status, body, [("Location", location)])
            self._send(path, query, response, head)
        elif kind in ("gzip", "brotli"):
            response = self._normal(resource)
            payload = response.body
            if fault.size is not None and fault.size > len(payload):
                payload += b" " * (fault.size - len(payload))
            if kind == "gzip":
                response.body, coding = gzip.compress(payload, compresslevel=6, mtime=0), "gzip"
            else:
                response.body, coding = brotli.compress(payload), "br"
            response.headers += [("Content-Encoding", coding), ("Vary", "Accept-Encoding")]
            self._send(path, query, response, head)
        elif kind == "trickle":
            self._trickle(path, query, self._normal(resource), fault.delay or 1.0)
        elif kind == "truncated":
            response = self._normal(resource)
            self._start(path, query, response, len(response.body))
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "huge":
            self._send(path, query, self._huge(fault.size or _DEFAULT_HUGE_SIZE), head)
        elif kind == "unannounced":
            response = self._huge(fault.size or _DEFAULT_HUGE_SIZE)
            response.headers.append(("Connection", "close"))
            self._start(path, query, response, None)
            self.close_connection = True
            # The client gives up at its size cap, as it should.
            with contextlib.suppress(OSError):
                self._write(response.body)
        elif kind == "reset":
            self._reset(path, query, resource)
        else:  # pragma: no cover - set_fault validates kinds
            raise AssertionError(kind)

    def _normal(self, resource: Resource | None) -> _Response:
        if resource is None:
            return _Response(404, b"404 Not Found\n", [("Content-Type", TEXT_CONTENT_TYPE)])
        headers = [("Content-Type", resource.content_type), *resource.headers]
        if resource.etag is not None:
            headers.append(("ETag", resource.etag))
        if resource.last_modified is not None:
            headers.append(("Last-Modified", _http_date(resource.last_modified)))
        if resource.status == 200 and self._not_modified(resource):
            return _Response(304, b"", [h for h in headers if h[0] != "Content-Type"])
        return _Response(resource.status, resource.body, headers)

    def _not_modified(self, resource: Resource) -> bool:
        # RFC 9110 13.2.2: If-None-Match (weak comparison) wins over If-Modified-Since.
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            if resource.etag is None:
                return False
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or resource.etag.removeprefix("W/") in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None and resource.last_modified is not None:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            return resource.last_modified <= _utc(since)
        return False

    @staticmethod
    def _huge(size: int) -> _Response:
        head = (
            b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            b"<title>Huge feed</title><link>http://127.0.0.1/</link><description>"
        )
        tail = b"</description></channel></rss>\n"
        body = head + b"x" * max(0, size - len(head) - len(tail)) + tail
        return _Response(200, body, [("Content-Type", RSS_CONTENT_TYPE)])

    # -- writing -----------------------------------------------------------------------

    def _start(self, path: str, query: str, response: _Response, length: int | None) -> None:
        self.server.owner._record_response(path, query, response.status)
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if "content-type" not in names and response.status != 304:
            self.send_header("Content-Type", TEXT_CONTENT_TYPE)
        if response.status != 304 and length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, path: str, query: str, response: _Response, head: bool) -> None:
        self._answered()
        self._start(path, query, response, len(response.body))
        if head or response.status == 304:
            return
        self._write(response.body)

    def _write(self, body: bytes) -> None:
        view = memoryview(body)
        for offset in range(0, len(view), _CHUNK):
            self.wfile.write(view[offset : offset + _CHUNK])

    def _trickle(self, path: str, query: str, response: _Response, delay: float) -> None:
        self._start(path, query, response, len(response.body))
        self.wfile.flush()
        for offset in range(len(response.body)):
            if self.server.owner._stopping.wait(delay):
                break
            try:
                self.wfile.write(response.body[offset : offset + 1])
                self.wfile.flush()
            except OSError:  # the client gave up, as it should
                break
        self.close_connection = True

    def _reset(self, path: str, query: str, resource: Resource | None) -> None:
        body = resource.body if resource is not None else b"<!-- filler -->\n" * 512
        content_type = resource.content_type if resource is not None else RSS_CONTENT_TYPE
        response = _Response(200, body, [("Content-Type", content_type)])
        self._start(path, query, response, len(body))
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        conn = self.connection
        self.server.owner._untrack(conn)
        # Linger on with a zero timeout: close() then sends RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


# --------------------------------------------------------------------------------------
# pytest


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer on a free port of 127.0.0.1, stopped after the test."""
    with FeedServer() as server:
        yield server


# --------------------------------------------------------------------------------------
# By hand


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.feedserver",
        description="Serve the sample article pages and feeds of them on 127.0.0.1 until "
        "SIGINT or SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with FeedServer(port=args.port) as server:
        entries = server.add_sample_articles()
        server.set_feed("/rss.xml", entries, kind="rss", title="Sample articles", ttl=15)
        server.set_feed("/atom.xml", entries, kind="atom", title="Sample articles")
        print(f"serving {server.url('/rss.xml')} and {server.url('/atom.xml')}", flush=True)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
