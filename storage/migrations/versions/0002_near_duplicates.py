"""Near duplicates: MinHash signatures, their banded index, and duplicate links.

Revision ID: 0002
Revises: 0001
Create Date: 2024-10-22

- `articles.fingerprint` (a 64-bit integer, never written) gives way to
  `articles.signature`, the MinHash signature as bytes (see `storage.minhash`).
- `article_bands` holds one row per band bucket of each article that is no duplicate
  itself; the primary key (bucket, article_id) is the lookup index (and, on SQLite, the
  table itself: WITHOUT ROWID).
- `articles.duplicate_of` gets an index: exports gather a story's sources through it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite >= 3.35 drops a column in place; batch mode would copy the table, and
    # dropping the old copy would cascade-delete every sighting.
    op.drop_column("articles", "fingerprint")
    op.add_column("articles", sa.Column("signature", sa.LargeBinary(), nullable=True))
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
    op.create_table(
        "article_bands",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_bands_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bucket", "article_id", name="pk_article_bands"),
        # The primary key is the table: no rowid B-tree beside it on SQLite.
        sqlite_with_rowid=False,
    )
    op.create_index("ix_article_bands_article_id", "article_bands", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_article_bands_article_id", table_name="article_bands")
    op.drop_table("article_bands")
    op.drop_index("ix_articles_duplicate_of", table_name="articles")
    op.drop_column("articles", "signature")
    op.add_column("articles", sa.Column("fingerprint", sa.BigInteger(), nullable=True))
