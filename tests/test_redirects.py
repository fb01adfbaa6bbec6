"""Which redirect chains move a feed (crawler.fetching.permanent_redirect)."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import Response

from crawler.fetching import permanent_redirect

A, B, C = "http://a.example/feed", "http://b.example/feed", "http://c.example/feed"


def arrived(at: str, hops: list[tuple[str, int | str]]) -> Response:
    """Return the response at `at` after these (url, status) hops, as Scrapy records them."""
    meta = {"redirect_urls": [url for url, _ in hops], "redirect_reasons": [r for _, r in hops]}
    return Response(at, request=Request(at, meta=meta if hops else {}))


@pytest.mark.parametrize(
    ("response", "moved"),
    [
        (arrived(A, []), None),
        (arrived(B, [(A, 301)]), B),
        (arrived(B, [(A, 308)]), B),
        (arrived(B, [(A, 302)]), None),
        (arrived(B, [(A, 307)]), None),
        (arrived(B, [(A, 303)]), None),
        (arrived(C, [(A, 301), (B, 308)]), C),
        (arrived(C, [(A, 301), (B, 302)]), B),  # lives at B; C is only for now
        (arrived(C, [(A, 302), (B, 301)]), None),  # A only lent itself out
        (arrived(B, [(A, "meta refresh")]), None),
    ],
)
def test_only_a_leading_run_of_301_and_308_moves_the_feed(
    response: Response, moved: str | None
) -> None:
    assert permanent_redirect(response) == moved
