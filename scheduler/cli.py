"""The `newswatch` command line: a thin shell over the library.

Library code raises; only here does an error become one clear line on stderr and a
non-zero exit status. A mistake in the user's input never shows a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crawler.exceptions import CrawlerError
from scheduler.commands import (
    config_cmd,
    crawl_cmd,
    db_cmd,
    dedupe_cmd,
    export_cmd,
    feeds_cmd,
    poll_cmd,
    run_cmd,
    sources_cmd,
    topics_cmd,
)
from scheduler.commands.context import InputError, State, UserError
from scheduler.config import ConfigError
from scheduler.logs import configure_logging
from storage.exceptions import StorageError


class _Commands(click.Group):
    """Turn library errors raised by any subcommand into `UserError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise InputError("\n".join(str(p) for p in exc.problems)) from None
        except (StorageError, CrawlerError) as exc:
            raise UserError(f"newswatch: {exc}") from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $NEWSWATCH_CONFIG, then ./config.toml).",
)
@click.option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="newswatch")
@click.pass_context
def app(ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool) -> None:
    """Watch news feeds for your topics; store each article once; export them daily."""
    ctx.obj = State(config_path=config_path, verbosity=-1 if quiet else verbose)
    configure_logging(ctx.obj.verbosity)


app.add_command(run_cmd.run)
app.add_command(poll_cmd.poll)
app.add_command(crawl_cmd.crawl)
app.add_command(export_cmd.export)
app.add_command(sources_cmd.sources)
app.add_command(feeds_cmd.feeds)
app.add_command(topics_cmd.topics)
app.add_command(db_cmd.db)
app.add_command(dedupe_cmd.dedupe)
app.add_command(config_cmd.config)


def main() -> None:
    """Entry point of the `newswatch` console script."""
    app(prog_name="newswatch")
