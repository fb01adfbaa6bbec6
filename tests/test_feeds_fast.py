"""Tests for the lxml reading of plain feeds (crawler/plain_feed.py, crawler/feeds.py).

The reading is differential: a plain feed read with lxml (`_parse_plain`) must give
exactly the `ParsedFeed` feedparser's reading (`_parse_feedparser`) gives, entry keys
above all, since a different key makes a stored entry look new. Hypothesis builds RSS
2.0 and Atom feeds full of what feeds carry (HTML, entities, CDATA, relative links,
dates in many formats, authors, content:encoded, duplicate and non-permalink guids) and
mutates sample feeds; hand-written feeds that lxml must not read (the fast path falls
back to feedparser for the whole feed) check that it does.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.exceptions import FeedError
from crawler.feeds import ParsedFeed, _parse_feedparser, _parse_plain, parse_feed
from tests.feedserver import load_feed
from tests.test_fuzz_feeds import CONTENT_TYPES, mutated

URL = "https://feeds.example/news/feed.xml"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}
ATOM = {"content-type": "application/atom+xml; charset=utf-8"}
NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
)


def feedparser_reading(body: bytes, headers: dict[str, str]) -> ParsedFeed | str:
    """Return feedparser's reading, or the FeedError it ends in."""
    try:
        return _parse_feedparser(body, headers, URL)
    except FeedError as exc:
        return f"FeedError: {exc}"


def assert_same_reading(body: bytes, headers: dict[str, str], *, plain: bool) -> None:
    """Assert lxml reads the feed as feedparser does, and whether it reads it at all."""
    fast = _parse_plain(body, headers, URL)
    assert (fast is not None) == plain, body.decode("utf-8", "replace")
    if fast is not None:
        assert fast == feedparser_reading(body, headers)
        assert parse_feed(body, headers, URL) == fast


# --- generated feeds ---------------------------------------------------------------------

# Text as feeds carry it, once the XML is read: words, HTML, entities, odd characters.
PIECES = [
    "North Korea",
    "troops",
    "Kursk",
    "  ",
    "\n",
    "\t",
    "<b>bold</b>",
    "<p>",
    "</p>",
    "<br/>",
    '<a href="/relative/path?a=1&amp;b=2">link</a>',
    '<img src="x.jpg" alt="photo">',
    "<script>alert(1)</script>",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&#233;",
    "&#x2019;",
    "&eacute;",
    "Tom & Jerry",
    "5 < 6",
    "été",
    "Ã©",  # UTF-8 read as Latin-1, which feedparser repairs
    "\x93quoted\x94",  # C1 controls, which feedparser maps to windows-1252
    "\u2028",
    "日本語",
    "emoji \U0001f600",
    "]]>",
]
text = st.lists(st.sampled_from(PIECES), max_size=6).map("".join) | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), max_size=20
)


@st.composite
def xml_text(draw: st.DrawFn, value: str) -> str:
    """Return `value` as XML character data: escaped, as character references, or CDATA."""
    how = draw(st.sampled_from(["escape", "cdata", "references"]))
    if how == "cdata" and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    escaped = escape(value)
    if how == "references":
        return "".join(f"&#{ord(c)};" if ord(c) > 127 or c == '"' else c for c in escaped)
    return escaped


