"""`newswatch topics ...`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crawler.topics import explain, parse_query, prepare_text

app = typer.Typer(help="Try topic queries.", no_args_is_help=True)


@app.command("test")
def test(
    query: Annotated[str, typer.Argument(help='A topic query, e.g. \'"North Korea" AND Russia\'.')],
    text: Annotated[
        str, typer.Argument(help="The text to match; '-' or nothing reads standard input.")
    ] = "-",
) -> None:
    """Show whether a text matches a query, and which terms made it match.

    Exits 0 on a match and 1 otherwise, like grep.
    """
    parsed = parse_query(query)
    body = sys.stdin.read() if text == "-" else text
    prepared = prepare_text(body)
    for term, found in explain(parsed, prepared):
        typer.echo(f"  {'found  ' if found else 'missing'}  {term}")
    matched = parsed.match(prepared)
    if matched is None:
        typer.echo("no match")
        raise typer.Exit(1)
    typer.echo("match: " + ", ".join(matched))
