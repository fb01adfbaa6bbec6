"""Article extraction: a fetched page in, main text and metadata out.

`extract_page` runs in a worker process (see `crawler.workers`): text in, plain data out.
It imports trafilatura when first called: trafilatura, htmldate and justext cost a
process some 20 MB, and the daemon, which imports this module for `ExtractedPage` and to
hand `extract_page` to the workers, never extracts a page itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import lxml.etree
import lxml.html

from crawler.page_meta import FROM_PAGE, first_value, page_meta, plausible
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
    # Where published_at came from: json-ld, meta, url or page (see crawler.page_meta).
    published_from: str | None = None


def extract_page(html: str, url: str) -> ExtractedPage | None:
    """Extract the main text and metadata of an article page; None when there is none."""
    import trafilatura  # see the module's docstring
    from trafilatura.settings import Document

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
    published_at, published_from = head.published_at, head.published_from
    if published_at is None:
        published_at = plausible(_date(document.date), datetime.now(UTC))
        published_from = FROM_PAGE if published_at is not None else None
    return ExtractedPage(
        title=head.title or clean_text(document.title or ""),
        text=clean_text(document.text or ""),
        authors=_authors(document.author),
        published_at=published_at,
        language=head.language or _short_language(document.language),
        canonical_url=head.canonical_url,
        image=document.image or None,
        published_from=published_from,
    )


def extract_page_bytes(body: bytes, url: str) -> ExtractedPage | None:
    """Extract a page whose encoding is not declared: UTF-8 if it decodes, else detected."""
    return extract_page(decode_html(body), url)


def decode_html(body: bytes) -> str:
    """Return an undeclared page's text: UTF-8 when valid, else the detected encoding."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        return str(best)
    return body.decode("cp1252", "replace")


def _date_params() -> dict[str, Any]:
    # htmldate's default output is the day only ("2024-10-15"), which turns a 13:30 story
    # into a midnight one; ask for the time and offset too.
    from trafilatura.settings import set_date_params

    params = set_date_params()
    params["outputformat"] = "%Y-%m-%dT%H:%M:%S%z"
    return params


@dataclass(frozen=True, slots=True)
class _HeadFacts:
    canonical_url: str | None
    language: str | None
    title: str = ""
    published_at: datetime | None = None
    published_from: str | None = None


def _head_facts(html: str, url: str) -> _HeadFacts:
    """Read `rel=canonical` (else `og:url`), the language, title and date from the markup."""
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (lxml.etree.ParserError, ValueError):
        return _HeadFacts(None, None)
    canonical = first_value(root, '//link[@rel="canonical"]/@href') or first_value(
        root, '//meta[@property="og:url"]/@content'
    )
    if canonical:
        canonical = urljoin(url, canonical)
        if not canonical.startswith(("http://", "https://")):
            canonical = None
    language = first_value(root, "/html/@lang") or first_value(
        root, '//meta[@property="og:locale"]/@content'
    )
    meta = page_meta(root, url)
    return _HeadFacts(
        canonical, _short_language(language), meta.title, meta.published_at, meta.published_from
    )


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
