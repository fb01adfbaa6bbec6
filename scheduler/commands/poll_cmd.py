"""`newswatch poll`."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.commands import context
from scheduler.poller import Poller, PollSummary
from storage.records import CheckResult, SourceState


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
    summary = context.run_poller(
        config, lambda poller: _poll(poller, wanted, console, named=bool(names))
    )
    click.echo(
        f"feeds: {summary.feeds}  fetched: {summary.fetched}  "
        f"not modified: {summary.not_modified}  failed: {summary.failed}  "
        f"new articles: {summary.new}  duplicates: {summary.duplicates}  "
        f"off-topic: {summary.off_topic}  near-duplicates: {summary.near_duplicates}  "
        f"updated: {summary.updated}"
    )
    if summary.feeds and summary.failed == summary.feeds:
        ctx.exit(1)


async def _poll(poller: Poller, names: list[str], console: Console, named: bool) -> PollSummary:
    sources = await poller.due(names)
    # Enabled in the config, yet left out: newswatch disabled it (410, failing too long).
    stopped = sorted(set(names) - {source.name for source in sources})
    if named and stopped:
        listed = ", ".join(stopped)
        raise context.InputError(
            f"newswatch: feed {listed} was disabled by newswatch (`newswatch sources` says "
            f"why; `newswatch feeds enable NAME` polls it again)"
        )
    with context.progress_bar(console) as progress:
        task = progress.add_task("polling", total=len(sources))

        def advance(source: SourceState, result: CheckResult) -> None:
            if result.error and console.is_terminal:
                progress.console.print(f"[red]failed[/] {source.name}: {result.error}")
            progress.advance(task)

        return await poller.poll(sources, progress=advance)
