"""The hash of a feed's last body, for servers that send no validators.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

`sources.body_hash`: sha256 of the last body fetched in full and processed. A feed whose
server sends neither ETag nor Last-Modified answers 200 every time; when its body hashes
the same, it is not parsed again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("body_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (see 0002).
    op.drop_column("sources", "body_hash")
