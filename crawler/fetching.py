"""What every newswatch spider does with a response: read headers, decode, extract.

Shared by the FeedSpider and the site spiders (crawler.site_spider), so that a page
fetched for a feed entry and a page found on a site are read the same way.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawler.extraction import ExtractedPage, extract_page, extract_page_bytes
from crawler.workers import WorkerPool

# The meta key that marks a feed's request (and the retries and redirects Scrapy makes of
# it, which copy its meta), as opposed to a page's.
FEED_REQUEST = "newswatch_feed"


def failed_request(failure: Failure) -> Request:
    """Return the request an errback's failure is about."""
    # Scrapy attaches the failed request to the failure it hands an errback.
    request: Request = failure.request  # type: ignore[attr-defined]
    return request


def response_headers(response: Response) -> dict[str, str]:
    """Return the response's headers, lower-case names, the last value of each."""
    return {
        key.decode("latin-1").lower(): values[-1].decode("latin-1")
        for key, values in response.headers.items()
        if values
    }


def response_header(response: Response, name: bytes) -> str | None:
    """Return one header's value, or None."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def permanent_redirect(response: Response) -> str | None:
    """Return where permanent redirects moved the requested URL, None if they did not.

    Scrapy's RedirectMiddleware follows every redirect and records each hop's URL and
    status in `redirect_urls` / `redirect_reasons`. Only a leading run of 301s and 308s
    moves the resource (RFC 9110, sections 15.4.2 and 15.4.9): after A -301-> B -302-> C
    the feed lives at B, and after A -302-> B -301-> C it still lives at A.
    """
    reasons = response.meta.get("redirect_reasons") or []
    targets = [*(response.meta.get("redirect_urls") or [])[1:], response.url]
    moved = None
    for reason, target in zip(reasons, targets, strict=False):
        if reason not in (301, 308):
            break
        moved = target
    return moved


def declares_encoding(response: Response) -> bool:
    """Say whether the page names its encoding: HTTP header, byte order mark or meta tag."""
    content_type = response_header(response, b"Content-Type") or ""
    return bool(
        http_content_type_encoding(content_type)
        or read_bom(response.body)[0]
        or html_body_declared_encoding(response.body)
    )


async def extract_response(pool: WorkerPool, response: Response) -> ExtractedPage | None:
    """Extract an article from a fetched page, in the worker pool; None if it has none.

    A page that declares its encoding is decoded by Scrapy accordingly. One that does
    not is decoded as UTF-8 when it is valid UTF-8, and otherwise by detection in the
    worker: Scrapy would fall back to cp1252, which garbles Cyrillic or Greek pages.
    """
    if not isinstance(response, TextResponse):
        return None
    if declares_encoding(response):
        return await pool.run(extract_page, response.text, response.url)
    return await pool.run(extract_page_bytes, response.body, response.url)
