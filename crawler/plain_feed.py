"""Plain feeds read with lxml, field for field as feedparser reads them.

feedparser spends some 20 ms on a 50-entry feed here, most of it in its SAX handlers;
lxml reads the same document in well under one. Most feeds are plain: UTF-8 RSS 2.0 or
Atom 1.0 with one title, link, id, description or content per entry. For those,
`read_plain` gives the values feedparser's strict (well-formed XML) parser would give
for the fields `crawler.feeds` keeps: the same text, with feedparser's own fix-ups
(whitespace stripped, its `_urljoin` on links and ids, its UTF-8-read-as-Latin-1 and
windows-1252 repairs), its own date parser, its own author-line parser and its own
encoding detection (`convert_to_utf8`, which also says whether feedparser would have
reported a problem).

It reads only what it is certain feedparser reads the same way, and raises nothing:
anything else returns None, and the whole feed goes to feedparser. That is any element
it does not know (an unknown one could be mapped onto a field: `media:description` and
`itunes:summary` become the summary, `dc:title` the title), a known element where
feedparser's result depends on order or on several candidates (two titles, links,
descriptions or ids, more than one alternate Atom link), attributes that change
feedparser's reading (`xml:base`, `type="xhtml"`, `src`, `rdf:about`...), markup or
comments inside a text element, RSS other than 2.x, RDF, a DOCTYPE, a declared
namespace prefix that feedparser would map onto another, and any encoding or content
type feedparser would warn about. tests/test_feeds_fast.py compares both readings.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import lxml.etree
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urifixer, _urljoin
from feedparser.util import FeedParserDict

from crawler.feed_scan import plain_root

_ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_DCTERMS = "{http://purl.org/dc/terms/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# What feedparser does with an entry's child, for the children read here. "title",
# "link", "summary", "content" and "guid" may come once; dates and authors any number
# of times (the last date wins, authors add up).
_RSS_ENTRY = {
    "title": "title",
    "link": "link",
    "description": "summary",
    "guid": "guid",
    "pubDate": "published",
    "author": "author",
    f"{_DC}creator": "author",
    f"{_DC}date": "updated",
    f"{_DCTERMS}modified": "updated",
    f"{_DCTERMS}issued": "published",
    f"{_CONTENT}encoded": "content",
}
_ATOM_ENTRY = {
    f"{_ATOM}title": "title",
    f"{_ATOM}link": "atom_link",
    f"{_ATOM}summary": "summary",
    f"{_ATOM}content": "content",
    f"{_ATOM}id": "guid",
    f"{_ATOM}published": "published",
    f"{_ATOM}updated": "updated",
    f"{_ATOM}author": "author",
    f"{_DC}creator": "author",
}
# Children without children of their own that feedparser files under keys of their own
# (tags, enclosures, media, comment counts...): they touch none of the fields read here.
_MEDIA = ("{http://search.yahoo.com/mrss/}", "{http://search.yahoo.com/mrss}")
_ENTRY_LEAVES = frozenset(
    {
        "category",
        "comments",
        "enclosure",
        f"{_ATOM}category",
        f"{_ATOM}rights",
        f"{_DC}subject",
        "{http://purl.org/rss/1.0/modules/slash/}comments",
        "{http://wellformedweb.org/CommentAPI/}commentRss",
        "{http://wellformedweb.org/CommentAPI/}comment",
        "{http://rssnamespace.org/feedburner/ext/1.0}origLink",
        *(f"{media}{tag}" for media in _MEDIA for tag in ("content", "thumbnail")),
    }
)
_SY = "{http://purl.org/rss/1.0/modules/syndication/}"
_CHANNEL_LEAVES = frozenset(
    {
        *("link", "description", "copyright", "managingEditor", "webMaster", "pubDate"),
        *("lastBuildDate", "category", "generator", "docs", "cloud", f"{_ATOM}link"),
        *(f"{_SY}updatePeriod", f"{_SY}updateFrequency", f"{_SY}updateBase"),
        *(f"{_DC}date", f"{_DC}rights", f"{_DC}publisher", f"{_DC}creator"),
    }
)
_FEED_LEAVES = frozenset(
    f"{_ATOM}{tag}"
    for tag in ("subtitle", "id", "updated", "link", "generator", "icon", "logo", "rights")
) | {f"{_ATOM}category"}
# An RSS <image> holds only elements feedparser files under feed.image.
_IMAGE_LEAVES = frozenset({"title", "url", "link", "width", "height", "description"})
# Atom text constructs read as their text: type="text" or "html" (feedparser's names).
_TEXT_TYPES = frozenset({"text", "plain", "html", "text/plain", "text/html"})
_ATOM_LINK_ATTRIBUTES = frozenset({"rel", "type", "href", "hreflang", "title", "length"})
# feedparser maps the namespaces it knows to prefixes of its own and looks elements up
# by those; a document prefix that is one of them but names another known namespace
# would send elements to other handlers. The pattern finds declarations in the bytes.
_KNOWN_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_OWN_PREFIXES = frozenset(_KNOWN_NAMESPACES.values()) - {""}
_DECLARATION = re.compile(rb"xmlns:([^\s=]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# feedparser turns "&amp;" left in a link into "&" and drops the ";" of what looks like
# an unknown entity (`?a=1&b;=2`), after its other fix-ups.
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")


class _NotPlain(Exception):
    """The feed holds something feedparser might read otherwise."""


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An entry's fields as feedparser gives them, before any text is made of them."""

    guid: str
    link: str
    title: str
    summary: str
    content: tuple[str, ...]
    authors: tuple[str, ...]
    published: time.struct_time | None


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A feed's fields as feedparser gives them."""

    title: str
    language: str | None
    ttl: str | None
    entries: tuple[RawEntry, ...]


