"""The item every spider yields: one article as one source carried it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.fingerprints import Fingerprint


@dataclass(slots=True)
class ArticleItem:
    """An article on its way through the pipelines (normalise, topics, dedupe, store)."""

    source_id: int
    source_name: str
    entry_key: str
    url: str
    title: str = ""
    summary: str = ""
    text: str = ""
    authors: tuple[str, ...] = ()
    language: str | None = None
    guid: str | None = None
    published_at: datetime | None = None
    # Where published_at came from: feed, json-ld, meta, url or page (crawler.page_meta).
    published_from: str | None = None
    canonical_url: str = ""  # the page's rel=canonical when known; normalised later
    text_from: str = "feed"  # "page" when the text was extracted from the linked page
    # Filled by the pipelines.
    content_hash: str = ""
    matches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Set by `crawler.preparation.prepare` when a worker ran the pipelines' CPU-bound
    # steps already; `fingerprint` is then the near-duplicate fingerprint (None: the text
    # is too short to judge, or the item is not kept).
    prepared: bool = False
    fingerprint: Fingerprint | None = None
