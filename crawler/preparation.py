"""Item preparation: the CPU-bound steps of the pipelines, as plain functions.

The pipelines (normalise, topics, the content hash of dedupe) call these on each item
they are given. Feed entries are prepared earlier, by `read_feed` in the worker pool,
in the same task that parses their feed: canonical URLs, text clean-up, topic matching
and the near-duplicate fingerprint are most of a full poll's work per entry, and in a
worker they leave the event loop's process to the downloads and the database. Such an
item arrives `prepared`, and the pipelines skip the steps already done; one function
per step serves both ways.

Worker functions: plain data in, plain data out (see `crawler.workers`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crawler import options
from crawler.feeds import FeedEntry, ParsedFeed, parse_feed
from crawler.fingerprints import content_hash
from crawler.items import ArticleItem
from crawler.page_meta import FROM_FEED, FUTURE_SLACK
from crawler.text import clean_text, shorten
from crawler.topics import prepare_text
from crawler.urls import canonical_url
from storage.fingerprints import fingerprints
from storage.records import DEFAULT_DEDUPE, ArticleRecord, DedupeSettings, SourceState

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

    from crawler.extraction import ExtractedPage

log = logging.getLogger("newswatch.store")

# Longer than any headline (Mastodon posts, the longest titles some feeds carry, stop at
# 500); a feed that puts a whole document in <title> gets it cut here, with a warning.
MAX_TITLE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Plan:
    """What preparing one source's items needs: its topics, options and dedupe settings."""

    topics: tuple[options.TopicRule, ...]
    feed: options.FeedOptions = options.DEFAULT_FEED_OPTIONS
    dedupe: DedupeSettings = DEFAULT_DEDUPE
    # Topics exist in the config: an item matching none of them is not kept.
    topics_configured: bool = False


@dataclass(frozen=True, slots=True)
class FeedRead:
    """A parsed feed and its entries made into prepared items (see `read_feed`)."""

    parsed: ParsedFeed  # the entries prepared carry no text: the item does, or none is kept
    items: dict[str, ArticleItem]  # the prepared entries that are kept, by entry key
    # The prepared entries that are not kept (no topic matched): entry key -> item URL,
    # all the store remembers of them.
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)
    # Entry keys whose title was cut to MAX_TITLE_CHARS, with the title's first length.
    truncated: tuple[tuple[str, int], ...] = ()


def normalise(item: ArticleItem, *, canonical: bool = True) -> int | None:
    """Put the item in normal form; return the title's length if it was cut, else None.

    Canonical URL (unless not `canonical`), tidy text, a title of at most
    MAX_TITLE_CHARS, a lower-case language, and no publication date impossibly far in
    the future.
    """
    if canonical:
        item.canonical_url = canonical_url(item.canonical_url or item.url)
    item.title = clean_text(item.title)
    cut = None
    if len(item.title) > MAX_TITLE_CHARS:
        cut = len(item.title)
        item.title = shorten(item.title, MAX_TITLE_CHARS)
    summary = item.summary
    item.summary = clean_text(summary)
    # Feed entries without content of their own carry the summary as their text.
    item.text = item.summary if item.text == summary else clean_text(item.text)
    if item.language:
        item.language = item.language.lower()
    if item.published_at and item.published_at > datetime.now(UTC) + FUTURE_SLACK:
        item.published_at = item.published_from = None
    return cut


def count_truncated(source_name: str, url: str, chars: int, stats: StatsCollector | None) -> None:
    """Log a title of `chars` characters cut by `normalise`, and count it in the stats."""
    log.warning(
        "title truncated source=%s url=%s chars=%d limit=%d",
        source_name,
        url,
        chars,
        MAX_TITLE_CHARS,
    )
    if stats is not None:
        stats.inc_value("newswatch/titles_truncated")


def match_topics(
    item: ArticleItem, topics: Sequence[options.TopicRule], feed: options.FeedOptions
) -> None:
    """Record which topics match the item, with the terms that made them match."""
    text = prepare_text(item.title, item.summary, item.text)
    for rule in topics:
        if feed.topics and rule.name not in feed.topics:
            continue
        if rule.sources and item.source_name not in rule.sources:
            continue
        if rule.languages and item.language and not _language_in(item.language, rule.languages):
            continue
        terms = rule.query.match(text)
        if terms is not None:
            item.matches[rule.name] = terms


def hash_content(item: ArticleItem) -> None:
    """Set the item's content hash (rung 3 of the dedupe ladder)."""
    item.content_hash = content_hash(item.title, item.text or item.summary)


def is_kept(item: ArticleItem, feed: options.FeedOptions, topics_configured: bool) -> bool:
    """Whether the item is stored as an article: it matched a topic, or needs none."""
    return bool(item.matches) or feed.keep_unmatched or not topics_configured


