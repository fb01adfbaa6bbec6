"""Benchmark: articles stored per second through the full pipeline, beside a plain insert.

The pipeline is newswatch's own: normalise, topics, dedupe, store (batched upserts in
one transaction per batch, run off the event loop). The baseline is a plain SQLAlchemy
`executemany` INSERT of the same rows into the same `articles` table, with no topic
matching and no deduplication. Both run on SQLite, and on PostgreSQL when a server
answers. The ratio says what the pipeline's work costs over bare inserts.

    .venv/bin/python bench/ingest.py [--articles 20000] [--pg URL]

Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scrapy.exceptions import DropItem
from scrapy.signalmanager import SignalManager
from sqlalchemy import create_engine, func, insert, select, text

from crawler.items import ArticleItem
from crawler.options import FeedOptions, TopicRule
from crawler.pipelines import (
    DedupePipeline,
    NormalisePipeline,
    StorePipeline,
    TopicsPipeline,
)
from crawler.topics import parse_query
from storage.db import Database
from storage.models import Article, Sighting, Source
from storage.records import SourceSpec, TopicSpec
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORDS = [
    *[
        "government",
        "minister",
        "said",
        "report",
        "officials",
        "week",
        "talks",
        "border",
        "market",
        "city",
        "court",
    ],
    *[
        "president",
        "election",
        "police",
        "plan",
        "budget",
        "energy",
        "prices",
        "trade",
        "military",
        "agency",
    ],
    *[
        "union",
        "council",
        "water",
        "school",
        "health",
        "climate",
        "storm",
        "farmers",
        "company",
        "shares",
    ],
]
ON_TOPIC = (
    "North Korean troops were seen near Kursk as Russia deepened its alliance with "
    "Pyongyang, Ukraine's intelligence service said."
)
TOPICS = {
    "dprk-russia": '("North Korea" OR "North Korean" OR DPRK) AND (Russia OR Ukraine OR Kursk)',
    "energy": '"energy prices" AND NOT football',
    "climate": '"climate change" OR (storm AND "farmers union")',
}


class _Stats:
    """The few StatsCollector calls the pipelines make."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count


@dataclass(frozen=True)
class Result:
    backend: str
    articles: int
    pipeline_s: float
    stored: int
    baseline_s: float


def make_items(count: int, source_ids: list[int], seed: int = 7) -> list[ArticleItem]:
    """Return realistic items: 60 % on a topic, 10 % re-carried by a second source."""
    rng = random.Random(seed)
    items: list[ArticleItem] = []
    published = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(count):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(250, 450)))
        if rng.random() < 0.6:
            body = f"{ON_TOPIC} {body}"
        title = " ".join(rng.choice(WORDS) for _ in range(9)).capitalize() + f" {n}"
        url = f"https://news{n % 37}.example/{n}/story?utm_source=rss&id={n}"
        source = source_ids[n % len(source_ids)]
        items.append(
            ArticleItem(
                source_id=source,
                source_name=f"feed-{source}",
                entry_key=f"guid:{n}",
                url=url,
                title=title,
                summary=body[:300],
                text=body,
                authors=("Staff",),
                language="en",
                published_at=published + timedelta(minutes=n),
            )
        )
        if rng.random() < 0.1:  # the same story carried by another feed
            other = source_ids[(n + 1) % len(source_ids)]
            items.append(
                ArticleItem(
                    source_id=other,
                    source_name=f"feed-{other}",
                    entry_key=f"guid:{n}-syndicated",
                    url=f"https://wire.example/{n}",
                    title=title,
                    summary=body[:300],
                    text=body,
                    language="en",
                )
            )
    return items


async def run_pipeline(database: Database, items: list[ArticleItem]) -> int:
    """Push items through the four pipelines; return the articles stored."""
    rules = tuple(TopicRule(name, parse_query(q)) for name, q in TOPICS.items())
    feeds = {item.source_name: FeedOptions() for item in items}
    stats = _Stats()
    stages = (
        NormalisePipeline(),
        TopicsPipeline(rules, feeds),
        DedupePipeline(),
    )
    store = StorePipeline(database, 200, True, feeds, stats, SignalManager())  # type: ignore[arg-type]
    for item in items:
        for stage in stages:
            item = stage.process_item(item)
        with contextlib.suppress(DropItem):  # off-topic items are dropped after recording
            await store.process_item(item)
    await store.close_spider()
    return stats.values.get("newswatch/articles_new", 0)


