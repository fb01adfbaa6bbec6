"""Values as every backend can store them: text without NUL, unique keys of bounded size.

Pure (no SQLAlchemy): the crawler's workers scrub records here before fingerprinting
them, and the repository modules scrub what they write.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC

from storage.records import ArticleRecord

# PostgreSQL refuses a btree entry over 2704 bytes, which a pathological URL or GUID can
# exceed; such keys are stored as a prefix plus a hash of the whole, still unique.
MAX_KEY_BYTES = 2000
CONTENT_HASH_CHARS = 128  # the width of articles.content_hash


def storable_text(value: str) -> str:
    """Return `value` as every backend can store it: no NUL, no lone surrogates."""
    value = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from surrogateescape decoding
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def index_key(value: str, max_bytes: int = MAX_KEY_BYTES) -> str:
    """Return `value` as stored in a unique column: storable, at most `max_bytes` bytes."""
    value = storable_text(value)
    raw = value.encode("utf-8")
    if len(raw) <= max_bytes:
        return value
    suffix = f"#sha256={hashlib.sha256(raw).hexdigest()}"
    prefix = raw[: max(max_bytes - len(suffix), 0)].decode("utf-8", "ignore")
    return prefix + suffix


def scrub(record: ArticleRecord) -> ArticleRecord:
    """Make every string storable and bound the unique keys."""
    published_at = record.published_at
    if published_at is not None and published_at.tzinfo is None:
        # Feed dates without a zone are UTC by convention (feedparser's *_parsed are).
        published_at = published_at.replace(tzinfo=UTC)
    return dataclasses.replace(
        record,
        published_at=published_at,
        entry_key=index_key(record.entry_key),
        url=storable_text(record.url),
        canonical_url=index_key(record.canonical_url),
        content_hash=index_key(record.content_hash, CONTENT_HASH_CHARS),
        title=storable_text(record.title),
        summary=storable_text(record.summary),
        text=storable_text(record.text),
        authors=tuple(storable_text(author) for author in record.authors),
        language=None if record.language is None else storable_text(record.language),
        guid=None if record.guid is None else storable_text(record.guid),
        matches={
            storable_text(name): tuple(storable_text(term) for term in terms)
            for name, terms in record.matches.items()
        },
    )
