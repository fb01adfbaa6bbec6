"""`newswatch config ...`."""

from __future__ import annotations

import click

from scheduler.commands import context


@click.group()
def config() -> None:
    """Inspect the config file."""


@config.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config; name each bad key, with its line, and exit non-zero."""
    loaded = context.config(ctx)
    count = len(loaded.sites)
    sites = f", {count} site{'' if count == 1 else 's'}" if count else ""
    counts = f"{len(loaded.feeds)} feeds{sites}, {len(loaded.topics)} topics"
    click.echo(f"{loaded.path}: OK ({counts})")
