"""Tests for a page's title and date (crawler/page_meta.py) and undeclared encodings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.html
import pytest

from crawler.extraction import decode_html, extract_page
from crawler.page_meta import best_title, page_meta, strip_site_name
from tests.newssite import RUSSIAN_TEXT, RUSSIAN_TITLE, Article, article_page, story

NOW = datetime(2024, 10, 20, 12, 0, tzinfo=UTC)


def meta_of(
    head: str, body: str = "", url: str = "https://n.example/a"
) -> tuple[str, object, object]:
    root = lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")
    found = page_meta(root, url, NOW)
    return found.title, found.published_at, found.published_from


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Ferry strike called off | The Herald", "The Herald", "Ferry strike called off"),
        ("Ferry strike called off \u2013 The Herald", None, "Ferry strike called off"),
        ("The Herald | Ferry strike called off", "The Herald", "Ferry strike called off"),
        (
            "Ferry strike - what it means - Local - The Herald",
            "The Herald",
            "Ferry strike - what it means - Local",
        ),
        ("Ferry strike called off", None, "Ferry strike called off"),
    ],
)
def test_the_site_name_is_stripped_from_the_title(
    title: str, site: str | None, expected: str
) -> None:
    assert strip_site_name(title, site, ()) == expected


def test_the_title_most_sources_agree_on_wins() -> None:
    # og:title is a social-media variant; JSON-LD, <h1> and <title> agree.
    assert (
        best_title(
            json_ld="Bridge closure extended",
            og_title="Bridge closure extended (photos)",
            h1="Bridge closure extended",
            title="Bridge closure extended | Gazette",
            site_name=None,
        )
        == "Bridge closure extended"
    )
    assert (
        best_title(json_ld=None, og_title=None, h1="LIVE: Storm", title="Storm", site_name=None)
        == "LIVE: Storm"
    )


def test_dates_are_kept_with_where_they_came_from() -> None:
    ld = '<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",'
    ld += '"datePublished":"2024-10-14T18:05:00+02:00"}</script>'
    meta = '<meta property="article:published_time" content="2024-10-13T08:00:00Z">'
    assert meta_of(ld + meta)[1:] == (datetime(2024, 10, 14, 16, 5, tzinfo=UTC), "json-ld")
    assert meta_of(meta)[1:] == (datetime(2024, 10, 13, 8, tzinfo=UTC), "meta")
    url = "https://n.example/2024/10/12/story"
    assert meta_of("", url=url)[1:] == (datetime(2024, 10, 12, tzinfo=UTC), "url")
    assert meta_of("")[1:] == (None, None)


def json_ld(published: str) -> str:
    data = f'{{"@type":"Article","datePublished":"{published}"}}'
    return f'<script type="application/ld+json">{data}</script>'


def test_a_date_more_than_a_day_ahead_is_rejected() -> None:
    ahead = (NOW + timedelta(days=3)).isoformat()
    near = (NOW + timedelta(hours=20)).isoformat()
    meta = '<meta property="article:published_time" content="2024-10-13T08:00:00Z">'
    ld = json_ld(ahead)
    assert meta_of(ld + meta)[1:] == (datetime(2024, 10, 13, 8, tzinfo=UTC), "meta")
    ld = json_ld(near)
    assert meta_of(ld)[2] == "json-ld"


def test_extraction_reports_title_date_and_provenance() -> None:
    when = datetime(2024, 10, 14, 18, 5, tzinfo=UTC)
    article = story("/news/x", "Lighthouse sold to a trust", "the lighthouse", "Westpoint", when)
    page = extract_page(
        article_page(article, "https://herald.example"), "https://herald.example/news/x"
    )
    assert page is not None
    assert page.title == "Lighthouse sold to a trust"
    assert (page.published_at, page.published_from) == (when, "json-ld")
    assert page.canonical_url == "https://herald.example/news/x"


def test_an_undeclared_non_utf8_page_is_decoded_by_detection() -> None:
    article = Article("/ru", RUSSIAN_TITLE, RUSSIAN_TEXT, NOW, language="ru")
    body = article_page(article, "https://ru.example", charset_meta=None).encode("windows-1251")
    text = decode_html(body)
    assert RUSSIAN_TITLE in text
    assert decode_html("Zoë".encode()) == "Zoë"
