"""Where an article's publication date and text came from.

Revision ID: 0003
Revises: 0002
Create Date: 2024-10-23

`articles.published_from`: feed, json-ld, meta, url or page (the page text, as read by
trafilatura); NULL when the date is unknown, or for articles stored before this revision.
`articles.text_from`: page (extracted from the article's page) or feed (the feed's own
content, when there was no page to fetch or its extraction failed or gave less).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("published_from", sa.String(16), nullable=True))
    op.add_column("articles", sa.Column("text_from", sa.String(8), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (see 0002).
    op.drop_column("articles", "text_from")
    op.drop_column("articles", "published_from")
