"""Write export rows as an Atom feed (RFC 4287), one entry per article, streaming.

A per-topic Atom file is a feed any reader can subscribe to. Entries:
- `id` is the article's canonical URL, so a reader recognises a story it has seen
  (an update arrives with the same id and a newer `updated`, as RFC 4287 4.1.2 means);
- `link` is the article's URL, `published` and `updated` its times, `author` its
  authors, `category` its topics, `summary` and `content` (plain text) its summary and text.
XML 1.0 cannot hold most control characters at all (https://www.w3.org/TR/xml/#charsets),
so they are dropped from Atom text; every other format keeps them.
"""

from __future__ import annotations

import re
import uuid
from contextlib import ExitStack
from datetime import datetime
from typing import IO

from lxml import etree
from lxml.builder import ElementMaker

from storage.export import format_time
from storage.records import ExportRow

ATOM_NS = "http://www.w3.org/2005/Atom"
E = ElementMaker(namespace=ATOM_NS, nsmap={None: ATOM_NS})
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str) -> str:
    """Return `value` without the characters XML 1.0 forbids."""
    return NOT_XML.sub("", value)


def feed_id(name: str) -> str:
    """Return a stable URN for the feed called `name` (RFC 4122 name-based UUID)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"newswatch:export:{name}").urn


class AtomWriter:
    """Write an Atom feed titled `title`: the header now, then one entry per row."""

    def __init__(self, out: IO[bytes], name: str, title: str, updated: datetime) -> None:
        self._stack = ExitStack()
        self._xf = self._stack.enter_context(etree.xmlfile(out, encoding="utf-8"))
        self._xf.write_declaration()
        self._stack.enter_context(self._xf.element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS}))
        for element in (
            E.id(feed_id(name)),
            E.title(xml_text(title)),
            E.updated(format_time(updated) or ""),
            E.author(E.name("newswatch")),  # RFC 4287 4.1.1: a feed needs an author
            E.generator("newswatch"),
        ):
            self._xf.write(element)

    def write(self, row: ExportRow) -> None:
        entry = E.entry(
            E.id(xml_text(row.canonical_url)),
            E.title(xml_text(row.title)),
            E.link(rel="alternate", href=xml_text(row.url)),
            E.updated(format_time(row.updated_at) or ""),
        )
        if row.published_at is not None:
            entry.append(E.published(format_time(row.published_at) or ""))
        entry.extend(E.author(E.name(xml_text(name))) for name in row.authors)
        entry.extend(E.category(term=xml_text(topic)) for topic in row.topics)
        if row.summary:
            entry.append(E.summary(xml_text(row.summary), type="text"))
        if row.text:
            entry.append(E.content(xml_text(row.text), type="text"))
        self._xf.write(entry)

    def close(self) -> None:
        self._stack.close()