WHEN = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DATES = [
    "Sun, 01 Nov 2026 10:00:00 GMT",
    "Sun, 1 Nov 2026 10:00 EST",
    "01 Nov 26 10:00:00 +0530",
    "Sunday, 01-Nov-26 10:00:00 PDT",
    "Sun, 01 Nov 2026 10:00:00 Z",
    "Sun, 01 Nov 2026 10:00:00 CEST",
    "Sun Nov  1 10:00:00 2026",
    "2026-11-01T10:00:00Z",
    "2026-11-01T10:00:00.123+02:00",
    "2026-11-01",
    "2026-11-01 10:00:00",
    "20261101T100000Z",
    "Tue, 30 Feb 2026 10:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "yesterday, around noon",
    "",
]
dates = st.sampled_from(DATES) | st.builds(
    lambda hours, offset, iso: (
        (WHEN + timedelta(hours=hours)).astimezone(timezone(timedelta(minutes=offset))).isoformat()
        if iso
        else format_datetime(
            (WHEN + timedelta(hours=hours)).astimezone(timezone(timedelta(minutes=offset)))
        )
    ),
    st.integers(-10_000, 10_000),
    st.sampled_from([0, 60, -300, 330, 765]),
    st.booleans(),
)
PERMALINK = ["false", "true", "True"]  # feedparser takes only "true" for true
links = st.sampled_from(
    [
        "https://feeds.example/story/1",
        "https://feeds.example/story/1",  # duplicates across entries are common
        " https://feeds.example/story/2 ",
        "/story/relative",
        "story/relative?x=1&y=2",
        "http:///feeds.example/triple-slash",
        "https://feeds.example/q?a=1&amp;b=2",
        "https://feeds.example/q?a=1&b;=2",
        "https://feeds.example/é",
        "javascript:alert(1)",
        "urn:uuid:6f1c9a52-3c6e-4d8e",
        "tag:feeds.example,2026:1",
        "",
    ]
)
guids = links | st.sampled_from(["id-1", "id-2", "  id-3  ", "Ã©-id"])
authors = st.sampled_from(
    [
        "Jane Doe",
        "jane@example.org (Jane Doe)",
        "jane@example.org",
        "Jane Doe <jane@example.org>",
        "(Jane)",
        "",
        "Reporter 7",
    ]
)
leaves = st.sampled_from(
    [
        "<category>World</category>",
        '<category domain="https://feeds.example/cat">Politics</category>',
        '<enclosure url="https://feeds.example/a.mp3" length="1" type="audio/mpeg"/>',
        "<comments>https://feeds.example/comments</comments>",
        "<slash:comments>4</slash:comments>",
        '<media:thumbnail url="https://feeds.example/t.jpg"/>',
        '<media:content url="https://feeds.example/v.mp4" medium="video"/>',
        "<!-- a comment -->",
    ]
)


def element(tag: str, value: str, attributes: str = "") -> str:
    return f"<{tag}{attributes}>{value}</{tag}>"


@st.composite
def rss_item(draw: st.DrawFn) -> str:
    children: list[str] = []
    if draw(st.booleans()):
        children.append(element("title", draw(xml_text(draw(text)))))
    if draw(st.booleans()):
        children.append(element("link", escape(draw(links))))
    if draw(st.booleans()):
        permalink = draw(st.sampled_from(["", *(f' isPermaLink="{v}"' for v in PERMALINK)]))
        children.append(element("guid", escape(draw(guids)), permalink))
    for tag in draw(st.lists(st.sampled_from(["pubDate", "dc:date"]), max_size=2)):
        children.append(element(tag, escape(draw(dates))))
    if draw(st.booleans()):
        children.append(element("description", draw(xml_text(draw(text)))))
    if draw(st.booleans()):
        children.append(element("content:encoded", draw(xml_text(draw(text)))))
    for tag in draw(st.lists(st.sampled_from(["dc:creator", "author"]), max_size=3)):
        children.append(element(tag, escape(draw(authors))))
    children.extend(draw(st.lists(leaves, max_size=3)))
    order = draw(st.permutations(children))
    return element("item", "\n  ".join(order))


@st.composite
def rss_feed(draw: st.DrawFn, items: st.SearchStrategy[str]) -> bytes:
    channel = [element("title", draw(xml_text(draw(text)))), "<link>https://feeds.example/</link>"]
    if draw(st.booleans()):
        channel.append(element("language", draw(st.sampled_from(["en-GB", "fr", "pt_BR", ""]))))
    if draw(st.booleans()):
        channel.append(element("ttl", draw(st.sampled_from(["60", " 15 ", "0", "soon"]))))
    channel.append('<atom:link rel="self" href="https://feeds.example/feed.xml"/>')
    channel.extend(draw(st.lists(items, max_size=6)))
    lang = draw(st.sampled_from(["", ' xml:lang="de"', ' xml:lang=""']))
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {NAMESPACES}{lang}>'
        f"<channel>{''.join(channel)}</channel></rss>"
    ).encode()


