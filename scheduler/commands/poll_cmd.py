"""`newswatch poll`."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.commands import context
from scheduler.config import Config
from scheduler.poller import Poller, PollSummary, sync_config
from storage.records import CheckResult, SourceState
from storage.sources import disabled_reasons


@click.command()
@click.argument("names", nargs=-1)
@click.pass_context
def poll(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Poll feeds once now, due or not, then print a summary.

    NAMES are the feeds to poll; by default every enabled feed.
    """
    config = context.config(ctx)
    wanted = context.chosen(config.feeds, names, "feed", config)
    console = Console(stderr=True)
    if names:
        _refuse_disabled(config, wanted)
    summary = context.run_poller(config, lambda poller: _poll(poller, wanted, console))
    click.echo(
        f"feeds: {summary.feeds}  fetched: {summary.fetched}  "
        f"not modified: {summary.not_modified}  failed: {summary.failed}  "
        f"new articles: {summary.new}  duplicates: {summary.duplicates}  "
        f"off-topic: {summary.off_topic}  near-duplicates: {summary.near_duplicates}  "
        f"updated: {summary.updated}"
    )
    if summary.feeds and summary.failed == summary.feeds:
        ctx.exit(1)


def _refuse_disabled(config: Config, names: list[str]) -> None:
    """Refuse a named feed that newswatch disabled itself, saying why and how to undo it."""
    database = context.database(config)
    try:
        sync_config(config, database)
        reasons = disabled_reasons(database, names)
    finally:
        database.dispose()
    for name, reason in sorted(reasons.items()):
        raise context.InputError(
            f"newswatch: feed {name} was disabled by newswatch: {reason} "
            f"(`newswatch feeds enable {name}` polls it again)"
        )


async def _poll(poller: Poller, names: list[str], console: Console) -> PollSummary:
    sources = await poller.due(names)
    with context.progress_bar(console) as progress:
        task = progress.add_task("polling", total=len(sources))

        def advance(source: SourceState, result: CheckResult) -> None:
            if result.error:
                progress.console.print(f"[red]failed[/] {source.name}: {result.error}")
            progress.advance(task)

        # Off a terminal the bar shows nothing: each feed's signal would be sent for nothing.
        return await poller.poll(sources, progress=advance if console.is_terminal else None)
