"""`newswatch run`."""

from __future__ import annotations

import click

from scheduler.commands import context
from scheduler.daemon import run_daemon


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; logs go to stderr."""
    run_daemon(context.config(ctx))
