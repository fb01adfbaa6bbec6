"""Tests for article extraction (crawler/extraction.py) on the pages in tests/data/pages."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from crawler.extraction import ExtractedPage, extract_page
from tests.feedserver import SAMPLE_ARTICLES, SampleArticle

FETCHED_FROM = "http://127.0.0.1:8765/articles/"


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def extracted() -> dict[str, ExtractedPage]:
    """Each sample page, extracted once for the module."""
    pages: dict[str, ExtractedPage] = {}
    for sample in SAMPLE_ARTICLES:
        page = extract_page(sample.html, FETCHED_FROM + sample.page)
        assert page is not None, sample.page
        pages[sample.page] = page
    return pages


SAMPLES = pytest.mark.parametrize("sample", SAMPLE_ARTICLES, ids=lambda s: s.page)


@SAMPLES
def test_main_text_is_kept_whole(
    sample: SampleArticle, extracted: dict[str, ExtractedPage]
) -> None:
    text = extracted[sample.page].text
    for paragraph in paragraphs(sample.text):
        assert paragraph in text


@SAMPLES
def test_boilerplate_is_dropped(sample: SampleArticle, extracted: dict[str, ExtractedPage]) -> None:
    text = extracted[sample.page].text
    leaked = [phrase for phrase in sample.boilerplate if phrase in text]
    assert leaked == []


@SAMPLES
def test_text_is_mostly_the_article(
    sample: SampleArticle, extracted: dict[str, ExtractedPage]
) -> None:
    # Allow a photo credit or caption, nothing like a second article's worth of chrome.
    assert len(extracted[sample.page].text) <= len(sample.text) * 1.15


@SAMPLES
def test_canonical_url_comes_from_the_page_not_the_fetch_url(
    sample: SampleArticle, extracted: dict[str, ExtractedPage]
) -> None:
    assert extracted[sample.page].canonical_url == sample.canonical_url


@SAMPLES
def test_title_language_date_and_author(
    sample: SampleArticle, extracted: dict[str, ExtractedPage]
) -> None:
    page = extracted[sample.page]
    assert page.title == sample.title
    assert page.language == sample.language
    assert page.published_at == sample.published
    # trafilatura tidies author names ("D. Michael" becomes "D Michael").
    assert page.authors
    assert page.authors[0].split()[-1] == sample.author.split()[-1]


def test_magazine_subscription_blurb_and_blog_byline_are_gone(
    extracted: dict[str, ExtractedPage],
) -> None:
    magazine = extracted["magazine_dprk.html"].text
    assert "Subscribe to the New American" not in magazine
    assert "What's Included?" not in magazine
    blog = extracted["blog_dprk.html"].text
    assert "2 min read" not in blog
    assert "Comments" not in blog
    assert not blog.startswith("DailyBuzzReports")


def test_extracted_pages_cross_process_boundaries(extracted: dict[str, ExtractedPage]) -> None:
    page = extracted["blog_dprk.html"]
    assert pickle.loads(pickle.dumps(page)) == page


# --- page variations -----------------------------------------------------------------------

BLOG = next(s for s in SAMPLE_ARTICLES if s.page == "blog_dprk.html")


def test_og_url_is_used_when_there_is_no_rel_canonical() -> None:
    html = BLOG.html.replace('rel="canonical"', 'rel="alternate"')
    page = extract_page(html, FETCHED_FROM + BLOG.page)
    assert page is not None
    assert page.canonical_url == BLOG.canonical_url  # the page's og:url says the same


def test_relative_canonical_url_is_resolved_against_the_page_url() -> None:
    html = (
        '<html lang="de-AT"><head><title>Titel</title>'
        '<link rel="canonical" href="/politik/artikel-1"></head>'
        "<body><article><h1>Titel</h1>"
        + "<p>Nordkorea schickt Truppen nach Russland, berichten Quellen in Kiew.</p>" * 8
        + "</article></body></html>"
    )
    page = extract_page(html, "https://zeitung.example/a/b?x=1")
    assert page is not None
    assert page.canonical_url == "https://zeitung.example/politik/artikel-1"
    assert page.language == "de"


def test_page_without_canonical_url_or_language_has_none() -> None:
    html = (
        "<html><head><title>T</title></head><body><article>"
        + "<p>Plain paragraph about the harbour and its ferries, told at length.</p>" * 8
        + "</article></body></html>"
    )
    page = extract_page(html, "https://x.example/a")
    assert page is not None
    assert page.canonical_url is None
    assert page.published_at is None


def test_xhtml_page_with_an_xml_declaration_keeps_its_canonical_url_and_language() -> None:
    xhtml = '<?xml version="1.0" encoding="utf-8"?>\n' + BLOG.html.split("\n", 1)[1]
    page = extract_page(xhtml, FETCHED_FROM + BLOG.page)
    assert page is not None
    assert page.canonical_url == BLOG.canonical_url
    assert page.language == "en"


def test_publication_time_in_another_zone_becomes_utc() -> None:
    sample = next(s for s in SAMPLE_ARTICLES if s.page == "magazine_dprk.html")
    html = sample.html.replace("2024-10-15T13:30:00+00:00", "2024-10-15T23:30:00-05:00")
    page = extract_page(html, FETCHED_FROM + sample.page)
    assert page is not None
    assert page.published_at == datetime(2024, 10, 16, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize("html", ["", "   ", "<html><body></body></html>"])
def test_page_without_text_gives_none(html: str) -> None:
    assert extract_page(html, "https://x.example/a") is None
