"""`newswatch export`."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import click

from scheduler.commands import context
from scheduler.config import ConfigError, parse_duration
from storage.export import write_csv, write_jsonl
from storage.export_rows import export_rows

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
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    default="-",
    help="File to write, or '-' for standard output.",
    show_default=True,
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
) -> None:
    """Write stored articles in the export schema (see README), oldest first."""
    config = context.config(ctx)
    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    if topic is not None and topic not in {t.name for t in config.topics}:
        raise context.InputError(f"newswatch: no topic named {topic!r} in {config.path}")
    database = context.database(config)
    try:
        with ExitStack() as stack:
            out: TextIO
            if output == "-":
                out = sys.stdout
            else:
                path = Path(output)
                path.parent.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
            rows = export_rows(
                database,
                since=start,
                until=end,
                topic=topic,
                include_duplicates=include_duplicates,
                include_updates=include_updates,
            )
            writer = write_jsonl if format_ == "jsonl" else write_csv
            count = writer(rows, out)
    finally:
        database.dispose()
    if output != "-":
        click.echo(f"exported {count} articles to {output}", err=True)


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