def text_type() -> st.SearchStrategy[str]:
    return st.sampled_from(["", ' type="text"', ' type="html"'])


@st.composite
def atom_entry(draw: st.DrawFn) -> str:
    children: list[str] = []
    if draw(st.booleans()):
        children.append(element("title", draw(xml_text(draw(text))), draw(text_type())))
    if draw(st.booleans()):
        children.append(element("id", escape(draw(guids))))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["", ' type="text/html"', ' type="html"']))
        children.append(f'<link rel="alternate" href={quoteattr(draw(links))}{kind}/>')
    for rel in draw(st.lists(st.sampled_from(["self", "enclosure", "related"]), max_size=2)):
        children.append(f'<link rel="{rel}" href="https://feeds.example/{rel}"/>')
    for tag in draw(st.lists(st.sampled_from(["published", "updated"]), max_size=2)):
        children.append(element(tag, escape(draw(dates))))
    if draw(st.booleans()):
        children.append(element("summary", draw(xml_text(draw(text))), draw(text_type())))
    if draw(st.booleans()):
        children.append(element("content", draw(xml_text(draw(text))), draw(text_type())))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["Jane Doe", "  Reporter 3 ", "Ã©mile"]))
        parts = [element("name", escape(name))]
        if draw(st.booleans()):
            parts.append("<email>jane@example.org</email>")
        if draw(st.booleans()):
            parts.append("<uri>https://feeds.example/jane</uri>")
        children.append(element("author", "".join(draw(st.permutations(parts)))))
    if draw(st.booleans()):
        children.append('<category term="world"/>')
    return element("entry", "\n  ".join(draw(st.permutations(children))))


@st.composite
def atom_feed(draw: st.DrawFn, entries: st.SearchStrategy[str]) -> bytes:
    lang = draw(st.sampled_from(["", ' xml:lang="en"', ' xml:lang="pt_BR"']))
    head = [
        element("title", draw(xml_text(draw(text))), draw(text_type())),
        "<id>tag:feeds.example,2026:feed</id>",
        "<updated>2026-11-01T10:00:00Z</updated>",
        '<link rel="alternate" href="https://feeds.example/"/>',
        "<author><name>The Desk</name></author>",
    ]
    body = "".join(head + draw(st.lists(entries, max_size=6)))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{lang}>{body}</feed>'
    ).encode()


headers = st.sampled_from([RSS, ATOM, {"content-type": "application/xml"}]) | st.builds(
    lambda language: {**RSS, "content-language": language}, st.sampled_from(["en", "de_AT", ""])
)
DIFFERENTIAL = settings(
    max_examples=200, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)


@given(body=rss_feed(rss_item()), response_headers=headers)
@DIFFERENTIAL
def test_plain_rss_is_read_as_feedparser_reads_it(
    body: bytes, response_headers: dict[str, str]
) -> None:
    assert_same_reading(body, response_headers, plain=True)


@given(body=atom_feed(atom_entry()), response_headers=headers)
@DIFFERENTIAL
def test_plain_atom_is_read_as_feedparser_reads_it(
    body: bytes, response_headers: dict[str, str]
) -> None:
    assert_same_reading(body, response_headers, plain=True)


