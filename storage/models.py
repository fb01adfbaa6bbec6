"""SQLAlchemy models: the tables storage owns.

Alembic owns the schema (see `storage/migrations/`); these classes describe it to the
ORM and must stay in step with the migrations (`tests/test_storage_db.py` checks).
Nothing here leaves the package: repository functions return `storage.records` values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints let Alembic's batch mode rebuild SQLite tables and drop them later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON on SQLite, JSONB on PostgreSQL (smaller, indexable).
JSONList = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; always return aware UTC datetimes.

    SQLite has no time zone type, so the UTC wall time is stored without an offset and
    the offset is restored on the way out. PostgreSQL stores `timestamptz` and psycopg
    returns it in the session's time zone, which is converted back to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime is ambiguous; refusing it beats silently storing local time.
            raise ValueError(f"storage: naive datetime {value.isoformat()}; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"storage: expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention and UTC datetimes."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Source(Base):
    """A feed or site from the config, with its polling state."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The URL polled: the configured one, or where a permanent redirect moved it.
    url: Mapped[str] = mapped_column(Text)
    # The URL as config.toml gives it; a config sync compares with this, not `url`.
    configured_url: Mapped[str | None] = mapped_column(Text)
    moved_at: Mapped[datetime | None]  # when a 301/308 last moved `url`
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())  # config's
    # Set when newswatch disabled the source itself (410 Gone, failing too long): it is
    # not polled until the config's URL changes or `newswatch feeds enable NAME`.
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    # Conditional GET validators, sent back as If-None-Match / If-Modified-Since.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # sha256 of the last body processed: unchanged bodies are not parsed again.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    next_check_at: Mapped[datetime] = mapped_column(index=True)
    interval_s: Mapped[int]
    error_count: Mapped[int] = mapped_column(default=0, server_default="0")
    failing_since: Mapped[datetime | None]  # first error of the current run of errors
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
    last_new_at: Mapped[datetime | None]
    # The daemon polling the source now and until when (storage.claims); NULL: nobody.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Article(Base):
    """One story, however many sources carried it."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSONList, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None]
    # Where published_at came from: feed, json-ld, meta, url or page.
    published_from: Mapped[str | None] = mapped_column(String(16))
    # Where text came from: page (extracted) or feed (the feed's own content).
    text_from: Mapped[str | None] = mapped_column(String(8))
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    content_hash: Mapped[str] = mapped_column(String(128), unique=True)
    # MinHash signature of the text (storage.minhash); None when the text is too short.
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When `[storage] keep` pruned its text and summary (storage.maintenance); the
    # identity (URL, content hash, signature, sightings) stays, so repeats are known.
    pruned_at: Mapped[datetime | None]
    # The first article of the same story when this one is a near duplicate (rung 4).
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )


class ArticleBand(Base):
    """One band bucket of an article's MinHash signature: the near-duplicate index.

    Only articles that are no duplicate themselves are indexed, so a bucket holds one
    row per distinct story that hashes there: a lookup reads a handful of rows.
    """

    __tablename__ = "article_bands"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the whole row

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Sighting(Base):
    """One source carrying one article under its own entry key.

    A sighting without an article is an entry that was seen and not kept (it matched
    no topic): remembering it lets the next poll skip it before fetching its page.
    """

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("source_id", "entry_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    entry_key: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime]


class Topic(Base):
    """A topic from the config."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ArticleTopic(Base):
    """An article matching a topic, with the query terms that matched."""

    __tablename__ = "article_topics"
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    terms: Mapped[list[str]] = mapped_column(JSONList, default=list)
    matched_at: Mapped[datetime]


class Export(Base):
    """A named export and how far it has got (see `storage.export_runs`)."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The id of the last finished run (export_runs.id); the next run looks back from
    # that run's start. Not a position among articles: those can commit out of order.
    watermark: Mapped[int | None] = mapped_column(BigInteger)
    last_run_at: Mapped[datetime | None]
    last_count: Mapped[int | None]


class ExportRun(Base):
    """One run of a named export: pending until its day's files are in place."""

    __tablename__ = "export_runs"
    __table_args__ = (
        Index("ix_export_runs_export_id_day", "export_id", "day"),
        # One pending run per export: a second writer cannot start another beside it.
        Index(
            "uq_export_runs_pending",
            "export_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, the folder it writes
    status: Mapped[str] = mapped_column(String(8))  # "pending" or "done"
    started_at: Mapped[datetime]
    # first_seen_at (or updated_at) lower bound of the rows looked at; None: all rows.
    window_start: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    count: Mapped[int | None]


class ExportItem(Base):
    """The ledger: one article revision claimed by one run of an export."""

    __tablename__ = "export_items"

    export_id: Mapped[int] = mapped_column(
        ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("export_runs.id", ondelete="CASCADE"), index=True
    )
