"""Feed parsing: bytes and headers in, plain entries out.

`parse_feed` runs in a worker process (see `crawler.workers`), so it takes and returns
only picklable values and never touches the network or the database.

feedparser is the parser of record (DESIGN.md). It costs some 20 ms for a 50-entry feed
here, which made parsing most of a full poll's CPU time (issue #5), while lxml reads the
same feed in under one. So a plain feed (well-formed UTF-8 RSS 2.0 or Atom 1.0, nothing
feedparser might read otherwise, see `crawler.plain_feed`) is read with lxml, and every
other feed with feedparser. Both readings give the fields feedparser gives, and go
through the same `_feed_entry`, so they give the same `ParsedFeed` (the stored entry
keys above all: a difference would make every stored entry look new).
tests/test_feeds_fast.py checks that on generated and mutated feeds: `_parse_plain`
against `_parse_feedparser`.
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
from urllib.parse import urljoin, urlsplit

import feedparser

from crawler.exceptions import FeedError
from crawler.feed_scan import strip_known
from crawler.fingerprints import entry_key
from crawler.plain_feed import RawEntry, read_plain
from crawler.text import html_to_text

_SAX_POSITION = re.compile(r"^<unknown>:(\d+):(\d+):")
# Character references that name no character: surrogates (U+D800..U+DFFF) and numbers
# past U+10FFFF. feedparser's loose parser raises on them (chr() or UTF-8 encoding
# fails) instead of reporting the feed as bozo; found by tests/test_fuzz_feeds.py. The
# pattern finds candidates cheaply; `_replacement_character` decides.
_ODD_CHARREF = re.compile(
    rb"&#(?:[xX]0*(?:[dD][89a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{5,})"
    rb"|0*(?:5[5-7][0-9]{3}|[1-9][0-9]{6,}));"
)


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

    The entries whose keys are in `known` may come back without their text (title,
    summary, content, authors) when that saved work: the caller skips them anyway.
    """
    plain = _parse_plain(body, headers, url, known)
    if plain is not None:
        return plain
    if known:
        reduced = strip_known(body, headers, known)
        if reduced is not None:
            parsed = _parse_feedparser(reduced, headers, url)
            # An entry cut short must be one of the known: should feedparser have keyed
            # one otherwise, it would pass for new, and without its text. Parse it all.
            if all(e.key in known or e.summary or e.content for e in parsed.entries):
                return parsed
    return _parse_feedparser(body, headers, url)


def _parse_plain(
    body: bytes, headers: dict[str, str], url: str, known: frozenset[str] = frozenset()
) -> ParsedFeed | None:
    """Parse a plain feed with lxml (`crawler.plain_feed`); None when it is not plain."""
    raw = read_plain(_sane_references(body), headers)
    if raw is None:
        return None
    return ParsedFeed(
        title=_one_line(raw.title),
        language=_language(raw.language),
        ttl_s=_ttl(raw.ttl),
        entries=tuple(
            e for e in (_feed_entry(entry, url, known) for entry in raw.entries) if _usable(e)
        ),
        warning=None,
        malformed=False,
    )


def _parse_feedparser(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Parse any feed with feedparser."""
    body = _sane_references(body)
    try:
        # A stream, never a string: feedparser fetches strings that look like URLs or
        # paths itself, with no timeout (see DESIGN.md, "How an article flows").
        parsed: Any = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            # Text only is stored, so feedparser's HTML sanitiser and URI resolution
            # would be work thrown away; html_to_text drops scripts and markup itself.
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser reports bad input as bozo; this is its own bug
        raise FeedError(f"malformed feed: the parser failed ({type(exc).__name__})") from exc
    problem = parsed.get("bozo_exception")
    malformed = isinstance(problem, xml.sax.SAXException)
    entries = tuple(
        e
        for e in (_feed_entry(_raw_entry(raw), url) for raw in parsed.entries)
        if _usable(e, malformed)
    )
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
        malformed=malformed,
    )


def _sane_references(body: bytes) -> bytes:
    if b"&#" in body:
        return _ODD_CHARREF.sub(_replacement_character, body)
    return body


def _raw_entry(raw: Any) -> RawEntry:
    """Return the fields of one of feedparser's entries."""
    authors = tuple(a["name"] for a in raw.get("authors", []) if a.get("name"))
    if not authors and raw.get("author"):
        authors = (str(raw["author"]),)
    return RawEntry(
        guid=_string(raw.get("id")),
        link=_string(raw.get("link")),
        title=_string(raw.get("title")),
        summary=_string(raw.get("summary")),
        content=tuple(_string(part.get("value")) for part in raw.get("content") or []),
        authors=authors,
        # FeedParserDict.get maps a missing updated_parsed to published_parsed with a
        # DeprecationWarning (feedparser issue 310); dict.get looks without that fallback.
        published=raw.get("published_parsed") or dict.get(raw, "updated_parsed"),
    )


def _feed_entry(raw: RawEntry, feed_url: str, known: frozenset[str] = frozenset()) -> FeedEntry:
    guid = raw.guid or None
    link = _web_link(feed_url, raw.link)
    published_at = _time(raw.published)
    if guid and guid.strip() and link:
        key = entry_key(guid, link, "", "")
        if key in known:
            # The caller drops a known entry: only its key and date matter (the date to
            # the feed's rhythm), and its link keeps it from counting as empty.
            return FeedEntry(key, guid, link, "", "", "", (), published_at)
    title = html_to_text(raw.title)
    summary = html_to_text(raw.summary)
    content = "\n\n".join(html_to_text(part) for part in raw.content)
    return FeedEntry(
        key=entry_key(guid, link, title, summary),
        guid=guid,
        link=link,
        title=title,
        summary=summary if summary != content else "",
        content=content,
        authors=raw.authors,
        published_at=published_at,
    )


def _web_link(feed_url: str, link: str) -> str | None:
    """Return the entry's link made absolute, or None if it is not an http(s) URL."""
    if not link.strip():
        return None
    try:
        # Relative links are resolved against the feed's own URL (RSS best practice).
        absolute = urljoin(feed_url, link.strip())
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:  # "https://[host/...": not a URL at all (found by the fuzz test)
        return None
    # A javascript: or data: "link" is a script, not an address, for whoever renders
    # the export, and newswatch could not fetch it.
    return absolute if scheme in ("http", "https") else None


def _string(value: object) -> str:
    # A broken body can leave a key present with None (feedparser's loose parser does,
    # for an element cut short); found by tests/test_fuzz_feeds.py.
    return value if isinstance(value, str) else ""


def _replacement_character(found: re.Match[bytes]) -> bytes:
    """Return U+FFFD for a character reference that names no character, else it as is."""
    ref = found.group(0)[2:-1]
    code = int(ref[1:], 16) if ref[:1] in b"xX" else int(ref)
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else found.group(0)


def _usable(entry: FeedEntry, malformed: bool = False) -> bool:
    # A truncated feed can leave an empty last entry behind; it identifies nothing.
    if malformed and not (entry.guid or entry.link):
        # In a body that is not well-formed, an entry with neither GUID nor link is most
        # likely the one the cut fell in: keyed by its title alone, it would come back
        # whole, under its GUID, as a second article (found by bench/soak.py).
        return False
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
