"""`newswatch dedupe ...`."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.commands import context
from storage.near_duplicates import rebuild as rebuild_index


@click.group()
def dedupe() -> None:
    """Maintain the near-duplicate links between stored articles."""


@dedupe.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Recompute every article's fingerprint and near-duplicate link.

    Run it after changing [dedupe] in the config. Articles are taken oldest first, a
    chunk per transaction, so a running daemon is only briefly held up.
    """
    config = context.config(ctx)
    database = context.database(config)
    console = Console(stderr=True)
    try:
        with context.progress_bar(console) as progress:
            task = progress.add_task("fingerprinting", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            articles, duplicates = rebuild_index(database, config.dedupe, advance)
    finally:
        database.dispose()
    click.echo(f"articles: {articles}  near-duplicates: {duplicates}")