def read_plain(body: bytes, headers: dict[str, str]) -> RawFeed | None:
    """Return what feedparser would read from a plain feed; None when it is not plain."""
    if headers.get("content-location"):
        return None  # feedparser would resolve links and ids against it
    outcome: dict[str, Any] = {}
    try:
        # feedparser's own decoding, so the bytes lxml reads are the ones expat would.
        data = convert_to_utf8(dict(headers), body, outcome)
    except Exception:  # e.g. an encoding name that is not UTF-8: feedparser's own bug
        return None
    if outcome.get("bozo") or not outcome.get("encoding") or not _prefixes_kept(data):
        return None
    root = plain_root(data, headers)
    if root is None:
        return None
    try:
        if root.tag == "rss":
            return _rss(root, headers)
        return _atom(root, headers)
    except _NotPlain:
        return None


def _prefixes_kept(data: bytes) -> bool:
    if b"xmlns:" not in data:
        return True
    for prefix, double, single in _DECLARATION.findall(data):
        name = prefix.decode("utf-8", "replace").lower()
        uri = (double or single).decode("utf-8", "replace").lower()
        if "backend.userland.com/rss" in uri:
            return False  # feedparser maps every such namespace onto RSS's own
        if name in _OWN_PREFIXES and _KNOWN_NAMESPACES.get(uri, name) != name:
            return False
    return True


def _rss(root: lxml.etree._Element, headers: dict[str, str]) -> RawFeed:
    if not root.get("version", "").startswith("2."):
        raise _NotPlain  # 0.9x and versionless RSS: feedparser's other variants
    channels = [child for child in root if isinstance(child.tag, str)]
    if len(channels) != 1 or channels[0].tag != "channel" or channels[0].attrib:
        raise _NotPlain  # items outside the channel, or CDF attributes on it
    title: str | None = None
    language = _root_language(root, headers, {"version"})
    ttl: str | None = None
    entries: list[RawEntry] = []
    for child in channels[0]:
        tag = child.tag
        if tag == "item":
            entries.append(_entry(child, _RSS_ENTRY))
        elif tag == "title":
            title = _once(title, _text(child))
        elif tag == "language":
            language = _text(child)
        elif tag == "ttl":
            ttl = _text(child)
        elif tag == "image":
            if child.attrib:
                raise _NotPlain
            for part in child:
                _leaf(part, _IMAGE_LEAVES)
        else:
            _leaf(child, _CHANNEL_LEAVES)
    return RawFeed(title or "", language, ttl, tuple(entries))