def prepare(database: Database, sources: int) -> list[int]:
    """Migrate, and add the sources and topics the items refer to."""
    database.upgrade()
    now = datetime.now(UTC)
    specs = [
        SourceSpec(f"feed-{n}", "feed", f"https://feeds.example/{n}.xml") for n in range(sources)
    ]
    sync_sources(database, specs, 1800, now)
    sync_topics(database, [TopicSpec(name, q) for name, q in TOPICS.items()], now)
    return sorted(s.id for s in due_sources(database, now + timedelta(days=1)))


def baseline_rows(items: list[ArticleItem]) -> Iterator[dict[str, object]]:
    """The same articles as plain rows, as a bare loader would write them."""
    now = datetime.now(UTC)
    for n, item in enumerate(items):
        yield {
            "canonical_url": item.url,
            "url": item.url,
            "guid": item.entry_key,
            "title": item.title,
            "summary": item.summary,
            "text": item.text,
            "authors": list(item.authors),
            "language": item.language,
            "published_at": item.published_at,
            "first_seen_at": now,
            "updated_at": now,
            "content_hash": f"{n:064x}",
        }


def run_baseline(url: str, items: list[ArticleItem]) -> float:
    """Time a plain executemany INSERT of the same rows, 200 per transaction."""
    database = Database.open(url)
    database.upgrade()
    database.dispose()
    engine = create_engine(url)
    rows = list(baseline_rows(items))
    start = time.perf_counter()
    with engine.connect() as connection:
        for offset in range(0, len(rows), 200):
            with connection.begin():
                connection.execute(insert(Article.__table__), rows[offset : offset + 200])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def bench(backend: str, url_for: callable, count: int) -> Result:  # type: ignore[valid-type]
    """Run the pipeline and the baseline on fresh databases of one backend."""
    database = Database.open(url_for())
    source_ids = prepare(database, 20)
    items = make_items(count, source_ids)
    start = time.perf_counter()
    stored = asyncio.run(run_pipeline(database, items))
    pipeline_s = time.perf_counter() - start
    with database.session() as session:
        articles = session.scalar(select(func.count()).select_from(Article)) or 0
        sightings = session.scalar(select(func.count()).select_from(Sighting)) or 0
        sources = session.scalar(select(func.count()).select_from(Source)) or 0
    database.dispose()
    assert articles == stored, (articles, stored)
    print(
        f"  {backend}: {len(items)} items -> {articles} articles, {sightings} sightings, "
        f"{sources} sources",
        file=sys.stderr,
    )
    baseline_s = run_baseline(url_for(), items)
    return Result(backend, len(items), pipeline_s, stored, baseline_s)


def pg_url_factory(base: str) -> callable:  # type: ignore[valid-type]
    """Return a factory of URLs, each confined to a fresh schema."""
    engine = create_engine(base)

    def fresh() -> str:
        schema = f"nw_bench_{uuid.uuid4().hex[:10]}"
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        return f"{base}?options=-csearch_path%3D{schema}"

    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--pg", default=os.environ.get("NEWSWATCH_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000))
        results.append(
            bench("sqlite", lambda: f"sqlite:///{tmp}/ingest-{next(counter)}.db", args.articles)
        )
    try:
        factory = pg_url_factory(args.pg)
        factory()  # fails fast when no server answers
    except Exception as exc:  # a benchmark reports a missing server and goes on
        print(f"  postgresql: skipped ({type(exc).__name__})", file=sys.stderr)
    else:
        results.append(bench("postgresql", factory, args.articles))
    print()
    print(
        f"{'backend':<11} {'items':>7} {'stored':>7} {'pipeline/s':>11} "
        f"{'executemany/s':>14} {'ratio':>6}"
    )
    for r in results:
        pipeline_rate = r.articles / r.pipeline_s
        baseline_rate = r.articles / r.baseline_s
        print(
            f"{r.backend:<11} {r.articles:>7} {r.stored:>7} {pipeline_rate:>11.0f} "
            f"{baseline_rate:>14.0f} {pipeline_rate / baseline_rate:>6.2f}"
        )
    print("\npipeline: normalise + topics (3 queries) + dedupe (exact and near-duplicate)")
    print("          + batched upsert (200/txn);")
    print("executemany: the same rows, plain INSERT, 200 per transaction, no matching or dedupe.")


if __name__ == "__main__":
    main()
