"""`newswatch dedupe ...`."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.commands import context
from scheduler.config import Config
from storage.db import Database
from storage.locks import singleton
from storage.near_duplicates import rebuild as rebuild_index

# Two rebuilds at once would each rewrite the other's links: one at a time per database.
REBUILD_LOCK = "dedupe rebuild"


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
        with singleton(database, REBUILD_LOCK) as held:
            if not held:
                raise context.UserError(
                    "newswatch: dedupe rebuild is already running against "
                    f"{database.display_url} (another process holds its lock)"
                )
            articles, duplicates = _rebuild(database, config, console)
    finally:
        database.dispose()
    click.echo(f"articles: {articles}  near-duplicates: {duplicates}")


def _rebuild(database: Database, config: Config, console: Console) -> tuple[int, int]:
    with context.progress_bar(console) as progress:
        task = progress.add_task("fingerprinting", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return rebuild_index(database, config.dedupe, advance)
