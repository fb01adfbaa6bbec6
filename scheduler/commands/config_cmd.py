"""`newswatch config ...`."""

from __future__ import annotations

import click

from scheduler.commands import context
from storage.probe import check_database


@click.group()
def config() -> None:
    """Inspect the config file."""


@config.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config and reach its database; name each problem, exit non-zero."""
    loaded = context.config(ctx)
    check_database(loaded.storage.url)
    count = len(loaded.sites)
    sites = f", {count} site{'' if count == 1 else 's'}" if count else ""
    counts = f"{len(loaded.feeds)} feeds{sites}, {len(loaded.topics)} topics"
    click.echo(f"{loaded.path}: OK ({counts})")
