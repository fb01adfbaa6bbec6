"""What every command shares: the global options, errors, config and database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from scheduler.config import Config, load_config
from storage.db import Database


class UserError(click.ClickException):
    """An error in the user's input or environment: shown as is, without a traceback."""

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message, line by line, to stderr."""
        click.echo(self.format_message(), err=True)


class InputError(UserError):
    """A bad config or argument: exit status 2, as for a usage error."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class State:
    """The global options, as given on the command line."""

    config_path: Path | None
    verbosity: int


def state(ctx: click.Context) -> State:
    """Return the global options of this invocation."""
    found = ctx.find_object(State)
    return found if found is not None else State(None, 0)


def config(ctx: click.Context) -> Config:
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
