"""`newswatch poll`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.commands import context
from scheduler.poller import Poller, PollSummary, sync_config
from storage.records import CheckResult, SourceState


@click.command()
@click.argument("names", nargs=-1)
@click.pass_context
def poll(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Poll feeds once now, due or not, then print a summary.

    NAMES are the feeds to poll; by default every enabled feed.
    """
    config = context.config(ctx)
    known = {feed.name for feed in config.feeds}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise context.InputError(f"newswatch: no feed named {', '.join(unknown)} in {config.path}")
    disabled = sorted(f.name for f in config.feeds if f.name in names and not f.enabled)
    if disabled:
        raise context.InputError(
            f"newswatch: feed {', '.join(disabled)} is disabled (enabled = false in {config.path})"
        )
    wanted = list(names) if names else [f.name for f in config.feeds if f.enabled]
    loop.event_loop()
    database = context.database(config)
    pool = WorkerPool()
    try:
        sync_config(config, database)
        poller = Poller(config, database, pool)
        console = Console(stderr=True)
        summary = loop.run(lambda: _poll(poller, wanted, console))
    finally:
        pool.close()
        database.dispose()
    click.echo(
        f"feeds: {summary.feeds}  fetched: {summary.fetched}  "
        f"not modified: {summary.not_modified}  failed: {summary.failed}  "
        f"new articles: {summary.new}  duplicates: {summary.duplicates}  "
        f"off-topic: {summary.off_topic}  near-duplicates: {summary.near_duplicates}  "
        f"updated: {summary.updated}"
    )
    if summary.feeds and summary.failed == summary.feeds:
        ctx.exit(1)


async def _poll(poller: Poller, names: list[str], console: Console) -> PollSummary:
    sources = await poller.due(names)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("polling", total=len(sources))

        def advance(source: SourceState, result: CheckResult) -> None:
            if result.error and console.is_terminal:
                progress.console.print(f"[red]failed[/] {source.name}: {result.error}")
            progress.advance(task)

        return await poller.poll(sources, progress=advance)
