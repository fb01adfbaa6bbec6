"""What every command shares: the global options, errors, config and database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.config import Config, load_config
from scheduler.poller import Poller, sync_config
from storage.db import Database

T = TypeVar("T")


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


def database(config: Config, *, migrate_elsewhere: bool = False) -> Database:
    """Open the configured database and bring its schema up to date.

    Long runs pass `migrate_elsewhere`: a migration then runs in a child process, and
    this one never loads Alembic (see `Database.upgrade`).
    """
    db = Database.open(config.storage.url)
    try:
        db.upgrade(elsewhere=migrate_elsewhere)
    except BaseException:
        db.dispose()
        raise
    return db


class Named(Protocol):
    """A configured source: a feed or a site."""

    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool: ...


def chosen(sources: Sequence[Named], names: Sequence[str], kind: str, config: Config) -> list[str]:
    """Return the sources a command was asked for: those named, else every enabled one.

    An unknown or a disabled name is an input error, reported before anything runs.
    """
    unknown = sorted(set(names) - {s.name for s in sources})
    if unknown:
        raise InputError(f"newswatch: no {kind} named {', '.join(unknown)} in {config.path}")
    disabled = sorted(s.name for s in sources if s.name in names and not s.enabled)
    if disabled:
        raise InputError(
            f"newswatch: {kind} {', '.join(disabled)} is disabled "
            f"(enabled = false in {config.path})"
        )
    return list(names) if names else [s.name for s in sources if s.enabled]


def progress_bar(console: Console) -> Progress:
    """Return the progress display of long commands; silent when not on a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def run_poller(config: Config, work: Callable[[Poller], Awaitable[T]]) -> T:
    """Run `work` on the event loop with a poller over the migrated, synced database."""
    loop.event_loop()
    db = database(config, migrate_elsewhere=True)
    pool = WorkerPool()
    pool.start()
    try:
        sync_config(config, db)
        poller = Poller(config, db, pool)
        return loop.run(lambda: work(poller))
    finally:
        pool.close()
        db.dispose()
