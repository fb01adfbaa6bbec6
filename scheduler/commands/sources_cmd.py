"""`newswatch sources`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from scheduler.commands import context
from scheduler.durations import format_duration
from scheduler.poller import sync_config
from storage.health import source_health


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """Show each source's health: checks, interval, errors, new articles, staleness.

    A source is "stale" when it has brought nothing new for ten of its intervals (and
    at least three days), "failing" after an error, "disabled" when switched off in
    the config or by newswatch itself (410 Gone, or failing for longer than
    polling.disable_after; the notes say why). The notes also show a feed that a
    permanent redirect moved.
    """
    config = context.config(ctx)
    database = context.database(config)
    try:
        sync_config(config, database)  # so feeds never polled yet are listed too
        rows = source_health(database, datetime.now(UTC))
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    now = datetime.now(UTC)
    table = Table(
        "name",
        "kind",
        "url",
        "state",
        "last check",
        "status",
        "next check",
        "interval",
        "errors",
        "last new",
        "articles",
        "24h",
        "7d",
        "last error",
        "notes",
    )
    for row in rows:
        table.add_row(
            row.name,
            row.kind,
            row.url,
            row.state,
            _ago(row.last_checked_at, now),
            str(row.last_status or ""),
            _ago(row.next_check_at, now) if row.disabled_by is None else "-",
            format_duration(row.interval_s),
            str(row.error_count),
            _ago(row.last_new_at, now),
            str(row.articles),
            str(row.articles_24h),
            str(row.articles_7d),
            row.last_error or "",
            row.notes,
        )
    console = Console()
    if not console.is_terminal:
        console.width = 1000  # piped: no terminal to fit, so never cut a cell short
    console.print(table)


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    text = (
        f"{span}s"
        if span < 120
        else f"{span // 60}m"
        if span < 7200
        else f"{span // 3600}h"
        if span < 172800
        else f"{span // 86400}d"
    )
    return f"in {text}" if seconds > 0 else f"{text} ago"
