"""Identities of feed entries and of article content."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def entry_key(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """Return the key that identifies an entry within its source.

    The order is the feed's own GUID, else the link, else a hash of title and summary:
    a GUID survives edits to the link and the text, a link survives a missing GUID, and
    a hash is the last resort for feeds that give neither (Miniflux uses the same order).
    """
    if guid and guid.strip():
        return "guid:" + guid.strip()
    if link and link.strip():
        return "link:" + link.strip()
    digest = hashlib.sha256(f"{title}\x00{summary}".encode()).hexdigest()
    return "hash:" + digest


def normalised_text(text: str) -> str:
    """Return text folded for comparison: NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(title: str, text: str) -> str:
    """Return the hash of an article's normalised title and text.

    The same story syndicated at another URL hashes the same, so it becomes a second
    sighting of one article rather than a second article.
    """
    body = f"{normalised_text(title)}\n{normalised_text(text)}"
    return hashlib.sha256(body.encode()).hexdigest()
