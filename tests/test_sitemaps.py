"""Tests for sitemap parsing (crawler/sitemaps.py): no network, bytes in."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from crawler.exceptions import SitemapError
from crawler.sitemaps import parse_sitemap
from tests.newssite import sitemap_index, urlset

BASE = "https://herald.example/sitemap.xml"
WHEN = datetime(2024, 10, 14, 18, 5, tzinfo=UTC)


def test_a_news_sitemap_gives_publication_dates() -> None:
    body = urlset([("https://herald.example/news/a", WHEN), ("/news/b", None)], news=True)
    sitemap = parse_sitemap(body, BASE)
    assert not sitemap.is_index
    assert [(e.url, e.published_at) for e in sitemap.entries] == [
        ("https://herald.example/news/a", WHEN),
        ("https://herald.example/news/b", None),  # relative, resolved against the sitemap
    ]


def test_lastmod_is_the_modified_date() -> None:
    sitemap = parse_sitemap(urlset([("https://herald.example/a", WHEN)]), BASE)
    assert (sitemap.entries[0].published_at, sitemap.entries[0].modified_at) == (None, WHEN)
    assert sitemap.entries[0].newest_date == WHEN


def test_an_index_lists_sitemaps_and_gzip_is_undone() -> None:
    body = gzip.compress(sitemap_index(["https://herald.example/s1.xml.gz"]))
    sitemap = parse_sitemap(body, BASE)
    assert sitemap.is_index
    assert [e.url for e in sitemap.entries] == ["https://herald.example/s1.xml.gz"]


def test_an_image_loc_does_not_replace_the_page_loc() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        b'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><!-- c -->'
        b"<url><loc>https://herald.example/a</loc><image:image>"
        b"<image:loc>https://img.example/a.jpg</image:loc></image:image></url></urlset>"
    )
    assert [e.url for e in parse_sitemap(body, BASE).entries] == ["https://herald.example/a"]


def test_entities_are_not_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://herald.example/&x;</loc></url></urlset>"
    )
    urls = [e.url for e in parse_sitemap(body, BASE).entries]
    assert all("root:" not in url for url in urls)


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>Not found</body></html>", b"\x1f\x8b\x08not gzip at all"]
)
def test_what_is_not_a_sitemap_says_so(body: bytes) -> None:
    with pytest.raises(SitemapError, match="not a sitemap"):
        parse_sitemap(body, BASE)
