"""Article extraction: a fetched page in, main text and metadata out.

`extract_page` runs in a worker process (see `crawler.workers`): text in, plain data out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import trafilatura
from trafilatura.settings import Document, set_date_params

from crawler.text import clean_text

# lxml refuses a str that declares its encoding, as XHTML pages do (`<?xml ... ?>`).
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*>")


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What trafilatura found in a page, plus the page's own canonical URL."""

    title: str
    text: str
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None
    canonical_url: str | None
    image: str | None


def extract_page(html: str, url: str) -> ExtractedPage | None:
    """Extract the main text and metadata of an article page; None when there is none."""
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            # Boilerplate (subscription blurbs, comments, related links) costs more than a
            # missed sentence for topic matching and near-duplicate detection.
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params=_date_params(),
        )
    except (ValueError, TypeError, lxml.etree.LxmlError):
        document = None
    if not isinstance(document, Document) or not (document.text or "").strip():
        return None
    head = _head_facts(html, url)
    return ExtractedPage(
        title=clean_text(document.title or ""),
        text=clean_text(document.text or ""),
        authors=_authors(document.author),
        published_at=_date(document.date),
        language=head.language or _short_language(document.language),
        canonical_url=head.canonical_url,
        image=document.image or None,
    )


def _date_params() -> dict[str, Any]:
    # htmldate's default output is the day only ("2024-10-15"), which turns a 13:30 story
    # into a midnight one; ask for the time and offset too.
    params = set_date_params()
    params["outputformat"] = "%Y-%m-%dT%H:%M:%S%z"
    return params


@dataclass(frozen=True, slots=True)
class _HeadFacts:
    canonical_url: str | None
    language: str | None


def _head_facts(html: str, url: str) -> _HeadFacts:
    """Read `rel=canonical` (else `og:url`) and the page language from the markup."""
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (lxml.etree.ParserError, ValueError):
        return _HeadFacts(None, None)
    canonical = _first(root, '//link[@rel="canonical"]/@href') or _first(
        root, '//meta[@property="og:url"]/@content'
    )
    if canonical:
        canonical = urljoin(url, canonical)
        if not canonical.startswith(("http://", "https://")):
            canonical = None
    language = _first(root, "/html/@lang") or _first(root, '//meta[@property="og:locale"]/@content')
    return _HeadFacts(canonical, _short_language(language))


def _first(root: lxml.html.HtmlElement, xpath: str) -> str | None:
    values = root.xpath(xpath)
    for value in values if isinstance(values, list) else ():
        text = str(value).strip()
        if text:
            return text
    return None


def _short_language(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def _authors(value: str | None) -> tuple[str, ...]:
    # trafilatura joins several authors with "; ".
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(";") if name.strip())


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
