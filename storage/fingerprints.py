"""Near-duplicate fingerprints of article texts: shingles, MinHash signature, band buckets.

Pure and CPU-heavy (a MinHash per article), and free of SQLAlchemy: the crawler runs
`fingerprints` in its worker pool, whose processes import no database code, so that the
event loop's process only writes. `storage.near_duplicates` keeps the index built from
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage import minhash
from storage.records import DEFAULT_DEDUPE, ArticleRecord, DedupeSettings
from storage.storable import scrub


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An article text's shingles, MinHash signature and band buckets."""

    shingles: frozenset[str]
    signature: tuple[int, ...]
    buckets: tuple[int, ...]


def body(summary: str, text: str) -> str:
    """Return the text compared for near duplicates: the title is left out (headlines
    differ between outlets), and the summary stands in when there is no text."""
    return text or summary


def fingerprint(text: str, settings: DedupeSettings) -> Fingerprint | None:
    """Return the text's fingerprint, or None when it is too short to judge."""
    shingles = minhash.shingles(text)
    if not shingles or len(shingles) < settings.min_shingles:
        return None
    signature = minhash.signature(shingles)
    return Fingerprint(shingles, signature, tuple(minhash.buckets(signature)))


def fingerprints(
    records: Sequence[ArticleRecord], dedupe: DedupeSettings = DEFAULT_DEDUPE
) -> list[Fingerprint | None]:
    """Return the near-duplicate fingerprint of each record, as `store_articles` takes it."""
    return [fingerprint(body(r.summary, r.text), dedupe) for r in map(scrub, records)]
