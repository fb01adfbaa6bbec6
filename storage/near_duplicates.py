"""Near duplicates (rung 4 of the dedupe ladder): the banded MinHash index in the database.

An article whose text has enough shingles gets a MinHash signature and, unless it is a
near duplicate itself, one `article_bands` row per band bucket. A new article's
candidates are the articles sharing one of its buckets, so a lookup reads a handful of
index rows however many articles are stored, and nothing is rebuilt in memory at start.
Candidates are then checked with the real Jaccard similarity of the shingle sets.

Writers serialise on this index: SQLite has one writer at a time anyway, and on
PostgreSQL every store transaction first takes one advisory lock, so two daemons storing
two copies of a story at once cannot both miss the other.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from storage import minhash
from storage.db import Database
from storage.fingerprints import Fingerprint, body, fingerprint
from storage.models import Article, ArticleBand
from storage.records import DedupeSettings
from storage.sql import PlainSelect, chunked, insert_ignoring_conflicts, insert_plain_rows

# Shared by every newswatch process; the upgrade lock in storage.db uses another key.
PG_INDEX_LOCK_KEY = 0x6E777364  # "nwsd"
# Candidates checked per article, the most promising (most shared buckets) first.
MAX_CANDIDATES = 8
# The signature estimate only screens out hopeless candidates before the exact
# comparison; 0.2 is three standard errors of a 60-permutation estimate.
SCREEN_MARGIN = 0.2
REBUILD_CHUNK = 500

_IN_BUCKETS = PlainSelect(
    select(ArticleBand.bucket, ArticleBand.article_id).where(
        ArticleBand.bucket.in_(bindparam("buckets", expanding=True))
    ),
    "buckets",
)
_SIGNATURES = PlainSelect(
    select(Article.id, Article.signature).where(Article.id.in_(bindparam("ids", expanding=True))),
    "ids",
)


def lock_index(session: Session) -> None:
    """Take the index's write lock until the transaction ends (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_INDEX_LOCK_KEY})


def link(
    session: Session,
    articles: Sequence[tuple[int, Fingerprint | None]],
    settings: DedupeSettings,
    *,
    inserted: bool = False,
) -> dict[int, int]:
    """Fingerprint and index these articles; return article id -> the article it repeats.

    Each article is compared with the indexed articles of lower id, the ones of this call
    included, so a batch resolves as if its articles came one by one in id order. Their
    signatures, `duplicate_of` and band rows are rewritten; `duplicate_of` always names
    an article that is no duplicate itself. Articles `inserted` in this transaction were
    inserted with their signatures (`packed`) and have no band rows to remove yet.
    """
    ordered = sorted(articles, key=lambda pair: pair[0])
    if not inserted:
        for chunk in chunked([article_id for article_id, _ in ordered]):
            session.execute(delete(ArticleBand).where(ArticleBand.article_id.in_(chunk)))
    stored = _buckets(session, {b for _, fp in ordered if fp for b in fp.buckets})
    texts = _Texts(session, settings)
    # The stored candidates of every article, read in one go: whatever the batch adds, an
    # article's best candidates are among its best stored ones and the batch's own (whose
    # shingles are at hand). Stored texts are read for the candidates that pass the screen.
    stored_hits = {
        article_id: _hits(fp, article_id, stored) for article_id, fp in ordered if fp is not None
    }
    best_stored = {article_id: _ranked(hits) for article_id, hits in stored_hits.items()}
    texts.prefetch({c for candidates in best_stored.values() for c in candidates})
    texts.load_shingles(
        {
            c
            for article_id, fp in ordered
            if fp is not None
            for c in best_stored[article_id]
            if _screened(fp, texts.get(c), settings)
        }
    )
    in_batch: dict[int, list[int]] = defaultdict(list)
    duplicate_of: dict[int, int] = {}
    band_rows: list[tuple[int, int]] = []  # (bucket, article_id)
    for article_id, fp in ordered:
        if fp is None:
            continue
        hits = stored_hits[article_id]
        for bucket in fp.buckets:
            if shared := in_batch.get(bucket):
                hits.update(shared)
        ranked = _ranked(hits)
        texts.prefetch(ranked)
        original = _best(fp, ranked, texts, settings)
        if original is not None:
            duplicate_of[article_id] = original
            continue
        texts.remember(article_id, fp)
        for bucket in fp.buckets:
            in_batch[bucket].append(article_id)
            band_rows.append((bucket, article_id))
    rows = [
        {
            "b_id": article_id,
            "b_signature": packed(fp),
            "b_duplicate_of": duplicate_of.get(article_id),
        }
        for article_id, fp in ordered
        if not inserted or article_id in duplicate_of
    ]
    if rows:
        stmt = (
            update(Article)
            .where(Article.id == bindparam("b_id"))
            .values(signature=bindparam("b_signature"), duplicate_of=bindparam("b_duplicate_of"))
        )
        session.connection().execute(stmt, rows)
    _insert_bands(session, band_rows)
    return duplicate_of


