"""`newswatch crawl`."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.commands import context
from scheduler.poller import Poller
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
    wanted = context.chosen(config.sites, names, "site", config)
    console = Console(stderr=True)
    summary = context.run_poller(config, lambda poller: _crawl(poller, wanted, console))
    click.echo(
        f"sites: {summary.sites}  failed: {summary.failed}  pages: {summary.pages}  "
        f"known: {summary.known}  new articles: {summary.new}  "
        f"duplicates: {summary.duplicates}  off-topic: {summary.off_topic}"
    )
    if summary.sites and summary.failed == summary.sites:
        ctx.exit(1)


async def _crawl(poller: Poller, names: list[str], console: Console) -> SiteSummary:
    with context.progress_bar(console) as progress:
        task = progress.add_task("crawling", total=len(names))

        def advance(source: SourceState, summary: SiteSummary) -> None:
            if console.is_terminal:
                state = "[red]failed[/]" if summary.failed else "done"
                progress.console.print(
                    f"{state} {source.name}: {summary.pages} pages, {summary.new} new"
                )
            progress.advance(task)

        return await poller.crawl_sites(names, progress=advance)
