"""`newswatch crawl`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.commands import context
from scheduler.poller import Poller, sync_config
from scheduler.site_crawls import SiteSummary
from storage.records import SourceState


@click.command()
@click.argument("names", nargs=-1)
@click.pass_context
def crawl(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Run site spiders once now, whatever their schedule, then print a summary.

    NAMES are the [[sites]] to crawl; by default every enabled site.
    """
    config = context.config(ctx)
    known = {site.name for site in config.sites}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise context.InputError(f"newswatch: no site named {', '.join(unknown)} in {config.path}")
    disabled = sorted(s.name for s in config.sites if s.name in names and not s.enabled)
    if disabled:
        raise context.InputError(
            f"newswatch: site {', '.join(disabled)} is disabled (enabled = false in {config.path})"
        )
    wanted = list(names) if names else [s.name for s in config.sites if s.enabled]
    loop.event_loop()
    database = context.database(config)
    pool = WorkerPool()
    try:
        sync_config(config, database)
        poller = Poller(config, database, pool)
        console = Console(stderr=True)
        summary = loop.run(lambda: _crawl(poller, wanted, console))
    finally:
        pool.close()
        database.dispose()
    click.echo(
        f"sites: {summary.sites}  failed: {summary.failed}  pages: {summary.pages}  "
        f"known: {summary.known}  new articles: {summary.new}  "
        f"duplicates: {summary.duplicates}  off-topic: {summary.off_topic}"
    )
    if summary.sites and summary.failed == summary.sites:
        ctx.exit(1)


async def _crawl(poller: Poller, names: list[str], console: Console) -> SiteSummary:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("crawling", total=len(names))

        def advance(source: SourceState, summary: SiteSummary) -> None:
            if console.is_terminal:
                state = "[red]failed[/]" if summary.failed else "done"
                progress.console.print(
                    f"{state} {source.name}: {summary.pages} pages, {summary.new} new"
                )
            progress.advance(task)

        return await poller.crawl_sites(names, progress=advance)