def record(item: ArticleItem) -> ArticleRecord:
    """Return the item's storable part: every record field has an item namesake."""
    values = {name: getattr(item, name) for name in ArticleRecord.__dataclass_fields__}
    values["matches"] = dict(item.matches)
    return ArticleRecord(**values)


def prepare(item: ArticleItem, plan: Plan) -> int | None:
    """Run every CPU-bound pipeline step on the item and mark it `prepared`.

    Only a kept item gets what only stored articles use: its canonical URL, content hash
    and near-duplicate fingerprint. Most entries of most feeds match no topic, and the
    store remembers those by entry key and URL alone. Returns what `normalise` does.
    """
    cut = normalise(item, canonical=False)
    match_topics(item, plan.topics, plan.feed)
    if is_kept(item, plan.feed, plan.topics_configured):
        item.canonical_url = canonical_url(item.canonical_url or item.url)
        hash_content(item)
        item.fingerprint = fingerprints([record(item)], plan.dedupe)[0]
    item.prepared = True
    return cut


def read_feed(
    body: bytes,
    headers: dict[str, str],
    url: str,
    known: frozenset[str],
    source: SourceState,
    plan: Plan | None,
    limit: int,
) -> FeedRead:
    """Parse a feed (`parse_feed`) and prepare the items of up to `limit` new entries.

    Entries in `known` are skipped, as are all when `plan` is None (their pages are to
    be fetched first). The caller still checks which entries are new: one missing from
    `items` is prepared by the pipelines instead.
    """
    parsed = parse_feed(body, headers, url, known)
    items: dict[str, ArticleItem] = {}
    rejected: dict[str, str] = {}
    truncated: list[tuple[str, int]] = []
    if plan is not None:
        for entry in parsed.entries:
            if len(items) + len(rejected) >= limit:
                break
            if entry.key in known or entry.key in items or entry.key in rejected:
                continue
            item = feed_item(source, entry, parsed.language, None)
            cut = prepare(item, plan)
            if cut is not None:
                truncated.append((entry.key, cut))
            if is_kept(item, plan.feed, plan.topics_configured):
                items[entry.key] = item
            else:
                rejected[entry.key] = item.url
    if items or rejected:
        # The caller reads a prepared entry's key, link and date only: its text, which
        # the item carries (or nothing needs), would cross the process boundary for
        # nothing.
        entries = tuple(
            dataclasses.replace(entry, title="", summary="", content="", authors=())
            if entry.key in items or entry.key in rejected
            else entry
            for entry in parsed.entries
        )
        parsed = dataclasses.replace(parsed, entries=entries)
    return FeedRead(parsed, items, rejected, tuple(truncated))


def feed_item(
    source: SourceState, entry: FeedEntry, language: str | None, page: ExtractedPage | None
) -> ArticleItem:
    """Build the item from the feed entry, with the page's text and metadata when known."""
    item = ArticleItem(
        source_id=source.id,
        source_name=source.name,
        entry_key=entry.key,
        url=entry.link or source.url,
        title=entry.title,
        summary=entry.summary,
        text=entry.content or entry.summary,
        authors=entry.authors,
        language=language,
        guid=entry.guid,
        published_at=entry.published_at,
        published_from=FROM_FEED if entry.published_at else None,
        canonical_url="" if entry.link else _entry_urn(source, entry),
    )
    # A page whose extraction found less than the feed already gave (a cookie wall, an app
    # shell, a navigation-only page) must not replace the feed's own text.
    if page is not None and len(page.text) >= len(item.text):
        item.text = page.text
        item.text_from = "page"
    if page is not None:
        item.title = entry.title or page.title
        item.authors = entry.authors or page.authors
        if entry.published_at is None:
            item.published_at, item.published_from = page.published_at, page.published_from
        item.language = page.language or language
        item.canonical_url = page.canonical_url or ""
    return item


def _entry_urn(source: SourceState, entry: FeedEntry) -> str:
    """Return the identity of an entry that has no link of its own.

    Its `url` is the feed's, which every other linkless entry of the feed shares; as its
    canonical URL that would make them all one article. The content hash still merges
    the same text carried by several sources.
    """
    digest = hashlib.sha256(entry.key.encode()).hexdigest()[:32]
    return f"urn:newswatch:{source.name}:{digest}"


def _language_in(language: str, allowed: Sequence[str]) -> bool:
    # Feeds and pages give the primary subtag only ("pt"), while a topic may name a
    # region ("pt-br"): compare primary subtags, or such a topic would never match.
    return language.split("-")[0] in {code.split("-")[0] for code in allowed}
