"""Sources that moved, and sources newswatch disabled itself.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

`sources.configured_url`: the URL as config.toml gives it. `sources.url` is the URL
polled, which a permanent redirect (301/308) moves; `moved_at` says when it last did.
Keeping both lets a restart's config sync tell a user's edit from a move.
`sources.disabled_reason` / `disabled_at`: set when newswatch disabled the source itself
(410 Gone, or failing for longer than `polling.disable_after`), apart from the config's
`enabled`, so that no config sync silently enables it again.
`sources.failing_since`: when the current run of consecutive errors began.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("configured_url", "moved_at", "disabled_reason", "disabled_at", "failing_since")


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.add_column("sources", sa.Column("configured_url", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("moved_at", when, nullable=True))
    op.add_column("sources", sa.Column("disabled_reason", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("disabled_at", when, nullable=True))
    op.add_column("sources", sa.Column("failing_since", when, nullable=True))
    # Every source stored so far polls the URL its config gave.
    op.execute("UPDATE sources SET configured_url = url")


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (see 0002).
    for column in reversed(_COLUMNS):
        op.drop_column("sources", column)