def _atom(root: lxml.etree._Element, headers: dict[str, str]) -> RawFeed:
    title: str | None = None
    language = _root_language(root, headers, set())
    entries: list[RawEntry] = []
    for child in root:
        tag = child.tag
        if tag == f"{_ATOM}entry":
            entries.append(_entry(child, _ATOM_ENTRY))
        elif tag == f"{_ATOM}title":
            title = _once(title, _text(child, typed=True))
        elif tag == f"{_ATOM}author":
            _author_name(child)  # the feed's own authors are not kept, only checked
        else:
            _leaf(child, _FEED_LEAVES)
    return RawFeed(title or "", language, None, tuple(entries))


def _root_language(
    root: lxml.etree._Element, headers: dict[str, str], allowed: set[str]
) -> str | None:
    """Return the language feedparser takes from Content-Language and the root's xml:lang."""
    if set(root.attrib) - allowed - {_XML_LANG}:
        raise _NotPlain  # a "lang" or "base" attribute, say
    language = root.get(_XML_LANG) or headers.get("content-language")  # xml:lang="": none
    return language.replace("_", "-") if language else None


@dataclass(slots=True)
class _Fields:
    """An entry's elements as they are met."""

    title: str | None = None
    link: str | None = None
    summary: str | None = None
    content: str | None = None
    guid: str | None = None
    guid_is_link: bool = False
    alternates: list[str] = field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    author_lines: list[str] = field(default_factory=list)  # <author>, dc:creator
    author_names: list[str] = field(default_factory=list)  # Atom's <author><name>


def _entry(item: lxml.etree._Element, known: dict[str, str]) -> RawEntry:
    if set(item.attrib) - {_XML_LANG}:
        raise _NotPlain  # rdf:about (an id), CDF's href and lastmod
    found = _Fields()
    atom = known is _ATOM_ENTRY
    for child in item:
        kind = known.get(child.tag)  # a comment's tag is a function: no kind either
        if kind is None:
            _leaf(child, _ENTRY_LEAVES)
        elif kind == "title":
            found.title = _once(found.title, _text(child, typed=atom))
        elif kind == "summary":
            found.summary = _once(found.summary, _text(child, typed=atom))
        elif kind == "content":
            found.content = _once(found.content, _text(child, typed=atom))
        elif kind == "link":
            found.link = _once(found.link, _link_text(child))
        elif kind == "atom_link":
            _atom_link(child, found)
        elif kind == "guid":
            _guid(child, found, atom)
        elif kind == "published":
            found.published = _text(child)
        elif kind == "updated":
            found.updated = _text(child)
        elif len(child):  # "author" with <name> and the like
            found.author_names.append(_author_name(child))
        else:
            found.author_lines.append(_text(child))
    return _raw_entry(found)


def _raw_entry(found: _Fields) -> RawEntry:
    if found.author_lines and found.author_names:
        raise _NotPlain  # feedparser's author state would carry from one to the next
    if len(found.alternates) > 1:
        raise _NotPlain  # several candidate links
    if found.alternates:
        link = found.alternates[0]
    elif found.link is not None:
        link = found.link  # a <link>, even empty, wins over a permalink guid
    elif found.guid is not None and found.guid_is_link:
        link = found.guid
    else:
        link = ""
    if found.author_names:
        authors = tuple(found.author_names)
    else:
        names = tuple(name for name in map(_line_name, found.author_lines) if name)
        last = found.author_lines[-1] if found.author_lines else ""
        authors = names or ((last,) if last else ())
    # feedparser copies the content to the summary when there is no summary.
    summary = found.summary if found.summary is not None else found.content
    return RawEntry(
        guid=found.guid or "",
        link=link,
        title=found.title or "",
        summary=summary or "",
        content=(found.content,) if found.content is not None else (),
        authors=authors,
        published=_parse_date(found.published) or _parse_date(found.updated),
    )


def _once(previous: str | None, value: str) -> str:
    if previous is not None:
        raise _NotPlain  # feedparser's choice between two depends on order and emptiness
    return value


def _leaf(element: lxml.etree._Element, allowed: frozenset[str]) -> None:
    """Check that feedparser files the element away from the fields read here."""
    if not isinstance(element.tag, str):
        return  # a comment or processing instruction: feedparser skips them
    if element.tag not in allowed or len(element):
        raise _NotPlain  # unknown, or with children that feedparser would read as its own
    for name in element.attrib:
        # Any element's base attribute moves feedparser's base URI for what follows.
        if name.rpartition("}")[2].lower() == "base":
            raise _NotPlain


