"""Feed parsing: bytes and headers in, plain entries out.

`parse_feed` runs in a worker process (see `crawler.workers`), so it takes and returns
only picklable values and never touches the network or the database.
"""

from __future__ import annotations

import calendar
import io
import re
import time
import xml.sax
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from crawler.exceptions import FeedError
from crawler.feed_scan import strip_known
from crawler.fingerprints import entry_key
from crawler.text import html_to_text

_SAX_POSITION = re.compile(r"^<unknown>:(\d+):(\d+):")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a parsed feed, as plain text."""

    key: str
    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str  # the entry's full content (content:encoded, atom:content), as text
    authors: tuple[str, ...]
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its entries and the hints it gives about polling."""

    title: str
    language: str | None
    ttl_s: int | None
    entries: tuple[FeedEntry, ...]
    warning: str | None  # a recoverable problem feedparser reported (bozo with entries)
    # The body is not well-formed XML (the entries are what feedparser salvaged from it),
    # as opposed to a warning about, say, the declared encoding or content type.
    malformed: bool = False


def parse_feed(
    body: bytes, headers: dict[str, str], url: str, known: frozenset[str] = frozenset()
) -> ParsedFeed:
    """Parse a feed body; raise `FeedError` when it holds no feed at all.

    The entries whose keys are in `known` come back without their summary and content
    when that saved work (see `crawler.feed_scan`): the caller skips them anyway.
    """
    if known:
        reduced = strip_known(body, headers, known)
        if reduced is not None:
            parsed = _parse(reduced, headers, url)
            # An entry cut short must be one of the known: should feedparser have keyed
            # one otherwise, it would pass for new, and without its text. Parse it all.
            if all(e.key in known or e.summary or e.content for e in parsed.entries):
                return parsed
    return _parse(body, headers, url)


def _parse(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    # A stream, never a string: feedparser fetches strings that look like URLs or paths
    # itself, with no timeout (see DESIGN.md, "How an article flows").
    parsed: Any = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        # Text only is stored, so feedparser's HTML sanitiser and URI resolution would be
        # work thrown away; html_to_text drops scripts and markup itself.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = parsed.get("bozo_exception")
    entries = tuple(e for e in (_entry(raw, url) for raw in parsed.entries) if _usable(e))
    if not entries and (problem is not None or not parsed.get("version")):
        if not body.strip():
            raise FeedError("not a feed: the body is empty")
        if problem is not None and _looks_like_xml(body):
            raise FeedError(f"malformed feed: {_one_line(problem)}")
        raise FeedError("not a feed: the body is not RSS, Atom or RDF")
    feed = parsed.feed
    return ParsedFeed(
        title=_one_line(feed.get("title", "")),
        language=_language(feed.get("language")),
        ttl_s=_ttl(feed.get("ttl")),
        entries=entries,
        warning=_one_line(problem) if problem is not None else None,
        malformed=isinstance(problem, xml.sax.SAXException),
    )


def _entry(raw: Any, feed_url: str) -> FeedEntry:
    guid = raw.get("id") or None
    link = raw.get("link") or None
    if link:
        # Relative links are resolved against the feed's own URL (RSS best practice).
        link = urljoin(feed_url, link.strip())
    title = html_to_text(raw.get("title", ""))
    summary = html_to_text(raw.get("summary", ""))
    content = "\n\n".join(html_to_text(part.get("value", "")) for part in raw.get("content", []))
    authors = tuple(a["name"] for a in raw.get("authors", []) if a.get("name"))
    if not authors and raw.get("author"):
        authors = (str(raw["author"]),)
    return FeedEntry(
        key=entry_key(guid, link, title, summary),
        guid=guid,
        link=link,
        title=title,
        summary=summary if summary != content else "",
        content=content,
        authors=authors,
        # FeedParserDict.get maps a missing updated_parsed to published_parsed with a
        # DeprecationWarning (feedparser issue 310); dict.get looks without that fallback.
        published_at=_time(raw.get("published_parsed") or dict.get(raw, "updated_parsed")),
    )


def _usable(entry: FeedEntry) -> bool:
    # A truncated feed can leave an empty last entry behind; it identifies nothing.
    return bool(entry.link or entry.title or entry.summary or entry.content)


def _looks_like_xml(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").lower()
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf"))


def _time(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        # feedparser normalises every date it understands to a UTC struct_time.
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _language(value: Any) -> str | None:
    if not value:
        return None
    return str(value).strip().split("-")[0].split("_")[0].lower()[:8] or None


def _one_line(problem: object) -> str:
    # The SAX parser names no file ("<unknown>:2:28: ..."): say line and column instead.
    text = _SAX_POSITION.sub(r"line \1, column \2:", " ".join(str(problem).split()))
    return text[:300]
