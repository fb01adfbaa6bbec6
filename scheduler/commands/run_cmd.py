"""`newswatch run`."""

from __future__ import annotations

import click

from scheduler.commands import context
from scheduler.daemon import run_daemon


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; logs go to stderr.

    Changes to the config file are applied while it runs, within a few seconds, or at
    once on SIGHUP; storage.url and daemon.timezone need a restart.
    """
    run_daemon(context.config(ctx))