def _text(element: lxml.etree._Element, *, typed: bool = False) -> str:
    """Return the element's text as feedparser's `pop` leaves it."""
    if len(element):
        raise _NotPlain  # markup or comments inside: feedparser reads them its own way
    if element.attrib:
        kind = element.get("type")
        if not typed or len(element.attrib) > 1 or kind is None or kind.lower() not in _TEXT_TYPES:
            raise _NotPlain  # type="xhtml", base64 content, src=...
    return _mended((element.text or "").strip())


def _link_text(element: lxml.etree._Element) -> str:
    if element.attrib:
        raise _NotPlain  # an href: feedparser reads it as an Atom link
    if len(element):
        raise _NotPlain  # markup inside: feedparser keeps the text around it (found by
        # tests/test_feeds_fast.py), where lxml's `text` stops at the first child
    link = _mended(_uri((element.text or "").strip()))
    if "&" not in link:
        return link
    return _LINK_ENTITY.sub(r"&\1", link.replace("&amp;", "&"))


def _atom_link(element: lxml.etree._Element, found: _Fields) -> None:
    attributes = element.attrib
    if len(element) or "href" not in attributes or set(attributes) - _ATOM_LINK_ATTRIBUTES:
        raise _NotPlain  # a text link, or url= / uri= that feedparser takes first
    rel = attributes.get("rel", "alternate").lower()
    default = "application/atom+xml" if rel == "self" else "text/html"
    kind = _FeedParserMixin.map_content_type(attributes.get("type", default).lower())
    if rel == "alternate" and kind in _FeedParserMixin.html_types:
        found.alternates.append(_uri(attributes["href"]))


def _guid(element: lxml.etree._Element, found: _Fields, atom: bool) -> None:
    if found.guid is not None or len(element) or set(element.attrib) - {"isPermaLink"}:
        raise _NotPlain
    if atom and element.attrib:
        raise _NotPlain
    # RSS 2.0: a guid is a permalink unless isPermaLink says otherwise; feedparser takes
    # an Atom id for one too (and so as the link of an entry without one).
    found.guid_is_link = element.get("isPermaLink", "true") == "true"
    text = (element.text or "").strip()
    found.guid = _mended(_uri(text) if found.guid_is_link else text)


def _author_name(element: lxml.etree._Element) -> str:
    """Return the name of an author given as <name>, <email> and <uri> children."""
    namespace = element.tag[: element.tag.index("}") + 1] if element.tag[0] == "{" else ""
    parts: dict[str, str] = {}
    for part in element:
        tag = part.tag
        if not isinstance(tag, str):
            raise _NotPlain
        name = tag[len(namespace) :] if tag.startswith(namespace) else ""
        if name not in ("name", "email", "uri") or name in parts or len(part) or part.attrib:
            raise _NotPlain
        if (part.tail or "").strip():
            raise _NotPlain
        parts[name] = (part.text or "").strip()  # feedparser keeps these as they are
    if element.attrib or (element.text or "").strip() or not parts.get("name"):
        # Without a name of its own, feedparser's author takes one from the last.
        raise _NotPlain
    return parts["name"]


class _AuthorContext:
    """The entry `_FeedParserMixin._sync_author_detail` reads an author line from."""

    def __init__(self, line: str) -> None:
        self.entry = FeedParserDict(author=line, authors=[FeedParserDict()])

    def _get_context(self) -> FeedParserDict:
        return self.entry


@lru_cache(maxsize=4096)
def _line_name(line: str) -> str:
    """Return the name feedparser finds in an author line ("jo@example.org (Jo)")."""
    context = _AuthorContext(line)
    # feedparser's own parser of author lines, run on an entry of one author.
    _FeedParserMixin._sync_author_detail(context)
    name: str = context.entry["authors"][-1].get("name") or ""
    return name


def _uri(text: str) -> str:
    """Return what feedparser's resolve_uri makes of a URI with no base URI to resolve by."""
    # With no base, that is only its fix of extra slashes ("http:///x"): skip the work
    # (a regular expression substitution) where its own pattern finds none.
    found = _urifixer.match(text)
    if found is None or not found.group(2):
        return text
    joined: str = _urljoin("", text)
    return joined


def _mended(text: str) -> str:
    """Return text with feedparser's repairs: UTF-8 read as Latin-1, windows-1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)
