"""Small helpers over Scrapy responses."""

from __future__ import annotations

from scrapy.http import Response


def response_headers(response: Response) -> dict[str, str]:
    """Return the headers as a plain dict, names lower-cased, last value of each.

    feedparser only finds header names in lower case.
    """
    return {
        key.decode("latin-1").lower(): values[-1].decode("latin-1")
        for key, values in response.headers.items()
        if values
    }
