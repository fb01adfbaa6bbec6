"""`newswatch db ...`."""

from __future__ import annotations

import typer

from scheduler.commands import context

app = typer.Typer(help="Manage the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the database or migrate it to the current schema."""
    config = context.config(ctx)
    database = context.database(config)
    typer.echo(f"database is up to date: {database.display_url}")
    database.dispose()
