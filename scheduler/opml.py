"""OPML in and out: the feed-list format every reader imports and exports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

import listparser

from scheduler.config import ConfigError, FeedConfig, Problem
from scheduler.config_edit import NewFeed


def read_opml(data: bytes, source: str) -> list[NewFeed]:
    """Return the feeds an OPML document lists, with their titles; nested folders too."""
    # Bytes, never a string: listparser fetches strings that look like URLs.
    parsed = listparser.parse(data)
    if not parsed.get("version") and not parsed.feeds:
        reason = " ".join(str(parsed.get("bozo_exception") or "").split())
        message = f"not an OPML document{f' ({reason})' if reason else ''}"
        raise ConfigError([Problem("", message, file=source)])
    feeds: list[NewFeed] = []
    for feed in parsed.feeds:
        url = str(feed.url).strip()
        if url.startswith(("http://", "https://")):
            feeds.append(NewFeed(url=url, title=str(feed.title or "")))
    return feeds


def write_opml(feeds: Sequence[FeedConfig], title: str = "newswatch feeds") -> bytes:
    """Return an OPML 2.0 document listing the feeds."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(root, "body")
    for feed in feeds:
        ET.SubElement(body, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
