"""What every command shares: the global options and how to load the config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import typer

from scheduler.config import Config, load_config
from storage.db import Database


class UserError(click.ClickException):
    """An error in the user's input or environment: shown as is, without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        """Print the message, line by line, to stderr."""
        click.echo(self.format_message(), err=True)


@dataclass(frozen=True, slots=True)
class State:
    """The global options, as given on the command line."""

    config_path: Path | None
    verbosity: int


def state(ctx: typer.Context) -> State:
    """Return the global options of this invocation."""
    found = ctx.find_object(State)
    return found if found is not None else State(None, 0)


def config(ctx: typer.Context) -> Config:
    """Load the config named by the global options (raises ConfigError)."""
    return load_config(state(ctx).config_path)


def database(config: Config) -> Database:
    """Open the configured database and bring its schema up to date."""
    db = Database.open(config.storage.url)
    try:
        db.upgrade()
    except BaseException:
        db.dispose()
        raise
    return db