# What a feed may hold besides, plain or not: each either is read as feedparser reads it
# or sends the whole feed to feedparser.
EXTRAS = [
    "<title>A second title</title>",
    "<title></title>",
    "<link>https://feeds.example/second</link>",
    "<description>Second description</description>",
    "<guid>second-guid</guid>",
    "<content:encoded>second content</content:encoded>",
    "<summary>an RSS summary</summary>",
    "<media:description>media text</media:description>",
    "<media:title>media title</media:title>",
    "<itunes:summary>podcast text</itunes:summary>",
    "<dc:title>dc title</dc:title>",
    "<dc:description>dc text</dc:description>",
    "<source url='https://other.example/'>Other</source>",
    "<title>with <b>markup</b> inside</title>",
    "<title>with <!-- a comment --> inside</title>",
    '<title type="xhtml">typed</title>',
    '<link href="https://feeds.example/atomish"/>',
    '<atom:link rel="alternate" href="https://feeds.example/atom-link"/>',
    "<author><name>Named</name></author>",
    "<authors>Many</authors>",
    "<published_parsed>x</published_parsed>",
    '<enclosure url="x" base="https://elsewhere.example/"/>',
    "<category><title>nested</title></category>",
    "<foo:bar xmlns:foo='https://unknown.example/'>x</foo:bar>",
    "<content xmlns='https://unknown.example/'>default namespace</content>",
    "<Title>Case</Title>",
    "<guid isPermaLink='True'>https://feeds.example/capital-true</guid>",
    "<guid ISPERMALINK='false'>https://feeds.example/upper-attribute</guid>",
    "<pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate>",
    "<ttl>5</ttl>",
    "<language>xx</language>",
    "<dc:creator>jo@example.org (Jo)</dc:creator>",
    "<managingEditor>ed@example.org</managingEditor>",
    "<comments>https://feeds.example/c</comments>",
]
CHANNEL_EXTRAS = [
    "<title>A second feed title</title>",
    "<image><title>Logo</title><url>https://feeds.example/logo.png</url>"
    "<link>https://feeds.example/</link></image>",
    "<image><title>Logo</title><foo>x</foo></image>",
    "<textInput><title>Search</title><name>q</name></textInput>",
    "<dc:language>fr</dc:language>",
    "<dc:title>dc feed title</dc:title>",
    "<ttl unit='minutes'>30</ttl>",
    "<itunes:author>Pod</itunes:author>",
    "<sy:updatePeriod>hourly</sy:updatePeriod>",
    "<content:encoded>channel content</content:encoded>",
    "<cloud domain='rpc.example' port='80' path='/RPC2' registerProcedure='x' protocol='xml-rpc'/>",
]
EXTRA_NAMESPACES = (
    ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
)


@st.composite
def rss_item_with_extras(draw: st.DrawFn) -> str:
    item = draw(rss_item())
    extras = "".join(draw(st.lists(st.sampled_from(EXTRAS), max_size=2)))
    at = draw(st.sampled_from([len("<item>"), len(item) - len("</item>")]))
    return item[:at] + extras + item[at:]


@st.composite
def rss_feed_with_extras(draw: st.DrawFn) -> bytes:
    body = draw(rss_feed(rss_item_with_extras())).decode()
    body = body.replace(NAMESPACES, NAMESPACES + EXTRA_NAMESPACES)
    for extra in draw(st.lists(st.sampled_from(CHANNEL_EXTRAS), max_size=2)):
        at = draw(st.sampled_from(["<channel>", "</channel>"]))
        body = body.replace(at, at + extra if at == "<channel>" else extra + at)
    return body.encode()


@given(body=rss_feed_with_extras(), response_headers=headers)
@DIFFERENTIAL
def test_rss_with_anything_else_is_read_as_feedparser_reads_it_or_left_to_it(
    body: bytes, response_headers: dict[str, str]
) -> None:
    fast = _parse_plain(body, response_headers, URL)
    if fast is not None:
        assert fast == feedparser_reading(body, response_headers)


ATOM_EXTRAS = [
    "<title>second</title>",
    "<id>second-id</id>",
    '<link rel="alternate" href="https://feeds.example/second"/>',
    '<link href="https://feeds.example/no-rel"/>',
    '<link rel="alternate" type="application/pdf" href="https://feeds.example/pdf"/>',
    "<link>https://feeds.example/text-link</link>",
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content>',
    '<content src="https://feeds.example/out"/>',
    '<content type="text/markdown">*md*</content>',
    '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></summary>',
    "<author><email>only@example.org</email></author>",
    "<author>Just text</author>",
    "<author><name></name></author>",
    "<contributor><name>Helper</name></contributor>",
    "<source><title>Elsewhere</title></source>",
    "<rights>CC</rights>",
    "<issued>2026-11-01T10:00:00Z</issued>",
    "<modified>2026-11-01T10:00:00Z</modified>",
    '<media:group xmlns:media="http://search.yahoo.com/mrss/"><media:title>t</media:title>'
    "</media:group>",
    '<dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">Dee</dc:creator>',
]


