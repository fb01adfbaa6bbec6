"""`newswatch db ...`."""

from __future__ import annotations

import click

from scheduler.commands import context
from scheduler.maintenance import run_maintenance


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


@db.command()
@click.pass_context
def maintain(ctx: click.Context) -> None:
    """Prune old articles' text ([storage] keep) and optimise the database, now.

    The daemon runs this every night; with several daemons on one PostgreSQL it runs
    once, under a lock, and this command says so when a daemon is at it already.
    """
    config = context.config(ctx)
    database = context.database(config)
    try:
        report = run_maintenance(config, database)
    finally:
        database.dispose()
    if report is None:
        raise context.UserError("newswatch: maintenance is already running (its lock is held)")
    click.echo(f"pruned articles: {report.pruned}  ran: {', '.join(report.statements)}")
