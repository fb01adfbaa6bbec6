"""Benchmark: parsing the poll bench's feeds, newswatch's `parse_feed` beside feedparser.

    .venv/bin/python bench/parse.py [--feeds 1000] [--repeat 3]

The feeds are bench/poll.py's: bench/pollserver.py's entries (50 a feed, titles of about
80 characters, HTML descriptions of about 400), rendered by tests/feedserver.py's
`render_rss` with the arguments `FeedServer.set_feed` gives it, and the headers it
sends. Each is parsed, in this one process, by:

- `parse_feed`: newswatch's path (`crawler.feeds`), every entry new;
- `parse_feed` with 48 of the 50 entries known: the typical feed that changed, two new
  entries on top of the ones stored (the spider passes the known keys, see
  `crawler.spiders.feeds`);
- `feedparser.parse` with its defaults (HTML sanitiser and URI resolution on);
- `feedparser.parse(sanitize_html=False, resolve_relative_uris=False)`.

Printed: CPU milliseconds per feed for each (the best of `--repeat` rounds, so that
other processes on the machine count as little as they can) and the ratios to
`parse_feed`. Figures only: nothing asserts.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pollserver  # noqa: E402

from crawler.feeds import parse_feed  # noqa: E402
from tests.feedserver import RSS_CONTENT_TYPE, render_rss  # noqa: E402

BASE_URL = "http://127.0.0.1:8080"  # what the bench's server would be; only text here
HEADERS = {"content-type": RSS_CONTENT_TYPE}
KNOWN = pollserver.ENTRIES - pollserver.NEW_ENTRIES


def render(feed: int, state: str) -> bytes:
    """Return feed `feed` in `state` as `FeedServer.set_feed` renders it for the bench."""
    path = pollserver.feed_path(feed)
    entries = pollserver.feed_entries(BASE_URL, feed, state)
    # FeedServer.set_feed(path, entries, title=f"Feed {n}", ttl=None), kind "rss".
    return render_rss(entries, f"Feed {feed}", f"{BASE_URL}/", None, self_url=BASE_URL + path)


def known_keys(feed: int) -> frozenset[str]:
    """Return the keys stored after the "base" poll: the "typical" feed repeats 48."""
    body = render(feed, "base")
    url = BASE_URL + pollserver.feed_path(feed)
    return frozenset(e.key for e in parse_feed(body, HEADERS, url).entries)


def best_cpu_ms(run: Callable[[], None], feeds: int, repeat: int) -> float:
    """Return the best CPU time of `repeat` runs of `run`, in milliseconds per feed."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1000 / feeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    urls = [BASE_URL + pollserver.feed_path(n) for n in range(args.feeds)]
    bodies = [render(n, "base") for n in range(args.feeds)]
    # The feeds that change in the "typical" state (one in ten): as many of them.
    changed = [n * pollserver.CHANGED_EVERY for n in range(args.feeds)]
    changed_urls = [BASE_URL + pollserver.feed_path(n) for n in changed]
    typical = [render(n, "typical") for n in changed]
    known = [known_keys(n) for n in changed]
    size = sum(map(len, bodies)) / len(bodies)
    print(f"{args.feeds} feeds, {pollserver.ENTRIES} entries each, {size / 1024:.0f} KiB a feed")

    def ours() -> None:
        for body, url in zip(bodies, urls, strict=True):
            parse_feed(body, HEADERS, url)

    def ours_known() -> None:
        for body, url, keys in zip(typical, changed_urls, known, strict=True):
            parse_feed(body, HEADERS, url, keys)

    def plain() -> None:
        for body in bodies:
            feedparser.parse(io.BytesIO(body), response_headers=HEADERS)

    def bare() -> None:
        for body in bodies:
            feedparser.parse(
                io.BytesIO(body),
                response_headers=HEADERS,
                sanitize_html=False,
                resolve_relative_uris=False,
            )

    contenders = {
        "parse_feed, all entries new": ours,
        f"parse_feed, {KNOWN} of {pollserver.ENTRIES} known": ours_known,
        "feedparser.parse, defaults": plain,
        "feedparser.parse, no sanitiser, no URI resolution": bare,
    }
    figures = {name: best_cpu_ms(run, args.feeds, args.repeat) for name, run in contenders.items()}
    reference = figures["parse_feed, all entries new"]
    width = max(map(len, figures))
    print(f"{'':{width}}  CPU ms/feed  ratio to parse_feed (all new)")
    for name, ms in figures.items():
        print(f"{name:{width}}  {ms:11.2f}  {ms / reference:5.1f}x")


if __name__ == "__main__":
    main()
