"""The `newswatch` command line: a thin shell over the library.

Library code raises; only here does an error become one clear line on stderr and a
non-zero exit status. A mistake in the user's input never shows a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from crawler.exceptions import CrawlerError
from scheduler.commands import config_cmd, db_cmd, export_cmd, poll_cmd, run_cmd, sources_cmd
from scheduler.commands import topics_cmd
from scheduler.commands.context import State, UserError
from scheduler.config import ConfigError
from storage.exceptions import StorageError


class _Commands(TyperGroup):
    """Turn library errors raised by any subcommand into `UserError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise UserError("\n".join(str(p) for p in exc.problems), exit_code=2) from None
        except (StorageError, CrawlerError) as exc:
            raise UserError(f"newswatch: {exc}") from None


app = typer.Typer(
    cls=_Commands,
    name="newswatch",
    help="Watch news feeds for your topics; store each article once; export them daily.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $NEWSWATCH_CONFIG, then ./config.toml).",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    """Watch news feeds for your topics; store each article once; export them daily."""
    ctx.obj = State(config_path=config, verbosity=-1 if quiet else verbose)
    configure_logging(ctx.obj.verbosity)


def configure_logging(verbosity: int) -> None:
    """Log one line per event to stderr; Scrapy's own chatter only when asked."""
    ours = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    scrapy_level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(ours)
    for name in ("scrapy", "twisted", "py.warnings", "apscheduler", "trafilatura", "htmldate"):
        logging.getLogger(name).setLevel(scrapy_level)
    logging.getLogger("alembic").setLevel(logging.WARNING if verbosity < 1 else logging.INFO)


app.command("run", help=run_cmd.run.__doc__)(run_cmd.run)
app.command("poll", help=poll_cmd.poll.__doc__)(poll_cmd.poll)
app.command("export", help=export_cmd.export.__doc__)(export_cmd.export)
app.command("sources", help=sources_cmd.sources.__doc__)(sources_cmd.sources)
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(db_cmd.app, name="db")
app.add_typer(config_cmd.app, name="config")


def main() -> None:
    """Entry point of the `newswatch` console script."""
    app()
