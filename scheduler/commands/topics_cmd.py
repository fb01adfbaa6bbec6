"""`newswatch topics ...`."""

from __future__ import annotations

import sys

import click

from crawler.topics import explain, parse_query, prepare_text


@click.group()
def topics() -> None:
    """Try topic queries."""


@topics.command()
@click.argument("query")
@click.argument("text", default="-")
def test(query: str, text: str) -> None:
    """Show whether TEXT matches QUERY, and which terms made it match.

    TEXT '-' (the default) reads standard input. Exits 0 on a match and 1 otherwise,
    like grep.
    """
    parsed = parse_query(query)
    body = sys.stdin.read() if text == "-" else text
    prepared = prepare_text(body)
    for term, found in explain(parsed, prepared):
        click.echo(f"  {'found  ' if found else 'missing'}  {term}")
    matched = parsed.match(prepared)
    if matched is None:
        click.echo("no match")
        click.get_current_context().exit(1)
    click.echo("match: " + ", ".join(matched))
