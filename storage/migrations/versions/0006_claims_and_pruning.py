"""Leases on sources (several daemons on one PostgreSQL), and pruned article texts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`sources.claimed_by` names the daemon that claimed a due source (host:pid:random) and
`sources.claimed_until` says when its lease runs out; a daemon that dies leaves a lease
that expires, and another daemon then claims the source. Both are NULL when unclaimed.

`articles.pruned_at` says when `[storage] keep` emptied an old article's text and
summary; its identity columns stay, so the story is still recognised when it comes back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("sources", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("articles", sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (see 0002).
    op.drop_column("articles", "pruned_at")
    op.drop_column("sources", "claimed_until")
    op.drop_column("sources", "claimed_by")
