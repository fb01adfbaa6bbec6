"""Sitemaps: bytes in, the listed URLs and their dates out (sitemaps.org, Google News).

Handles `<urlset>` and `<sitemapindex>` documents, gzipped or not. `parse_sitemap` is
pure: it never fetches anything, and the XML parser resolves no entities and loads no
DTD (XXE, billion laughs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import lxml.etree

from crawler.exceptions import SitemapError
from crawler.page_meta import parse_date

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One `<url>` or `<sitemap>`: its location, and the best date the sitemap gives.

    `published_at` is the Google News `news:publication_date` when there is one;
    `modified_at` is `lastmod`.
    """

    url: str
    published_at: datetime | None = None
    modified_at: datetime | None = None

    @property
    def newest_date(self) -> datetime | None:
        """Return the date that bounds the article's age from below."""
        return self.published_at or self.modified_at


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: an index of other sitemaps, or a set of page URLs."""

    is_index: bool
    entries: tuple[SitemapEntry, ...]


def parse_sitemap(body: bytes, url: str, max_size: int = 0) -> Sitemap:
    """Parse a sitemap or sitemap index, gunzipping it first when it is gzipped."""
    if body.startswith(_GZIP_MAGIC):
        # Imported here: importing any part of Scrapy imports all of it, Twisted too, some
        # 25 MB that the worker processes need only for a gzipped sitemap.
        from scrapy.utils.gz import gunzip

        try:
            body = gunzip(body, max_size=max_size)
        except (OSError, EOFError, ValueError) as exc:
            raise SitemapError(f"not a sitemap: bad gzip data ({exc})") from None
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
    )
    try:
        root = lxml.etree.fromstring(body, parser)
    except lxml.etree.LxmlError as exc:
        raise SitemapError(f"not a sitemap: {exc}") from None
    if root is None:
        raise SitemapError("not a sitemap: the body is empty")
    kind = lxml.etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap: the root element is <{kind}>")
    now = datetime.now(UTC)
    entries = []
    for element in root:
        if not isinstance(element.tag, str):
            continue  # a comment or processing instruction
        fields: dict[str, lxml.etree._Element] = {}
        for child in element.iter(lxml.etree.Element):  # document order: the own <loc> first
            fields.setdefault(lxml.etree.QName(child).localname, child)
        loc = _text(fields.get("loc"))
        if not loc:
            continue
        entries.append(
            SitemapEntry(
                url=urljoin(url, loc),
                published_at=parse_date(_text(fields.get("publication_date")), now),
                modified_at=parse_date(_text(fields.get("lastmod")), now),
            )
        )
    return Sitemap(kind == "sitemapindex", tuple(entries))


def _text(element: lxml.etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None
