"""`newswatch run`."""

from __future__ import annotations

import typer

from scheduler.commands import context
from scheduler.daemon import run_daemon


def run(ctx: typer.Context) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; logs go to stderr."""
    run_daemon(context.config(ctx))
