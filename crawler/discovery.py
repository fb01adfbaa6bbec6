"""Feed discovery: is this URL a feed, or a page that names its feeds?"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from crawler.exceptions import FeedError
from crawler.feeds import parse_feed

# The types a page's <link rel="alternate"> uses for its feeds.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+xml",
        "application/xml",
        "text/xml",
    }
)


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed found at or through a URL, with the title it gives itself."""

    url: str
    title: str


def feed_links(body: bytes, headers: dict[str, str], url: str) -> list[FeedLink]:
    """Return the feed itself when the body is one, else the feeds the page links to.

    Page links come from `<link rel="alternate" type="application/rss+xml" href=...>` and
    its Atom and RDF kin, resolved against the page URL (and its `<base href>`).
    """
    try:
        feed = parse_feed(body, headers, url)
    except FeedError:
        pass
    else:
        return [FeedLink(url, feed.title)]
    try:
        root = lxml.html.document_fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = root.xpath("string(//base/@href)") or url
    found: dict[str, FeedLink] = {}
    for link in root.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            href = urljoin(urljoin(url, base), link.get("href").strip())
            if href.startswith(("http://", "https://")) and href not in found:
                found[href] = FeedLink(href, " ".join((link.get("title") or "").split()))
    return list(found.values())
