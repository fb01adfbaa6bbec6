"""Exactly-once daily exports: a record of each run and a ledger of exported items.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- `export_runs`: one row per run of a named export: the day it writes, when it started,
  the lower bound of the rows it looked at, pending until its files are in place. A
  partial unique index allows one pending run per export.
- `export_items`: the ledger, one row per (export, article, revision) exported, naming
  the run that claimed it. Its primary key is what makes an item exported once.
- `exports.watermark` now holds the id of the export's last finished run.
See `storage/export_runs.py` for the design.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "export_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("window_start", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["exports.id"],
            name="fk_export_runs_export_id_exports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_export_runs"),
    )
    op.create_index("ix_export_runs_export_id_day", "export_runs", ["export_id", "day"])
    op.create_index(
        "uq_export_runs_pending",
        "export_runs",
        ["export_id"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_table(
        "export_items",
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["exports.id"],
            name="fk_export_items_export_id_exports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_export_items_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["export_runs.id"],
            name="fk_export_items_run_id_export_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", "article_id", "revision", name="pk_export_items"),
    )
    op.create_index("ix_export_items_run_id", "export_items", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_export_items_run_id", table_name="export_items")
    op.drop_table("export_items")
    op.drop_index("uq_export_runs_pending", table_name="export_runs")
    op.drop_index("ix_export_runs_export_id_day", table_name="export_runs")
    op.drop_table("export_runs")