def reindex(session: Session, articles: Sequence[tuple[int, Fingerprint | None]]) -> None:
    """Replace the signature and band rows of revised articles, keeping their links.

    An article that is a near duplicate stays one and stays out of the index.
    """
    ids = [article_id for article_id, _ in articles]
    roots: set[int] = set()
    for chunk in chunked(ids):
        session.execute(delete(ArticleBand).where(ArticleBand.article_id.in_(chunk)))
        roots.update(
            session.scalars(
                select(Article.id).where(Article.id.in_(chunk), Article.duplicate_of.is_(None))
            )
        )
    _insert_bands(
        session,
        [
            (bucket, article_id)
            for article_id, fp in articles
            if fp is not None and article_id in roots
            for bucket in fp.buckets
        ],
    )
    rows = [{"b_id": i, "b_signature": packed(fp)} for i, fp in articles]
    if rows:
        stmt = (
            update(Article)
            .where(Article.id == bindparam("b_id"))
            .values(signature=bindparam("b_signature"))
        )
        session.connection().execute(stmt, rows)


def rebuild(
    db: Database,
    settings: DedupeSettings,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Recompute every stored article's fingerprint and duplicate link, in id order.

    Runs in transactions of `REBUILD_CHUNK` articles, so a daemon can keep storing
    meanwhile; `progress(done, total)` is called after each. Return (articles, near
    duplicates).
    """
    with db.session() as session:
        total = int(session.scalar(select(func.count(Article.id))) or 0)
    done = duplicates = 0
    last_id = 0
    while True:

        def work(session: Session, after: int = last_id) -> tuple[int, int, int]:
            lock_index(session)
            rows = session.execute(
                select(
                    Article.id, Article.summary, Article.text, Article.signature, Article.pruned_at
                )
                .where(Article.id > after)
                .order_by(Article.id)
                .limit(REBUILD_CHUNK)
            ).all()
            if not rows:
                return 0, after, 0
            pairs = [(row.id, _rebuilt(row, settings)) for row in rows]
            found = link(session, pairs, settings)
            return len(rows), rows[-1].id, len(found)

        count, last_id, found = db.write(work)
        if not count:
            break
        done += count
        duplicates += found
        if progress is not None:
            progress(done, max(total, done))
    return done, duplicates


def _rebuilt(row: Any, settings: DedupeSettings) -> Fingerprint | None:
    """Return a stored article's fingerprint anew; a pruned one keeps its stored signature."""
    if row.pruned_at is not None:
        return pruned_fingerprint(row.signature)
    return fingerprint(body(row.summary, row.text), settings)


def pruned_fingerprint(signature: bytes | None) -> Fingerprint | None:
    """Return the fingerprint of an article whose text was pruned: signature, no shingles.

    It is compared by the signature's estimate, the only thing left of its text.
    """
    if signature is None or len(signature) != minhash.PERMUTATIONS * 4:
        return None
    unpacked = minhash.unpack(signature)
    return Fingerprint(frozenset(), unpacked, tuple(minhash.buckets(unpacked)))


def packed(fp: Fingerprint | None) -> bytes | None:
    """Return the fingerprint's signature as the articles table stores it."""
    return minhash.pack(fp.signature) if fp else None


def _insert_bands(session: Session, rows: list[tuple[int, int]]) -> None:
    """Insert (bucket, article_id) band rows, in key order (fewer index page splits)."""
    rows.sort()
    insert_plain_rows(
        session, insert_ignoring_conflicts(session, ArticleBand), ("bucket", "article_id"), rows
    )


def _buckets(session: Session, buckets: set[int]) -> dict[int, list[int]]:
    """Return the indexed article ids in each of these buckets."""
    found: dict[int, list[int]] = defaultdict(list)
    for bucket, article_id in _IN_BUCKETS.rows(session, sorted(buckets)):
        found[bucket].append(article_id)
    return found


def _hits(fp: Fingerprint, article_id: int, stored: dict[int, list[int]]) -> Counter[int]:
    """Count the buckets each stored article of lower id shares with `fp`."""
    return Counter(c for bucket in fp.buckets for c in stored.get(bucket, ()) if c < article_id)


def _ranked(hits: Counter[int]) -> list[int]:
    """Return the most promising candidates: most shared buckets first, then lowest id."""
    return sorted(hits, key=lambda c: (-hits[c], c))[:MAX_CANDIDATES]


@dataclass(slots=True)
class _Candidate:
    """A stored article as a candidate: its signature now, its shingles when needed."""

    signature: tuple[int, ...]
    shingles: frozenset[str] | None = None


class _Texts:
    """Candidates' signatures and shingles, read once per call.

    Signatures are read for every candidate, since they screen it; a stored text is read
    and shingled only for a candidate the signature says may be close, which is rare.
    """

    def __init__(self, session: Session, settings: DedupeSettings) -> None:
        self.session = session
        self.settings = settings
        self.known: dict[int, _Candidate | None] = {}

    def remember(self, article_id: int, fp: Fingerprint) -> None:
        self.known[article_id] = _Candidate(fp.signature, fp.shingles)

    def prefetch(self, ids: Iterable[int]) -> None:
        missing = sorted(set(ids) - set(self.known))
        if not missing:
            return
        unsigned: list[int] = []
        for article_id, signature in _SIGNATURES.rows(self.session, missing):
            if signature is not None and len(signature) == minhash.PERMUTATIONS * 4:
                self.known[article_id] = _Candidate(minhash.unpack(signature))
            else:  # stored before signatures were, or with other parameters
                unsigned.append(article_id)
        for article_id, stored_text in self._texts(unsigned).items():
            fp = fingerprint(stored_text, self.settings)
            self.known[article_id] = _Candidate(fp.signature, fp.shingles) if fp else None

    def get(self, article_id: int) -> _Candidate | None:
        return self.known.get(article_id)

    def load_shingles(self, ids: Iterable[int]) -> None:
        """Read and shingle the texts of these candidates, where not done yet."""
        wanted = [i for i in sorted(ids) if (c := self.known.get(i)) and c.shingles is None]
        for article_id, stored_text in self._texts(wanted).items():
            candidate = self.known[article_id]
            assert candidate is not None
            candidate.shingles = minhash.shingles(stored_text)

    def shingles(self, article_id: int, candidate: _Candidate) -> frozenset[str]:
        if candidate.shingles is None:
            self.load_shingles([article_id])
        return candidate.shingles or frozenset()

    def _texts(self, ids: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        connection = self.session.connection()
        for chunk in chunked(ids):
            stmt = select(Article.id, Article.summary, Article.text).where(Article.id.in_(chunk))
            for article_id, summary, article_text in connection.execute(stmt):
                found[article_id] = body(summary, article_text)
        return found


def _screened(fp: Fingerprint, other: _Candidate | None, settings: DedupeSettings) -> bool:
    """Whether the signatures say the two texts may be near duplicates (worth comparing)."""
    if other is None:
        return False
    return minhash.estimate(fp.signature, other.signature) >= settings.threshold - SCREEN_MARGIN


def _best(
    fp: Fingerprint, candidates: Sequence[int], texts: _Texts, settings: DedupeSettings
) -> int | None:
    """Return the candidate most similar to `fp` at or above the threshold, if any."""
    best, best_score = None, 0.0
    for candidate in candidates:
        other = texts.get(candidate)
        if other is None or not _screened(fp, other, settings):
            continue
        theirs = texts.shingles(candidate, other)
        if fp.shingles and theirs:
            score = minhash.jaccard(fp.shingles, theirs)
        else:  # a pruned article (storage.maintenance) has only its signature left
            score = minhash.estimate(fp.signature, other.signature)
        if score >= settings.threshold and score > best_score:
            best, best_score = candidate, score
    return best
