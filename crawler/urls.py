"""Canonical URLs: one spelling per article, whatever tracking a link carried."""

from __future__ import annotations

from courlan import normalize_url
from w3lib.url import canonicalize_url


def canonical_url(url: str) -> str:
    """Return the canonical form of an article URL.

    courlan lower-cases the scheme and host, drops default ports and removes tracking
    parameters (utm_*, fbclid, gclid, ...); w3lib then drops the fragment, sorts the
    remaining query parameters and normalises percent-encoding. A URL either library
    rejects is returned stripped, so an odd link never loses its entry.
    """
    url = url.strip()
    try:
        cleaned = normalize_url(url)
    except (ValueError, TypeError):
        return url
    try:
        return str(canonicalize_url(cleaned, keep_fragments=False))
    except (ValueError, TypeError):
        return cleaned
