"""`newswatch config ...`."""

from __future__ import annotations

import click

from scheduler.commands import context
from storage.probe import check_database, check_export_folder


@click.group()
def config() -> None:
    """Inspect the config file."""


@config.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config, then check its database and export folders can be used."""
    loaded = context.config(ctx)
    check_database(loaded.storage.url)
    for export in loaded.exports:
        check_export_folder(export.name, export.directory)
    counts = f"{len(loaded.feeds)} feeds{_optional(len(loaded.sites), 'site')}"
    counts += f", {len(loaded.topics)} topics{_optional(len(loaded.exports), 'export')}"
    click.echo(f"{loaded.path}: OK ({counts})")


def _optional(count: int, noun: str) -> str:
    """Return ", 1 site" or ", 2 sites"; nothing for none."""
    return f", {count} {noun}{'' if count == 1 else 's'}" if count else ""
