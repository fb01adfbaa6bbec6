"""Benchmark: near-duplicate precision and recall, and lookup time as the store grows.

1. **Precision and recall** on labelled pairs built from distinct texts with realistic
   edits. The texts are the paragraphs of CPython's own documentation
   (`pydoc_data.topics` and the standard library's docstrings: real English prose,
   present wherever Python is), cut into articles of 5 to 9 paragraphs, each paragraph
   used once, plus the client's two seed articles when `/work/shared/seeds` exists.
   Near-duplicate classes: other boilerplate around the same body, a paragraph removed,
   paragraphs reordered, the last paragraph trimmed, light copy-edits, and all of these
   at once. Distinct classes: an unrelated article, another story under the same
   outlet's boilerplate, and another story quoting the same paragraph under the same
   boilerplate (two outlets on one event). A pair is called a duplicate exactly as the
   store decides: a shared band bucket, then the exact Jaccard similarity of the word
   shingles at or above the threshold. The baseline is the exact Jaccard test on every
   pair, with no index: the recall the banding gives up. A sweep over thresholds shows
   where the default comes from.
2. **Lookup time** per article (fingerprint, candidates from `article_bands`, check,
   index rows written, then rolled back) on SQLite holding 10,000, 100,000 and
   1,000,000 articles' band rows, filled by bulk inserts of synthetic buckets with a
   few hundred real articles planted among them; beside it, at 100,000, a brute-force
   comparison of the new signature with every stored signature (held in memory, so
   the baseline pays no I/O).

    .venv/bin/python bench/dedupe.py [--sizes 10000,100000,1000000] [--queries 200]

Figures only: nothing here asserts a speed or a score.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import re
import sqlite3
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from pydoc_data.topics import topics as pydoc_topics

from sqlalchemy import insert
from sqlalchemy.orm import Session

from storage import minhash
from storage.db import Database
from storage.models import Article
from storage.near_duplicates import SCREEN_MARGIN, Fingerprint, fingerprint, link
from storage.records import DEFAULT_DEDUPE, DedupeSettings

SEEDS = Path("/work/shared/seeds")
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
BOILERPLATE = [
    (
        "By Staff Reporter\nPublished 22 October 2024\nListen to this article",
        "Sign up for our daily newsletter and get the biggest stories in your inbox every "
        "morning. Share this article. Copyright 2024, all rights reserved.",
    ),
    (
        "World | Asia-Pacific\n3 min read\nUpdated 2 hours ago",
        "Read more: the war in Ukraine, latest updates. Related coverage: inside the "
        "talks. Comments (12). Follow us on social media for breaking news.",
    ),
    (
        "Subscribe to read more stories like this. Advertisement",
        "What's included in your subscription? Unlimited access, the daily digital "
        "edition, exclusive newsletters and our archive. Cancel at any time.",
    ),
    ("Home > News > World", "This story was produced by the wire desk. Report an error."),
]
POSITIVE = ("boilerplate", "paragraph-removed", "reordered", "trimmed", "copy-edited", "all")
NEGATIVE = ("unrelated", "same-outlet", "shared-quote")


# --- the corpus ----------------------------------------------------------------------------


def paragraphs() -> list[str]:
    """Return distinct prose paragraphs of 25+ words from CPython's documentation."""
    texts = list(pydoc_topics.values())
    for info in pkgutil.iter_modules():
        if info.name.startswith("_") or info.name in ("antigravity", "this", "idlelib"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated modules say so on import
                module = importlib.import_module(info.name)
        except Exception:  # any module that will not import is skipped
            continue
        texts.append(module.__doc__ or "")
        for value in vars(module).values():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # typing.io and friends warn on access
                doc = getattr(value, "__doc__", None)
            if isinstance(doc, str) and getattr(value, "__module__", None) == info.name:
                texts.append(doc)
    found: dict[str, None] = {}
    for text in texts:
        for block in re.split(r"\n\s*\n", text):
            if block.startswith((" ", ">>>", "\t")):
                continue  # code and examples, not prose
            para = " ".join(block.split())
            if len(para.split()) >= 25 and ">>>" not in para:
                found.setdefault(para)
    return list(found)


def articles(paras: list[str], rng: random.Random) -> list[list[str]]:
    """Cut the paragraphs into articles of 5 to 9 paragraphs, each paragraph used once."""
    rng.shuffle(paras)
    out, start = [], 0
    while start + 9 <= len(paras):
        size = rng.randint(5, 9)
        out.append(paras[start : start + size])
        start += size
    return out


def copy_edit(text: str, rng: random.Random, share: float) -> str:
    """Change about `share` of the words: drop one, double one, or swap neighbours."""
    words = text.split(" ")
    for _ in range(max(1, int(len(words) * share))):
        i = rng.randrange(len(words) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            del words[i]
        elif kind == 1:
            words.insert(i, words[i])
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def wrap(body: list[str], outlet: int) -> str:
    header, footer = BOILERPLATE[outlet % len(BOILERPLATE)]
    return "\n\n".join([header, *body, footer])


def variant(kind: str, body: list[str], rng: random.Random) -> str:
    """Return the near-duplicate `kind` of an article body under other boilerplate."""
    body = list(body)
    if kind in ("paragraph-removed", "all"):
        del body[rng.randrange(1, len(body))]
    if kind in ("reordered", "all"):
        i = rng.randrange(len(body) - 1)
        body[i], body[i + 1] = body[i + 1], body[i]
    if kind in ("trimmed", "all"):
        last = body[-1].split()
        body[-1] = " ".join(last[: len(last) // 2])
    if kind in ("copy-edited", "all"):
        body = [copy_edit(p, rng, 0.03) for p in body]
    return wrap(body, 1)


@dataclass(frozen=True)
class Pair:
    kind: str
    duplicate: bool
    first: str
    second: str


def pairs(bodies: list[list[str]], rng: random.Random) -> list[Pair]:
    """Return labelled pairs: one of each near-duplicate class per article, and as many
    distinct pairs, a third from each distinct class."""
    out = []
    for n, body in enumerate(bodies):
        first = wrap(body, 0)
        for kind in POSITIVE:
            out.append(Pair(kind, True, first, variant(kind, body, rng)))
        other = bodies[(n + 1 + rng.randrange(len(bodies) - 1)) % len(bodies)]
        for kind in NEGATIVE:
            if kind == "unrelated":
                second = wrap(other, 1)
            elif kind == "same-outlet":
                second = wrap(other, 0)
            else:  # the same quoted paragraph in two stories, one outlet
                second = wrap([other[0], body[1], *other[1:]], 0)
            out.extend([Pair(kind, False, first, second)] * 2)
    if SEEDS.is_dir():
        seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("0*.txt"))]
        if len(seeds) == 2:
            out.append(Pair("client-seeds", False, seeds[0], seeds[1]))
    return out


# --- precision and recall ------------------------------------------------------------------


def judged(a: Fingerprint | None, b: Fingerprint | None, threshold: float, banded: bool) -> bool:
    """Decide a pair as the store does (banded) or by Jaccard alone."""
    if a is None or b is None:
        return False
    if banded:
        if not set(a.buckets) & set(b.buckets):
            return False
        if minhash.estimate(a.signature, b.signature) < threshold - SCREEN_MARGIN:
            return False
    return minhash.jaccard(a.shingles, b.shingles) >= threshold


def scores(
    labelled: list[tuple[Pair, Fingerprint | None, Fingerprint | None]],
    threshold: float,
    banded: bool,
) -> tuple[float, float, Counter[str]]:
    tp = fp = fn = 0
    called: Counter[str] = Counter()
    for pair, a, b in labelled:
        says = judged(a, b, threshold, banded)
        called[pair.kind] += says
        tp += says and pair.duplicate
        fp += says and not pair.duplicate
        fn += not says and pair.duplicate
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / (tp + fn), called


def quality(labelled_pairs: list[Pair], settings: DedupeSettings) -> None:
    labelled = [
        (p, fingerprint(p.first, settings), fingerprint(p.second, settings)) for p in labelled_pairs
    ]
    kinds = Counter(p.kind for p in labelled_pairs)
    positives = sum(p.duplicate for p in labelled_pairs)
    print(
        f"pairs: {len(labelled_pairs)} ({positives} near duplicates, "
        f"{len(labelled_pairs) - positives} distinct)"
    )
    precision, recall, called = scores(labelled, settings.threshold, banded=True)
    base_p, base_r, _ = scores(labelled, settings.threshold, banded=False)
    print(
        f"threshold {settings.threshold}, min_shingles {settings.min_shingles}: "
        f"precision {precision:.3f}  recall {recall:.3f}   "
        f"(baseline, exact Jaccard on every pair: precision {base_p:.3f}  recall {base_r:.3f})"
    )
    for kind in (*POSITIVE, *NEGATIVE, "client-seeds"):
        if kinds[kind]:
            label = "found" if kind in POSITIVE else "called duplicate"
            print(f"  {kind:<18} {called[kind]:>4}/{kinds[kind]:<4} {label}")
    print("threshold sweep (banded):")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        p, r, _ = scores(labelled, threshold, banded=True)
        print(f"  {threshold:.1f}: precision {p:.3f}  recall {r:.3f}")
    sims = sorted(
        minhash.jaccard(a.shingles, b.shingles)
        for pair, a, b in labelled
        if a and b and not pair.duplicate
    )
    if sims:
        top = sims[len(sims) * 99 // 100]
        print(f"  distinct pairs: highest Jaccard {sims[-1]:.3f}, 99th percentile {top:.3f}")


# --- lookup time ---------------------------------------------------------------------------


def fill(path: Path, size: int, planted: list[tuple[int, str]]) -> None:
    """Fill `article_bands` with `size` articles' random buckets, in bulk and in bucket
    order (SQLite generates and sorts them), plus the planted real articles."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("DROP INDEX ix_article_bands_article_id")
    connection.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
        " INSERT OR IGNORE INTO article_bands SELECT random(), 1 + i / ? FROM n ORDER BY 1",
        (size * minhash.BANDS, minhash.BANDS),
    )
    articles_rows = []
    band_rows = []
    for article_id, text in planted:
        fp = fingerprint(text, DEFAULT_DEDUPE)
        assert fp is not None
        articles_rows.append(
            (
                article_id,
                f"http://bench.test/{article_id}",
                text,
                f"hash-{article_id}",
                minhash.pack(fp.signature),
            )
        )
        band_rows += [(bucket, article_id) for bucket in fp.buckets]
    connection.executemany(
        "INSERT INTO articles (id, canonical_url, url, title, summary, text, authors,"
        " first_seen_at, updated_at, revision, content_hash, signature)"
        " VALUES (?, ?, '', '', '', ?, '[]', '2024-10-22', '2024-10-22', 1, ?, ?)",
        articles_rows,
    )
    connection.executemany("INSERT OR IGNORE INTO article_bands VALUES (?, ?)", band_rows)
    connection.execute("CREATE INDEX ix_article_bands_article_id ON article_bands (article_id)")
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def timed_lookups(db: Database, queries: list[str], first_id: int) -> tuple[float, int]:
    """Return the mean seconds per article to fingerprint, look up, check and index it
    (rolled back), and how many were found to be near duplicates."""
    found = 0
    start = time.perf_counter()
    for n, text in enumerate(queries):
        with Session(db.engine) as session, session.begin():
            article_id = first_id + n
            session.execute(
                insert(Article).values(
                    id=article_id,
                    canonical_url=f"http://query.test/{article_id}",
                    url="",
                    text=text,
                    first_seen_at=NOW,
                    updated_at=NOW,
                    content_hash=f"query-{article_id}",
                )
            )
            fp = fingerprint(text, DEFAULT_DEDUPE)
            found += bool(link(session, [(article_id, fp)], DEFAULT_DEDUPE))
            session.rollback()
    return (time.perf_counter() - start) / len(queries), found


def brute_force(queries: list[str], size: int, rng: random.Random) -> float:
    """Return the mean seconds per article to compare its signature with `size` others."""
    stored = [
        tuple(rng.getrandbits(32) for _ in range(minhash.PERMUTATIONS))
        for _ in range(min(size, 20_000))
    ]
    repeat = size // len(stored)
    start = time.perf_counter()
    for text in queries:
        fp = fingerprint(text, DEFAULT_DEDUPE)
        assert fp is not None
        for _ in range(repeat):
            best = max(minhash.estimate(fp.signature, other) for other in stored)
        del best
    return (time.perf_counter() - start) / len(queries)


def lookup(bodies: list[list[str]], sizes: list[int], count: int, rng: random.Random) -> None:
    planted_bodies = bodies[: count // 2]
    queries = [variant("all", b, rng) for b in planted_bodies]  # near duplicates
    queries += [wrap(b, 2) for b in bodies[count // 2 : count]]  # new stories
    print(f"lookup, SQLite, {len(queries)} articles ({len(planted_bodies)} near duplicates):")
    figures: dict[int, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.db"
            db = Database.open(f"sqlite:///{path}")
            db.upgrade()
            db.dispose()
            step = max(size // len(planted_bodies), 1)
            planted = [(1 + i * step, wrap(b, 0)) for i, b in enumerate(planted_bodies)]
            start = time.perf_counter()
            fill(path, size, planted)
            filled = time.perf_counter() - start
            db = Database.open(f"sqlite:///{path}")
            timed_lookups(db, queries[:10], size + 1)  # warm the cache and the pool
            seconds, found = timed_lookups(db, queries, size + 1)
            db.dispose()
        figures[size] = seconds
        print(
            f"  {size:>9,} stored: {seconds * 1000:6.2f} ms per article, "
            f"{found}/{len(planted_bodies)} found (filled in {filled:.0f} s)"
        )
    if len(sizes) > 1 and sizes[0] in figures and sizes[-1] in figures:
        ratio = figures[sizes[-1]] / figures[sizes[0]]
        print(f"  {sizes[-1]:,} vs {sizes[0]:,}: {ratio:.2f}x (target: within 2x)")
    if 100_000 in figures:
        brute = brute_force(queries[:5], 100_000, rng)
        print(
            f"  brute force over 100,000 signatures (in memory): {brute * 1000:.0f} ms per "
            f"article, {brute / figures[100_000]:.0f}x the banded lookup"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    paras = paragraphs()
    bodies = articles(paras, rng)
    print(f"corpus: {len(paras)} paragraphs of CPython documentation, {len(bodies)} articles")
    quality(pairs(bodies, rng), DEFAULT_DEDUPE)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    lookup(bodies, sizes, min(args.queries, len(bodies)), rng)


if __name__ == "__main__":
    main(sys.argv[1:])