@st.composite
def atom_entry_with_extras(draw: st.DrawFn) -> str:
    entry = draw(atom_entry())
    extras = "".join(draw(st.lists(st.sampled_from(ATOM_EXTRAS), max_size=2)))
    at = draw(st.sampled_from([len("<entry>"), len(entry) - len("</entry>")]))
    return entry[:at] + extras + entry[at:]


@given(body=atom_feed(atom_entry_with_extras()), response_headers=headers)
@DIFFERENTIAL
def test_atom_with_anything_else_is_read_as_feedparser_reads_it_or_left_to_it(
    body: bytes, response_headers: dict[str, str]
) -> None:
    fast = _parse_plain(body, response_headers, URL)
    if fast is not None:
        assert fast == feedparser_reading(body, response_headers)


@given(
    body=mutated(),
    response_headers=st.fixed_dictionaries({"content-type": st.sampled_from(CONTENT_TYPES)}),
)
@settings(max_examples=300, deadline=timedelta(seconds=5))
def test_mutated_samples_are_read_as_feedparser_reads_them_or_left_to_it(
    body: bytes, response_headers: dict[str, str]
) -> None:
    fast = _parse_plain(body, response_headers, URL)
    if fast is not None:
        assert fast == feedparser_reading(body, response_headers)


@given(body=rss_feed(rss_item()) | atom_feed(atom_entry()), seed=st.integers(0, 2**32))
@DIFFERENTIAL
def test_known_entries_keep_their_keys_and_dates_and_new_ones_come_whole(
    body: bytes, seed: int
) -> None:
    whole = _parse_feedparser(body, RSS, URL)
    guid_keys = sorted({e.key for e in whole.entries if e.key.startswith("guid:")})
    known = frozenset(random.Random(seed).sample(guid_keys, len(guid_keys) // 2))

    cut = parse_feed(body, RSS, URL, known)

    assert [e.key for e in cut.entries] == [e.key for e in whole.entries]
    assert [e.published_at for e in cut.entries] == [e.published_at for e in whole.entries]
    for before, after in zip(whole.entries, cut.entries, strict=True):
        if before.key not in known:
            assert after == before
    assert (cut.title, cut.language, cut.ttl_s) == (whole.title, whole.language, whole.ttl_s)


# --- hand-written feeds ------------------------------------------------------------------


def rss(items: str, channel: str = "", root: str = "", namespaces: str = NAMESPACES) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {namespaces}{root}>'
        f"<channel><title>News</title>{channel}{items}</channel></rss>"
    ).encode()


def atom(entries: str, root: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        f"{root}><title>News</title><id>tag:feeds.example,2026:f</id>{entries}</feed>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (load_feed("samples.rss.xml"), RSS),
        (load_feed("samples.atom.xml"), ATOM),
        (load_feed("html_summary.xml"), RSS),
        (load_feed("entry_keys.xml"), RSS),
        (rss("<item><guid>https://feeds.example/permalink</guid></item>"), RSS),
        (rss("<item><guid isPermaLink='false'>x</guid><title>t</title></item>"), RSS),
        (rss("<item><content:encoded>&lt;p&gt;Only&lt;/p&gt;</content:encoded></item>"), RSS),
        (atom("<entry><id>https://feeds.example/id-as-link</id></entry>"), ATOM),
        (atom("<entry><content>body</content><summary>sum</summary></entry>"), ATOM),
        (rss("<item><dc:creator>jo@example.org (Jo)</dc:creator><title>t</title></item>"), RSS),
        (rss("<item><title>\x93Ã©\x94</title></item>"), RSS),
        (rss("<item><title>t</title></item>", root=' xml:lang="pt_BR"'), RSS),
        (rss("", channel="<language>fr-CA</language><ttl>30</ttl>"), RSS),
        (rss("<item><title>t</title></item>"), {**RSS, "content-language": "de"}),
        # Decoded by feedparser's own convert_to_utf8 before lxml reads it:
        (load_feed("latin1.xml"), {"content-type": "application/rss+xml"}),
        (rss("<item><title>t</title></item>"), {"content-type": "text/xml"}),  # ASCII
    ],
    ids=[
        "samples-rss",
        "samples-atom",
        "html-summary",
        "entry-keys",
        "permalink-guid",
        "guid-not-permalink",
        "content-only",
        "atom-id-as-link",
        "atom-content-then-summary",
        "author-line",
        "mojibake",
        "xml-lang",
        "language-ttl",
        "content-language",
        "declared-latin-1",
        "ascii-text-xml",
    ],
)
def test_plain_feeds_take_the_fast_path(body: bytes, headers: dict[str, str]) -> None:
    assert_same_reading(body, headers, plain=True)


