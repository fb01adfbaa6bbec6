"""`newswatch db ...`."""

from __future__ import annotations

import click

from scheduler.commands import context


@click.group()
def db() -> None:
    """Manage the database."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Create the database or migrate it to the current schema."""
    config = context.config(ctx)
    database = context.database(config)
    click.echo(f"database is up to date: {database.display_url}")
    database.dispose()
