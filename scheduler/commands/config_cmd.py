"""`newswatch config ...`."""

from __future__ import annotations

import typer

from scheduler.commands import context
from scheduler.config import load_config

app = typer.Typer(help="Inspect the config file.", no_args_is_help=True)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Validate config.toml; name each bad key, with its line, and exit non-zero."""
    config = load_config(context.state(ctx).config_path)
    typer.echo(f"{config.path}: OK ({len(config.feeds)} feeds, {len(config.topics)} topics)")
