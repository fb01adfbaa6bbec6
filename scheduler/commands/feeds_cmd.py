"""`newswatch feeds ...`: manage the [[feeds]] of config.toml."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from crawler.discovery import FeedLink, feed_links
from crawler.spiders.fetch import Fetched, FetchSpider
from scheduler import loop
from scheduler.commands import context
from scheduler.config import Config, config_path, unknown_topic
from scheduler.config_edit import NewFeed, add_feeds, remove_feed
from scheduler.durations import parse_duration
from scheduler.opml import read_opml, write_opml
from scheduler.poller import crawler_runner, http_settings, sync_config
from storage.sources import enable_source


@click.group()
def feeds() -> None:
    """Add, remove, import and export the feeds of the config file.

    The file is edited in place: comments and layout are kept, and an edit that would
    make the config invalid is refused. A running daemon applies the change within a
    few seconds (or at once on SIGHUP).
    """


@feeds.command()
@click.argument("url")
@click.option("--name", default="", help="Name of the feed (default: from its host).")
@click.option(
    "--topic", "topics", multiple=True, help="Match only this topic (repeatable; default: all)."
)
@click.option("--interval", help='A fixed polling interval, e.g. "15m".')
@click.option(
    "--discover/--no-discover",
    default=True,
    show_default=True,
    help="Fetch URL first: if it is a web page, add the feed it links to.",
)
@click.pass_context
def add(
    ctx: click.Context,
    url: str,
    name: str,
    topics: tuple[str, ...],
    interval: str | None,
    discover: bool,
) -> None:
    """Add the feed at URL, or the feed that the page at URL links to."""
    config = context.config(ctx)
    if not url.startswith(("http://", "https://")):
        raise context.InputError(f"newswatch: {url!r} is not an http(s) URL")
    interval_s = None
    if interval is not None:
        try:
            interval_s = parse_duration(interval)
        except ValueError as error:
            raise context.InputError(f"newswatch: --interval: {error}") from None
    for topic in topics:
        if (problem := unknown_topic(topic, (t.name for t in config.topics))) is not None:
            raise context.InputError(f"newswatch: --topic: {problem}")
    feed = _discover(config, url) if discover else FeedLink(url, "")
    feed_url = feed.url
    added = add_feeds(config.path, [NewFeed(feed_url, name, feed.title, topics, interval_s)])
    if not added:
        raise context.InputError(f"newswatch: {feed_url} is already in {config.path}")
    click.echo(f"added feed {added[0]}: {feed_url}")


@feeds.command()
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove the feed NAME; the articles it brought stay stored."""
    path = config_path(context.state(ctx).config_path)
    remove_feed(path, name)
    click.echo(f"removed feed {name}")


@feeds.command()
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Poll the feed NAME again after newswatch disabled it.

    newswatch disables a feed that answers 410 Gone, or that fails for longer than
    polling.disable_after; `newswatch sources` says why. Its errors are forgotten and
    it is due at once: a running daemon polls it at its next tick. A feed switched off
    in the config (enabled = false) is switched on there, not by this command.
    """
    config = context.config(ctx)
    feed = next((feed for feed in config.feeds if feed.name == name), None)
    if feed is None:
        raise context.InputError(f"newswatch: no feed named {name} in {config.path}")
    if not feed.enabled:
        raise context.InputError(
            f"newswatch: feed {name} is disabled in the config: set enabled = true in {config.path}"
        )
    database = context.database(config)
    try:
        sync_config(config, database)
        reason = enable_source(database, name, datetime.now(UTC))
    finally:
        database.dispose()
    if reason is None:
        click.echo(f"feed {name} is not disabled; nothing to do")
    else:
        click.echo(f"enabled feed {name} again (it was disabled: {reason})")


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, file: Path) -> None:
    """Add the feeds an OPML FILE lists; '-' reads standard input.

    Feeds whose URL the config already has are skipped.
    """
    config = context.config(ctx)
    data = sys.stdin.buffer.read() if str(file) == "-" else _read_bytes(file)
    found = read_opml(data, str(file))
    added = add_feeds(config.path, found)
    click.echo(f"added {len(added)} of {len(found)} feeds from {file}")


@feeds.command("export-opml")
@click.option("--output", "-o", default="-", help="File to write, or '-' for standard output.")
@click.pass_context
def export_opml(ctx: click.Context, output: str) -> None:
    """Write the configured feeds as OPML, for other feed readers."""
    document = write_opml(context.config(ctx).feeds)
    if output == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(document)


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise context.InputError(f"newswatch: cannot read {file}: {error.strerror}") from None


def _discover(config: Config, url: str) -> FeedLink:
    """Return the feed at `url`: the URL itself, or the first feed its page links to."""
    fetched = Fetched(url)

    async def fetch() -> None:
        await crawler_runner(http_settings(config)).crawl(FetchSpider, url=url, result=fetched)

    loop.run(fetch)
    if fetched.error or fetched.headers is None:
        reason = fetched.error or "no response"
        # A refused address is refused when polling too: --no-discover would not help.
        hint = (
            "set network.allow_private = true to fetch it"
            if reason.startswith("blocked:")
            else "add --no-discover"
        )
        raise context.UserError(f"newswatch: cannot fetch {url}: {reason} ({hint})")
    links = feed_links(fetched.body, fetched.headers, fetched.url)
    if not links:
        raise context.UserError(
            f"newswatch: {url} is neither a feed nor a page that links to one (add --no-discover)"
        )
    return links[0]