FALLBACKS: dict[str, tuple[bytes, dict[str, str]]] = {
    "xml-base": (load_feed("relative_links.atom"), ATOM),
    "doctype": (load_feed("xxe.xml"), RSS),
    "truncated": (load_feed("truncated.xml"), RSS),
    "xhtml-content": (
        atom(
            '<entry><id>a</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "<p>x</p></div></content></entry>"
        ),
        ATOM,
    ),
    "two-alternate-links": (
        atom(
            '<entry><id>a</id><link rel="alternate" href="https://feeds.example/1"/>'
            '<link href="https://feeds.example/2"/></entry>'
        ),
        ATOM,
    ),
    "two-guids": (rss("<item><guid>a</guid><guid>b</guid></item>"), RSS),
    "two-titles": (rss("<item><title></title><title>second</title></item>"), RSS),
    "media-description": (
        rss("<item><title>t</title><media:description>text</media:description></item>"),
        RSS,
    ),
    "itunes-summary": (
        rss(
            "<item><title>t</title><itunes:summary>text</itunes:summary></item>",
            namespaces=NAMESPACES + EXTRA_NAMESPACES,
        ),
        RSS,
    ),
    "rss-0.91": (rss("<item><title>t</title></item>").replace(b'"2.0"', b'"0.91"'), RSS),
    "rdf": (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://feeds.example/">'
        b"<title>t</title></channel><item rdf:about='https://feeds.example/1'><title>x</title>"
        b"</item></rdf:RDF>",
        RSS,
    ),
    "utf-16": (rss("<item><title>t</title></item>").decode().encode("utf-16"), RSS),
    "header-charset": (rss("<item><title>é</title></item>"), {"content-type": "text/xml"}),
    "encoding-name": (load_feed("latin1.xml").replace(b"ISO", b"\xc9SO"), RSS),
    "not-xml-content-type": (rss("<item><title>t</title></item>"), {"content-type": "text/html"}),
    "content-location": (
        rss("<item><link>relative</link></item>"),
        {**RSS, "content-location": "https://elsewhere.example/"},
    ),
    "entity": (rss("<item><title>&nbsp;</title></item>"), RSS),
    "base-attribute": (
        rss("<item><enclosure url='a.mp3' base='https://elsewhere.example/'/></item>"),
        RSS,
    ),
    "prefix-taken": (
        rss(
            "<item><title>t</title></item>",
            namespaces='xmlns:dc="http://purl.org/rss/1.0/modules/content/"',
        ),
        RSS,
    ),
    "unknown-namespace": (
        rss("<item><title>t</title><x:y xmlns:x='https://x.example/'>z</x:y></item>"),
        RSS,
    ),
    "markup-in-title": (rss("<item><title>a <b>b</b></title></item>"), RSS),
    "markup-in-link": (
        rss("<item><guid>a</guid><link><title>t</title>https://n.example/a</link></item>"),
        RSS,
    ),
    "rss-source": (rss("<item><source url='https://o.example/'>O</source></item>"), RSS),
    "item-outside-channel": (
        b'<rss version="2.0"><channel><title>t</title></channel><item><link>x</link></item></rss>',
        RSS,
    ),
    "author-without-name": (
        atom("<entry><id>a</id><author><email>e@example.org</email></author></entry>"),
        ATOM,
    ),
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_feeds_that_are_not_plain_are_left_to_feedparser(name: str) -> None:
    body, headers = FALLBACKS[name]
    assert _parse_plain(body, headers, URL) is None
    try:
        parsed: ParsedFeed | str = parse_feed(body, headers, URL)
    except FeedError as exc:
        parsed = f"FeedError: {exc}"
    assert parsed == feedparser_reading(body, headers)
