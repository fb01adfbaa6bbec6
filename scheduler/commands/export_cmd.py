"""`newswatch export`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from scheduler.commands import context
from scheduler.config import ConfigError, parse_duration
from scheduler.config_model import Config
from storage.daily_export import run_export_alone
from storage.export import write_all
from storage.export_files import StagedFile
from storage.export_formats import FORMATS, open_writer
from storage.export_parquet import MISSING_PYARROW, parquet_available
from storage.export_rows import export_rows
from storage.probe import check_export_folder

WHEN_HELP = 'An ISO date or time (UTC unless it says), "today", "yesterday", or an age like "24h".'


@click.command()
@click.option("--since", help=f"First seen at or after this. {WHEN_HELP}")
@click.option("--until", help=f"First seen before this. {WHEN_HELP}")
@click.option("--topic", help="Only articles matching this topic.")
@click.option(
    "--include-duplicates",
    is_flag=True,
    help="Also write near duplicates, each with duplicate_of naming the story's first article.",
)
@click.option(
    "--include-updates",
    is_flag=True,
    help="Also write articles revised between --since and --until, whenever first seen.",
)
@click.option(
    "--format",
    "-f",
    "format_",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="Output format (parquet needs pyarrow: pip install 'newswatch[parquet]').",
)
@click.option(
    "--output",
    "-o",
    default="-",
    help="File to write (replaced whole, atomically), or '-' for standard output.",
    show_default=True,
)
@click.option(
    "--name",
    help="Run the named [[exports]] entry now into its folder and move its watermark; "
    "the other options do not apply.",
)
@click.pass_context
def export(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    topic: str | None,
    include_duplicates: bool,
    include_updates: bool,
    format_: str,
    output: str,
    name: str | None,
) -> None:
    """Write stored articles in the export schema (see README), oldest first.

    Without --name this only reads: no export's watermark moves.
    """
    config = context.config(ctx)
    if name is not None:
        if given := _selection_flags(ctx):
            raise context.InputError(
                f"newswatch: --name runs the export as configured; drop {', '.join(given)}"
            )
        _run_named(config, name)
        return
    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    if topic is not None and topic not in {t.name for t in config.topics}:
        raise context.InputError(f"newswatch: no topic named {topic!r} in {config.path}")
    if format_ == "parquet" and not parquet_available():
        raise context.InputError(f"newswatch: {MISSING_PYARROW.removeprefix('storage: ')}")
    database = context.database(config)
    try:
        rows = export_rows(
            database,
            since=start,
            until=end,
            topic=topic,
            include_duplicates=include_duplicates,
            include_updates=include_updates,
        )
        title = f"newswatch: {topic}" if topic else "newswatch"
        if output == "-":
            out = sys.stdout.buffer
            writer = open_writer(format_, out, name=title, title=title, updated=now)
            count = write_all(writer, rows)
            out.flush()
        else:
            try:
                path = Path(output)
                path.parent.mkdir(parents=True, exist_ok=True)
                with StagedFile(path) as staged:
                    writer = open_writer(
                        format_, staged.stream, name=title, title=title, updated=now
                    )
                    count = write_all(writer, rows)
                    staged.finish()
                staged.publish()
            except OSError as error:
                raise context.UserError(
                    f"newswatch: cannot write {output}: {error.strerror or error}"
                ) from None
    finally:
        database.dispose()
    if output != "-":
        click.echo(f"exported {count} articles to {output}", err=True)


def _selection_flags(ctx: click.Context) -> list[str]:
    """Return the selection options given on the command line, by their long flag."""
    params = (
        "since",
        "until",
        "topic",
        "include_duplicates",
        "include_updates",
        "format_",
        "output",
    )
    return [
        max(param.opts, key=len)
        for param in ctx.command.params
        if param.name in params
        and ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE
    ]


def _run_named(config: Config, name: str) -> None:
    """Run the configured export `name` now, as the daemon would."""
    export = config.export_named(name)
    if export is None:
        known = ", ".join(e.name for e in config.exports) or "none defined"
        raise context.InputError(
            f"newswatch: no export named {name!r} in {config.path} (known: {known})"
        )
    now = datetime.now(UTC)
    day = now.astimezone(config.daemon.tzinfo).date().isoformat()
    check_export_folder(export.name, export.directory)
    database = context.database(config)
    try:
        written = run_export_alone(database, config.export_spec(export), day)
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        raise context.UserError(
            f"newswatch: cannot write export {name!r}{where}: {error.strerror or error}"
        ) from None
    finally:
        database.dispose()
    if written is None:
        raise context.UserError(
            f"newswatch: export {name!r} is being run by another newswatch now; try again later"
        )
    for result in written:
        finished = " (finished an interrupted run)" if result.resumed else ""
        click.echo(f"exported {result.count} articles to {result.directory}{finished}", err=True)


def parse_when(value: str, now: datetime) -> datetime:
    """Return the moment a --since/--until value names, in UTC."""
    text = value.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight
    if text == "yesterday":
        return midnight - timedelta(days=1)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            return now - timedelta(seconds=parse_duration(text))
        except (ConfigError, ValueError):
            raise context.InputError(
                f"newswatch: cannot read the time {value!r}. {WHEN_HELP}"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
