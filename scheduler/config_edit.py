"""Edit config.toml in place, keeping the user's comments and layout (tomlkit).

Every edit is validated as a whole config before it is written, and written atomically
(a temporary file renamed over the old one), so a mistake never leaves a broken or
half-written config behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace

from scheduler.config import Config, ConfigError, Problem, config_from_text
from scheduler.durations import format_duration


@dataclass(frozen=True, slots=True)
class NewFeed:
    """A feed to add; an empty name is derived from its title or host."""

    url: str
    name: str = ""
    title: str = ""
    topics: tuple[str, ...] = ()
    interval_s: int | None = None


def add_feeds(path: Path, feeds: Sequence[NewFeed]) -> list[str]:
    """Append feeds whose URL the config does not have yet; return the names added."""
    document = _read(path)
    table = _feeds(document)
    names = {str(t.get("name")) for t in table}
    urls = {str(t.get("url")) for t in table}
    added: list[str] = []
    for feed in feeds:
        if feed.url in urls:
            continue
        if feed.name and feed.name in names:
            raise ConfigError([Problem("feeds", f'a feed named "{feed.name}" exists already')])
        name = feed.name or unique_name(feed.title or urlsplit(feed.url).hostname or "", names)
        entry = tomlkit.table()
        entry.add("name", name)
        entry.add("url", feed.url)
        if feed.topics:
            entry.add("topics", list(feed.topics))
        if feed.interval_s is not None:
            entry.add("interval", format_duration(feed.interval_s))
        if len(table):
            # What follows the last feed's keys (blank lines, and comments that introduce
            # whatever comes after the feeds) follows the new feed instead.
            for item in _trailing_trivia(table[-1]):
                entry.add(item)
            # A blank line between tables, as a person would write them.
            table[-1].add(tomlkit.nl())
        table.append(entry)
        names.add(name)
        urls.add(feed.url)
        added.append(name)
    if added:
        _write(path, document)
    return added


def remove_feed(path: Path, name: str) -> None:
    """Remove the feed named `name`; its stored articles are kept."""
    document = _read(path)
    table = _feeds(document)
    for index, entry in enumerate(table):
        if entry.get("name") == name:
            del table[index]
            _write(path, document)
            return
    raise ConfigError([Problem("feeds", f'no feed named "{name}"', file=str(path))])


def _trailing_trivia(table: Table) -> list[Whitespace | Comment]:
    """Remove and return what follows the table's last key from its first blank line on.

    Comments right under the last key belong to the table (a key commented out); after
    a blank line they introduce what comes next in the file.
    """
    body = table.value.body
    start = len(body)
    while (
        start
        and body[start - 1][0] is None
        and isinstance(body[start - 1][1], Whitespace | Comment)
    ):
        start -= 1
    blank = next(
        (i for i in range(start, len(body)) if isinstance(body[i][1], Whitespace)), len(body)
    )
    trailing = [item for _, item in body[blank:] if isinstance(item, Whitespace | Comment)]
    del body[blank:]
    return trailing


def unique_name(text: str, taken: Iterable[str]) -> str:
    """Return a config name made from `text` ("BBC News - World" -> "bbc-news-world")."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:56] or "feed"
    base = base.removeprefix("www-")
    used = set(taken)
    name, number = base, 2
    while name in used:
        name, number = f"{base}-{number}", number + 1
    return name


def _read(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([Problem("", f"cannot read: {error.strerror}", file=str(path))]) from None
    config_from_text(text, path)  # refuse to edit a config that is already broken
    return tomlkit.parse(text)


def _feeds(document: tomlkit.TOMLDocument) -> AoT:
    if "feeds" not in document:
        document.add(tomlkit.nl())
        document.append("feeds", tomlkit.aot())
    table: Any = document["feeds"]
    if not isinstance(table, AoT) or not all(isinstance(t, Table) for t in table):
        raise ConfigError([Problem("feeds", "expected an array of tables [[feeds]]")])
    return table


def _write(path: Path, document: tomlkit.TOMLDocument) -> Config:
    text = tomlkit.dumps(document)
    config = config_from_text(text, path)
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return config
