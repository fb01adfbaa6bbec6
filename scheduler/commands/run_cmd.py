"""`newswatch run`."""

from __future__ import annotations

from dataclasses import replace

import click

from scheduler.commands import context
from scheduler.config import listen_address
from scheduler.daemon import run_daemon
from scheduler.logs import LOG_FORMATS, configure_logging


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    try:
        return listen_address(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


@click.command()
@click.option(
    "--metrics",
    metavar="HOST:PORT",
    callback=_address,
    help="Serve /healthz and Prometheus /metrics at HOST:PORT, e.g. 127.0.0.1:9108 "
    "(default: daemon.metrics in the config; off).",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    help="Log as text lines, or as json: one JSON object per line (default: daemon.log_format).",
)
@click.pass_context
def run(ctx: click.Context, metrics: tuple[str, int] | None, log_format: str | None) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; logs go to stderr.

    Changes to the config file are applied while it runs, within a few seconds, or at
    once on SIGHUP; storage.url and daemon.timezone need a restart.
    """
    config = context.config(ctx)
    daemon = replace(
        config.daemon,
        metrics=metrics or config.daemon.metrics,
        log_format=log_format or config.daemon.log_format,
    )
    configure_logging(context.state(ctx).verbosity, daemon.log_format)
    run_daemon(replace(config, daemon=daemon))
